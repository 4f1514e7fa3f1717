using System.Globalization;
using System.Text.Json;
using Kiln.ServiceDefaults.Redis;
using Kiln.Shared;
using Kiln.Shared.Readings;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Keeps each sensor's latest reading in Redis and announces it on the live channel. The compare and
/// the write happen in one script, so a late redelivery of an older reading never overwrites a newer
/// one, whichever replica handles it.
/// </summary>
internal sealed class LatestValueWriter(RedisClient cache)
{
    private const string NewerWinsScript = """
        local current = redis.call('HGET', KEYS[1], 'ts')
        if current and tonumber(current) >= tonumber(ARGV[1]) then
          return 0
        end
        redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'value', ARGV[2])
        redis.call('PUBLISH', ARGV[3], ARGV[4])
        return 1
        """;

    public async Task WriteAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        var newest = readings
            .GroupBy(r => r.SensorId, StringComparer.Ordinal)
            .Select(g => g.MaxBy(r => r.Timestamp)!);

        // The client pipelines concurrent commands on its one connection: one round trip for the lot.
        await Task.WhenAll(newest.Select(reading => cache.EvalAsync(NewerWinsScript,
            [Topology.Cache.LatestKey(reading.SensorId)],
            [
                UnixMicroseconds(reading.Timestamp).ToString(CultureInfo.InvariantCulture),
                reading.Value.ToString("R", CultureInfo.InvariantCulture),
                Topology.Cache.LiveChannel,
                JsonSerializer.Serialize(reading, ReadingMessageJsonContext.Default.ReadingMessage),
            ],
            cancellationToken)));
    }

    public static long UnixMicroseconds(DateTimeOffset timestamp) => (timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
}
