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
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.AddExceptionHandler<DependencyUnavailableExceptionHandler>();
        return services;
    }

    /// <summary>Turns a malformed body (bad JSON, wrong types, too large) into a 4xx that says what was wrong.</summary>
    private sealed class BadRequestExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is not BadHttpRequestException badRequest)
            {
                return false;
            }

            httpContext.Response.StatusCode = badRequest.StatusCode;
            return await problemDetails.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                Exception = exception,
                ProblemDetails = new ProblemDetails
                {
                    Status = badRequest.StatusCode,
                    Title = "The request could not be read.",
                    Detail = badRequest.InnerException is { } inner ? $"{badRequest.Message} {inner.Message}" : badRequest.Message,
                },
            });
        }
    }

    /// <summary>
    /// The database or cache being down is not the client's fault nor a bug: 503 with Retry-After, so
    /// clients and the resilience pipeline try again, instead of a 500.
    /// </summary>
    private sealed class DependencyUnavailableExceptionHandler(IProblemDetailsService problemDetails, ILogger<DependencyUnavailableExceptionHandler> logger)
        : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            var dependency = exception switch
            {
                Npgsql.NpgsqlException { IsTransient: true } => "the database",
                Kiln.ServiceDefaults.Redis.RedisConnectionException => "the cache",
                TimeoutException => "a dependency",
                _ => null,
            };
            if (dependency is null)
            {
                return false;
            }

            logger.LogWarning("{Dependency} is unavailable: {Reason}", dependency, exception.Message);
            httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            httpContext.Response.Headers.RetryAfter = "5";
            return await problemDetails.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                Exception = exception,
                ProblemDetails = new ProblemDetails
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = "A dependency is unavailable.",
                    Detail = $"{char.ToUpperInvariant(dependency[0])}{dependency[1..]} could not be reached. Retry after 5 s.",
                },
            });
        }
    }
}
