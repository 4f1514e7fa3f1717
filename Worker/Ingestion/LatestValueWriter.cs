using System.Globalization;
using System.Text.Json;
using Kiln.Shared;
using Kiln.Shared.Readings;
using StackExchange.Redis;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Keeps each sensor's latest reading in Redis and announces it on the live channel. The compare and
/// the write happen in one script, so a late redelivery of an older reading never overwrites a newer
/// one, whichever replica handles it.
/// </summary>
internal sealed class LatestValueWriter(IConnectionMultiplexer cache)
{
    // Parameters are bound by name from the object passed in; @key is a RedisKey, so it travels in KEYS
    // (as a cluster needs), the rest in ARGV.
    private static readonly LuaScript NewerWins = LuaScript.Prepare("""
        local current = redis.call('HGET', @key, 'ts')
        if current and tonumber(current) >= tonumber(@ts) then
          return 0
        end
        redis.call('HSET', @key, 'ts', @ts, 'value', @value)
        redis.call('PUBLISH', @channel, @message)
        return 1
        """);

    /// <returns>How many sensors' latest values changed (the others already held the same or a newer reading).</returns>
    public async Task<int> WriteAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        var newest = readings
            .GroupBy(r => r.SensorId, StringComparer.Ordinal)
            .Select(g => g.MaxBy(r => r.Timestamp)!);

        // The multiplexer pipelines concurrent commands on its one connection: one round trip for the lot.
        var database = cache.GetDatabase();
        var results = await Task.WhenAll(newest.Select(reading => database.ScriptEvaluateAsync(NewerWins, new
        {
            key = (RedisKey)Topology.Cache.LatestKey(reading.SensorId),
            ts = UnixMicroseconds.From(reading.Timestamp),
            value = reading.Value.ToString("R", CultureInfo.InvariantCulture),
            channel = Topology.Cache.LiveChannel,
            message = JsonSerializer.Serialize(reading, ReadingMessageJsonContext.Default.ReadingMessage),
        }))).WaitAsync(cancellationToken);
        return results.Count(result => (int)result == 1);
    }
}
