using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Kiln.Api.Extensions;

/// <summary>One problem-details shape for every error (RFC 9457), each with the trace id to look it up by.</summary>
internal static class ProblemDetailsExtensions
{
    public static IServiceCollection AddKilnProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
            context.ProblemDetails.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier);
        services.AddExceptionHandler<KnownFailureHandler>();
        return services;
    }

    /// <summary>What a failure means for the client, or null for a bug (which stays a logged 500).</summary>
    internal sealed record Failure(int Status, string Title, string Detail, int? RetryAfterSeconds = null);

    internal static Failure? Describe(Exception exception) => exception switch
    {
        // A malformed body: bad JSON, wrong types, too large. Say what was wrong.
        BadHttpRequestException badRequest => new Failure(badRequest.StatusCode, "The request could not be read.",
            badRequest.InnerException is { } inner ? $"{badRequest.Message} {inner.Message}" : badRequest.Message),

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
            if (Describe(exception) is not { } failure)
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
}
