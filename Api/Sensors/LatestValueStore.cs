using Kiln.Shared;
using Kiln.Shared.Readings;
using Npgsql;
using StackExchange.Redis;

namespace Kiln.Api.Sensors;

/// <summary>
/// The latest reading of a sensor: from Redis, where the Worker keeps it hot, falling back to
/// PostgreSQL when the cache has no entry or cannot be reached.
/// </summary>
internal sealed class LatestValueStore(IConnectionMultiplexer cache, NpgsqlDataSource dataSource, ILogger<LatestValueStore> logger)
{
    private static readonly RedisValue[] Fields = ["ts", "value"];

    public async Task<LatestReading?> FindAsync(string sensorId, CancellationToken cancellationToken)
    {
        // While Redis is down a command would wait out the multiplexer's backlog timeout (5 s) before
        // failing; PostgreSQL has the same answer now.
        if (cache.IsConnected && await FindInCacheAsync(sensorId, cancellationToken) is { } cached)
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
        try
        {
            var fields = await cache.GetDatabase().HashGetAsync(Topology.Cache.LatestKey(sensorId), Fields).WaitAsync(cancellationToken);
            if (fields is [{ IsNull: false } ts, { IsNull: false } value])
            {
                return new LatestReading(sensorId, UnixMicroseconds.ToTimestamp((long)ts), (double)value);
            }
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException or RedisServerException)
        {
            logger.LogWarning("Cache unavailable for latest value ({Reason}); reading PostgreSQL", ex.Message);
        }

        return null;
    }
}
