using System.Globalization;
using System.Text.Json;
using Kiln.Shared;
using Kiln.Shared.Readings;
using StackExchange.Redis;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Keeps each sensor's latest reading in Redis and announces it on the live channel. The compare and
/// the write happen in one script, so a late redelivery of an older reading never overwrites a newer
/// one, whichever replica handles it. One script call covers many sensors (a batch of 5,000 readings
/// from 2,000 sensors is a handful of calls, not 2,000); on a Redis cluster a call covers only sensors
/// whose keys share a hash slot, as a script's keys must.
/// </summary>
internal sealed class LatestValueWriter(IConnectionMultiplexer cache)
{
    /// <summary>At most this many sensors per script call, so that no call holds Redis for long (~1 ms each).</summary>
    internal const int SensorsPerCall = 500;

    // KEYS: the sensors' latest-value hashes. ARGV[1]: the live channel; then per sensor i (from 1), ARGV[3i-1] its
    // timestamp in Unix microseconds, ARGV[3i] its value, ARGV[3i+1] the live message. Returns how many changed.
    private const string NewerWins = """
        local changed = 0
        for i, key in ipairs(KEYS) do
          local ts = ARGV[3 * i - 1]
          local current = redis.call('HGET', key, 'ts')
          if not current or tonumber(current) < tonumber(ts) then
            redis.call('HSET', key, 'ts', ts, 'value', ARGV[3 * i])
            redis.call('PUBLISH', ARGV[1], ARGV[3 * i + 1])
            changed = changed + 1
          end
        end
        return changed
        """;

    /// <returns>How many sensors' latest values changed (the others already held the same or a newer reading).</returns>
    public async Task<int> WriteAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        var newest = readings
            .GroupBy(r => r.SensorId, StringComparer.Ordinal)
            .Select(g => g.MaxBy(r => r.Timestamp)!);
        var calls = IsCluster
            ? newest.GroupBy(r => cache.HashSlot(Topology.Cache.LatestKey(r.SensorId))).SelectMany(slot => slot.Chunk(SensorsPerCall))
            : newest.Chunk(SensorsPerCall);

        // The multiplexer pipelines concurrent calls on its one connection: one round trip for the lot.
        var database = cache.GetDatabase();
        var changed = await Task.WhenAll(calls.Select(sensors => database.ScriptEvaluateAsync(NewerWins, Keys(sensors), Arguments(sensors))))
            .WaitAsync(cancellationToken);
        return changed.Sum(result => (int)result);
    }

    private bool IsCluster => cache.GetServers().Any(server => server.ServerType == ServerType.Cluster);

    private static RedisKey[] Keys(ReadingMessage[] sensors)
    {
        var keys = new RedisKey[sensors.Length];
        for (var i = 0; i < sensors.Length; i++)
        {
            keys[i] = Topology.Cache.LatestKey(sensors[i].SensorId);
        }

        return keys;
    }

    private static RedisValue[] Arguments(ReadingMessage[] sensors)
    {
        var arguments = new RedisValue[1 + (3 * sensors.Length)];
        arguments[0] = Topology.Cache.LiveChannel;
        for (var i = 0; i < sensors.Length; i++)
        {
            arguments[1 + (3 * i)] = UnixMicroseconds.From(sensors[i].Timestamp);
            arguments[2 + (3 * i)] = sensors[i].Value.ToString("R", CultureInfo.InvariantCulture);
            arguments[3 + (3 * i)] = JsonSerializer.SerializeToUtf8Bytes(sensors[i], ReadingMessageJsonContext.Default.ReadingMessage);
        }

        return arguments;
    }
}
