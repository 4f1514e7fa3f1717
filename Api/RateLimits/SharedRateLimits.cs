using Kiln.Shared;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Timeout;
using StackExchange.Redis;

namespace Kiln.Api.RateLimits;

/// <summary>
/// Decides each limited request for every Api replica at once, through <see cref="RedisTokenBucket"/>; while Redis
/// cannot answer (not connected, failing, or slower than <see cref="RateLimitOptions.RedisTimeout"/>) this replica
/// decides alone with <see cref="LocalRateLimits"/>. A Redis call is bounded and behind a circuit breaker
/// (<see cref="RateLimitExtensions"/>), as the latest-value reads are, so a hanging Redis costs a few requests 50 ms
/// each and then none. Going per-replica and coming back are each one log line, and the health report says Degraded
/// meanwhile: requests are still served, only less strictly limited.
/// </summary>
internal sealed class SharedRateLimits(
    IConnectionMultiplexer redis, LocalRateLimits local, ResiliencePipelineProvider<string> pipelines, ILogger<SharedRateLimits> logger)
    : IHealthCheck
{
    private readonly ResiliencePipeline _redisCalls = pipelines.GetPipeline(RateLimitExtensions.RedisCalls);
    private int _perReplica;
    private string _reason = "";
    private string _lastFailure = "no failure recorded";

    /// <summary>Whether this replica decides alone right now.</summary>
    public bool PerReplica => Volatile.Read(ref _perReplica) == 1;

    public async ValueTask<RateLimitDecision> AcquireAsync(RateLimitBucket bucket, CancellationToken cancellationToken)
    {
        // While Redis is down a command would wait in the multiplexer's backlog (5 s) before failing.
        if (!redis.IsConnected)
        {
            EnterPerReplica("Redis is not connected");
            return local.Acquire(bucket);
        }

        try
        {
            var reply = await _redisCalls.ExecuteAsync(static async (call, token) =>
                await call.redis.GetDatabase().ScriptEvaluateAsync(RedisTokenBucket.Script,
                    [Topology.Cache.RateLimitKey(call.bucket.Policy.Name, call.bucket.Subject)], RedisTokenBucket.Arguments(call.bucket.Policy))
                    .WaitAsync(token),
                (redis, bucket), cancellationToken);
            LeavePerReplica();
            return RedisTokenBucket.Decision(bucket.Policy, reply);
        }
        catch (BrokenCircuitException)
        {
            EnterPerReplica($"Redis failed too often just now ({_lastFailure})");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or TimeoutRejectedException)
        {
            // One slow or failed call is decided here alone; only the breaker opening means Redis is away.
            _lastFailure = ex.Message;
            logger.LogDebug("A rate-limit decision fell back to this replica ({Reason})", ex.Message);
        }

        return local.Acquire(bucket);
    }

    /// <summary>Degraded while this replica decides alone; a probe through the same bounded pipeline notices Redis is back.</summary>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!redis.IsConnected)
        {
            EnterPerReplica("Redis is not connected");
        }
        else if (PerReplica)
        {
            try
            {
                await _redisCalls.ExecuteAsync(static async (multiplexer, token) => await multiplexer.GetDatabase().PingAsync().WaitAsync(token),
                    redis, cancellationToken);
                LeavePerReplica();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or TimeoutRejectedException or BrokenCircuitException)
            {
                // still away
            }
        }

        return PerReplica
            ? HealthCheckResult.Degraded($"rate limits are kept by each replica alone ({_reason}); requests are served, each replica allowing the full limits")
            : HealthCheckResult.Healthy("rate limits are shared by every replica through Redis");
    }

    private void EnterPerReplica(string reason)
    {
        if (Interlocked.Exchange(ref _perReplica, 1) == 0)
        {
            _reason = reason;
            logger.LogWarning("Rate limits are kept by this replica alone: {Reason}. Each replica allows the full limits until Redis answers again", reason);
        }
    }

    private void LeavePerReplica()
    {
        if (Interlocked.Exchange(ref _perReplica, 0) == 1)
        {
            logger.LogWarning("Rate limits are shared by every replica through Redis again");
        }
    }
}
