using System.Security.Claims;

namespace Kiln.Api.RateLimits;

/// <summary>
/// After authentication (so a request with a valid key counts against its key) and before authorization: takes a
/// permit from the request's bucket, tells the client where it stands, and answers 429 with Retry-After when the
/// bucket is empty.
/// </summary>
internal sealed class RateLimitMiddleware(RequestDelegate next, SharedRateLimits limits, RateLimitOptions options, IProblemDetailsService problems)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var bucket = RateLimitBucket.For(
            context.GetEndpoint()?.Metadata.GetMetadata<RateLimitMetadata>()?.Policy,
            context.User.FindFirstValue(ClaimTypes.NameIdentifier),
            context.Connection.RemoteIpAddress,
            context.Request.Path,
            options);
        if (bucket is null)
        {
            await next(context);
            return;
        }

        var decision = await limits.AcquireAsync(bucket, context.RequestAborted);
        foreach (var (name, value) in decision.Headers)
        {
            context.Response.Headers[name] = value;
        }

        if (decision.Allowed)
        {
            await next(context);
            return;
        }

        var policy = decision.Policy;
        var whose = policy.Name == RateLimitOptions.IngestPolicy ? "this API key" : "requests without a valid API key from this address";
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests.",
                Detail = $"The limit for {whose} is {policy.PermitsPerSecond} requests/s in bursts of up to {policy.Burst}. " +
                    $"Retry after {context.Response.Headers.RetryAfter} s.",
            },
        });
    }
}
