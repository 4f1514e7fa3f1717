using StackExchange.Redis;

namespace Kiln.Api.RateLimits;

/// <summary>
/// A token bucket in one Redis key, decided by one script so that every replica's request is counted exactly once,
/// whatever the others do at the same moment. The script keeps the bucket as GCRA does: not a token count and a
/// refill time, but the one instant (its "theoretical arrival time") at which the bucket will be full again; a
/// request may go when that instant is at most a burst's worth of intervals ahead of now, and moves it one interval
/// on. The time is Redis's own (<c>TIME</c>), so replicas with drifting clocks still share one bucket, and the key
/// expires when the bucket is full again, so an idle client leaves nothing behind.
/// </summary>
internal static class RedisTokenBucket
{
    /// <summary>
    /// KEYS[1]: the bucket. ARGV[1]: microseconds per permit; ARGV[2]: the burst. Returns
    /// {allowed (1/0), remaining, retry after (µs), until full (µs)}.
    /// </summary>
    public const string Script = """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local interval = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local horizon = interval * burst
        local full_at = tonumber(redis.call('GET', KEYS[1])) or now
        if full_at < now then
            full_at = now
        end
        local next_full_at = full_at + interval
        if next_full_at - now > horizon then
            return {0, 0, math.ceil(next_full_at - now - horizon), math.ceil(full_at - now)}
        end
        redis.call('SET', KEYS[1], string.format('%.0f', next_full_at), 'PX', math.ceil((next_full_at - now) / 1000))
        return {1, math.floor((horizon - (next_full_at - now)) / interval), 0, math.ceil(next_full_at - now)}
        """;

    public static RedisValue[] Arguments(RateLimitPolicy policy) =>
        [policy.Interval.Ticks / (double)TimeSpan.TicksPerMicrosecond, policy.Burst];

    /// <summary>The script's reply as a decision.</summary>
    /// <exception cref="RedisException">The reply is not the script's (a server that ran something else).</exception>
    public static RateLimitDecision Decision(RateLimitPolicy policy, RedisResult reply)
    {
        if (reply.Resp2Type != ResultType.Array || (RedisResult[]?)reply is not [var allowed, var remaining, var retryAfter, var untilFull])
        {
            throw new RedisException($"The rate-limit script answered {reply.Resp2Type} instead of its four numbers.");
        }

        return new RateLimitDecision(policy, (long)allowed == 1, (long)remaining,
            TimeSpan.FromMicroseconds((long)untilFull), TimeSpan.FromMicroseconds((long)retryAfter), Shared: true);
    }
}
