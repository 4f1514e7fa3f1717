using System.Net;
using Polly;
using Polly.Timeout;

namespace Kiln.ServiceDefaults.Resilience;

/// <summary>What the standard pipeline treats as worth another try: 5xx, 408, 429 and transport failures.</summary>
internal static class TransientHttpFailure
{
    public static bool Is(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Exception: HttpRequestException or TimeoutRejectedException } => true,
        { Result: { } response } => (int)response.StatusCode >= 500
            || response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests,
        _ => false,
    };

    /// <summary>The server's <c>Retry-After</c>, when it sent one; null lets the backoff decide.</summary>
    public static TimeSpan? RetryAfter(Outcome<HttpResponseMessage> outcome)
    {
        var retryAfter = outcome.Result?.Headers.RetryAfter;
        if (retryAfter?.Delta is { } delta)
        {
            return delta;
        }

        if (retryAfter?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }
}
