using System.Globalization;

namespace Kiln.Api.RateLimits;

/// <summary>
/// Whether a request may go on, and what its client is told: the <c>RateLimit-Limit</c>, <c>-Remaining</c>, <c>-Reset</c>
/// and <c>-Policy</c> fields of draft-ietf-httpapi-ratelimit-headers-07 (the form clients and gateways understand today),
/// and <c>Retry-After</c> on a refusal.
/// </summary>
/// <param name="Remaining">Requests the bucket still holds after this one.</param>
/// <param name="ResetAfter">Until the bucket is full again.</param>
/// <param name="RetryAfter">Until a refused request would be allowed; zero when allowed.</param>
/// <param name="Shared">Decided through Redis for every replica, rather than by this replica alone.</param>
internal sealed record RateLimitDecision(RateLimitPolicy Policy, bool Allowed, long Remaining, TimeSpan ResetAfter, TimeSpan RetryAfter, bool Shared)
{
    public IReadOnlyList<KeyValuePair<string, string>> Headers
    {
        get
        {
            // The bucket's size is the most a client can send at once; a full bucket refills in Burst / PermitsPerSecond.
            List<KeyValuePair<string, string>> headers =
            [
                new("RateLimit-Limit", Text(Policy.Burst)),
                new("RateLimit-Remaining", Text(Math.Max(0, Remaining))),
                new("RateLimit-Reset", Text(Seconds(ResetAfter, minimum: 0))),
                new("RateLimit-Policy", string.Create(CultureInfo.InvariantCulture,
                    $"{Policy.PermitsPerSecond};w=1;burst={Policy.Burst};comment=\"{Policy.Name}\"")),
            ];
            if (!Allowed)
            {
                headers.Add(new("Retry-After", Text(Seconds(RetryAfter, minimum: 1))));
            }

            return headers;
        }
    }

    /// <summary>Whole seconds, rounded up: a client that waits that long is never early.</summary>
    private static long Seconds(TimeSpan duration, long minimum) =>
        Math.Max(minimum, (long)Math.Ceiling(duration.TotalSeconds));

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
