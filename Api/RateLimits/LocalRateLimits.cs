using System.Threading.RateLimiting;

namespace Kiln.Api.RateLimits;

/// <summary>
/// The same buckets kept by this replica alone, with the framework's token-bucket limiters: what decides while Redis
/// cannot. Each replica then allows the full limits on its own, so N replicas allow up to N times as much for as long
/// as Redis is away; refusing everything instead would turn a cache outage into an ingest outage.
/// </summary>
internal sealed class LocalRateLimits : IDisposable
{
    private readonly Dictionary<string, PartitionedRateLimiter<string>> _byPolicy;

    public LocalRateLimits(RateLimitOptions options)
    {
        _byPolicy = new[] { options.Ingest, options.Anonymous }.ToDictionary(p => p.Name, Create, StringComparer.Ordinal);
    }

    public RateLimitDecision Acquire(RateLimitBucket bucket)
    {
        var policy = bucket.Policy;
        var limiter = _byPolicy[policy.Name];
        using var lease = limiter.AttemptAcquire(bucket.Subject);
        if (!lease.IsAcquired)
        {
            var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : policy.Interval;
            return new RateLimitDecision(policy, Allowed: false, Remaining: 0, ResetAfter: policy.Interval * policy.Burst, retryAfter, Shared: false);
        }

        var remaining = limiter.GetStatistics(bucket.Subject)?.CurrentAvailablePermits ?? 0;
        return new RateLimitDecision(policy, Allowed: true, remaining, policy.Interval * (policy.Burst - remaining), TimeSpan.Zero, Shared: false);
    }

    /// <summary>One limiter per subject, made on first use; the framework disposes of those left idle.</summary>
    private static PartitionedRateLimiter<string> Create(RateLimitPolicy policy) =>
        PartitionedRateLimiter.Create<string, string>(subject => RateLimitPartition.GetTokenBucketLimiter(subject, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = policy.Burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = policy.Interval,
            QueueLimit = 0, // a request over the limit is refused at once, never held
            AutoReplenishment = true,
        }));

    public void Dispose()
    {
        foreach (var limiter in _byPolicy.Values)
        {
            limiter.Dispose();
        }
    }
}
