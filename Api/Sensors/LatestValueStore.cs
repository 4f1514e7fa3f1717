using System.Globalization;
using Kiln.ServiceDefaults.Redis;
using Kiln.Shared;
using Npgsql;

namespace Kiln.Api.Sensors;

/// <summary>
/// The latest reading of a sensor: from Redis, where the Worker keeps it hot, falling back to
/// PostgreSQL when the cache has no entry or cannot be reached.
/// </summary>
internal sealed class LatestValueStore(RedisClient cache, NpgsqlDataSource dataSource, ILogger<LatestValueStore> logger)
{
    public async Task<LatestReading?> FindAsync(string sensorId, CancellationToken cancellationToken)
    {
        try
        {
            var fields = await cache.HashGetAllAsync(Topology.Cache.LatestKey(sensorId), cancellationToken);
            if (fields.TryGetValue("ts", out var ts) && fields.TryGetValue("value", out var value))
            {
                return new LatestReading(sensorId,
                    DateTimeOffset.UnixEpoch.AddTicks(long.Parse(ts, CultureInfo.InvariantCulture) * 10),
                    double.Parse(value, CultureInfo.InvariantCulture));
            }
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisServerException or TimeoutException)
        {
            logger.LogWarning("Cache unavailable for latest value ({Reason}); reading PostgreSQL", ex.Message);
        }

        await using var command = dataSource.CreateCommand("SELECT ts, value FROM readings WHERE sensor_id = $1 ORDER BY ts DESC LIMIT 1");
        command.Parameters.AddWithValue(sensorId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new LatestReading(sensorId, reader.GetFieldValue<DateTimeOffset>(0), reader.GetDouble(1))
            : null;
    }
}
