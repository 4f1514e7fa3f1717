using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kiln.Api.Extensions;

/// <summary>
/// One problem-details shape for every error (RFC 9457), each with the trace id to look it up by, and a
/// detail in the client's terms even where the framework answers on its own (404, 405, 413, 415).
/// </summary>
internal static class ProblemDetailsExtensions
{
    public static IServiceCollection AddKilnProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            problem.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
            var status = problem.Status ?? context.HttpContext.Response.StatusCode;
            if (problem.Detail is null && UnreadableRequest.Detail(status, context.HttpContext) is { } detail)
            {
                problem.Title = UnreadableRequest.Title(status) ?? problem.Title;
                problem.Detail = detail;
            }
        });
        // After the default writer, which declines when the Accept header names no JSON type.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProblemDetailsWriter, ProblemJsonFallbackWriter>());
        services.AddExceptionHandler<KnownFailureHandler>();
        return services;
    }

    /// <summary>What a failure means for the client, or null for a bug (which stays a logged 500).</summary>
    internal sealed record Failure(int Status, string Title, string Detail, int? RetryAfterSeconds = null);

    internal static Failure? Describe(Exception exception, HttpContext context) => exception switch
    {
        // A body the framework could not read: not JSON, the wrong shape, too large. Say what was wrong.
        BadHttpRequestException badRequest => UnreadableRequest.Describe(badRequest, context),

        // A dependency being down is neither the client's fault nor a bug: 503, so clients and the
        // resilience pipeline try again.
        Npgsql.NpgsqlException { IsTransient: true } => Unavailable("The database"),
        // Before TimeoutException: RedisTimeoutException is one, and the cache is the dependency to name.
        StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException => Unavailable("The cache"),
        TimeoutException => Unavailable("A dependency"),
        _ => null,
    };

    private static Failure Unavailable(string dependency) =>
        new(StatusCodes.Status503ServiceUnavailable, "A dependency is unavailable.", $"{dependency} could not be reached. Retry after 5 s.", 5);

    private sealed class KnownFailureHandler(IProblemDetailsService problemDetails, ILogger<KnownFailureHandler> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            if (Describe(exception, httpContext) is not { } failure)
            {
                return false;
            }

            if (failure.Status >= 500)
            {
                logger.LogWarning("{Title} {Detail} ({Reason})", failure.Title, failure.Detail, exception.Message);
            }

            httpContext.Response.StatusCode = failure.Status;
            if (failure.RetryAfterSeconds is { } seconds)
            {
                httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            return await problemDetails.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                Exception = exception,
                ProblemDetails = new ProblemDetails { Status = failure.Status, Title = failure.Title, Detail = failure.Detail },
            });
        }
    }

    /// <summary>
    /// Problem details for a client whose Accept header names no JSON type (a browser's <c>text/html</c>): the
    /// default writer declines, and without this a status-code page would be plain text and an authentication
    /// failure a 500. An API's errors are problem details whatever was asked for.
    /// </summary>
    private sealed class ProblemJsonFallbackWriter(IOptions<ProblemDetailsOptions> problemOptions, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> jsonOptions) : IProblemDetailsWriter
    {
        public bool CanWrite(ProblemDetailsContext context) => true;

        public ValueTask WriteAsync(ProblemDetailsContext context)
        {
            var response = context.HttpContext.Response;
            var problem = context.ProblemDetails;
            problem.Status ??= response.StatusCode;
            problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
            problemOptions.Value.CustomizeProblemDetails?.Invoke(context);
            var typeInfo = jsonOptions.Value.SerializerOptions.GetTypeInfo(problem.GetType());
            return new ValueTask(response.WriteAsJsonAsync(problem, typeInfo, "application/problem+json", context.HttpContext.RequestAborted));
        }
    }
}
