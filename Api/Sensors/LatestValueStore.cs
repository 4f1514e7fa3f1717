using Kiln.Shared;
using Kiln.Shared.Readings;
using Npgsql;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Timeout;
using StackExchange.Redis;

namespace Kiln.Api.Sensors;

/// <summary>
/// The latest reading of a sensor: from Redis, where the Worker keeps it hot, falling back to
/// PostgreSQL when the cache has no entry or cannot be reached. A cache read is held to a short
/// timeout behind a circuit breaker (<see cref="LatestValueStoreExtensions"/>), so a Redis that hangs
/// costs a few requests that bound each, not a timeout per request.
/// </summary>
internal sealed class LatestValueStore(IConnectionMultiplexer cache, NpgsqlDataSource dataSource, ResiliencePipelineProvider<string> pipelines,
    ILogger<LatestValueStore> logger)
{
    private static readonly RedisValue[] Fields = ["ts", "value"];
    private readonly ResiliencePipeline _cacheReads = pipelines.GetPipeline(LatestValueStoreExtensions.CacheReads);

    public async Task<LatestReading?> FindAsync(string sensorId, CancellationToken cancellationToken)
    {
        if (await FindInCacheAsync(sensorId, cancellationToken) is { } cached)
        {
            return cached;
        }

        await using var command = dataSource.CreateCommand("SELECT ts, value FROM readings WHERE sensor_id = $1 ORDER BY ts DESC LIMIT 1");
        command.Parameters.AddWithValue(sensorId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new LatestReading(sensorId, reader.GetFieldValue<DateTimeOffset>(0), reader.GetDouble(1))
            : null;
    }

    private async Task<LatestReading?> FindInCacheAsync(string sensorId, CancellationToken cancellationToken)
    {
        // While Redis is down a command would wait out the multiplexer's backlog timeout (5 s) before
        // failing; PostgreSQL has the same answer now.
        if (!cache.IsConnected)
        {
            return null;
        }

        try
        {
            var fields = await _cacheReads.ExecuteAsync(static async (read, token) =>
                await read.cache.GetDatabase().HashGetAsync(Topology.Cache.LatestKey(read.sensorId), Fields).WaitAsync(token),
                (cache, sensorId), cancellationToken);
            if (fields is [{ IsNull: false } ts, { IsNull: false } value])
            {
                return new LatestReading(sensorId, UnixMicroseconds.ToTimestamp((long)ts), (double)value);
            }
        }
        catch (BrokenCircuitException)
        {
            // The breaker is open: the cache failed just now, and is tried again after the break.
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or TimeoutRejectedException)
        {
            // The breaker logs when it opens; a failure on its own is worth no more than this.
            logger.LogDebug("Cache unavailable for latest value ({Reason}); reading PostgreSQL", ex.Message);
        }

        return null;
    }
}

internal static class LatestValueStoreExtensions
{
    public const string CacheReads = "latest-value-cache-reads";

    /// <summary>
    /// A cache read waits this long at most. Redis answers in well under a millisecond; the rest of a 100 ms budget for
    /// <c>GET …/latest</c> is left to the PostgreSQL fallback.
    /// </summary>
    internal static readonly TimeSpan AttemptTimeout = TimeSpan.FromMilliseconds(50);

    /// <summary>When half the cache reads of the last two seconds failed (three at least), the next five seconds go straight to PostgreSQL.</summary>
    internal static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(5);

    public static IServiceCollection AddLatestValueStore(this IServiceCollection services)
    {
        services.AddResiliencePipeline(CacheReads, (pipeline, context) =>
        {
            var logger = context.ServiceProvider.GetRequiredService<ILogger<LatestValueStore>>();
            pipeline
                .AddCircuitBreaker(new CircuitBreakerStrategyOptions
                {
                    ShouldHandle = new PredicateBuilder().Handle<RedisException>().Handle<TimeoutException>().Handle<TimeoutRejectedException>(),
                    FailureRatio = 0.5,
                    MinimumThroughput = 3,
                    SamplingDuration = TimeSpan.FromSeconds(2),
                    BreakDuration = BreakDuration,
                    OnOpened = args =>
                    {
                        logger.LogWarning("Cache reads are failing ({Reason}); latest values come from PostgreSQL for {Seconds:0} s, then Redis is tried again",
                            args.Outcome.Exception?.Message, args.BreakDuration.TotalSeconds);
                        return default;
                    },
                    OnClosed = _ =>
                    {
                        logger.LogInformation("Cache reads work again; latest values come from Redis");
                        return default;
                    },
                })
                .AddTimeout(AttemptTimeout);
        });
        return services.AddSingleton<LatestValueStore>();
    }
}
