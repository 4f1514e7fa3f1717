using System.Text.Json;
using System.Threading.Channels;
using Kiln.Shared;
using Kiln.Shared.Readings;
using Kiln.Worker.Ingestion;
using StackExchange.Redis;

namespace Kiln.Tests.Redis;

public class LatestValueWriterTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Only_a_newer_timestamp_replaces_the_latest_value_whatever_the_arrival_order()
    {
        await using var cache = await redis.ConnectAsync();
        var writer = new LatestValueWriter(cache);
        var sensor = NewSensor();

        Assert.Equal(1, await writer.WriteAsync([new(sensor, T0.AddSeconds(10), 10.5)], CancellationToken.None));
        // A late redelivery of an older reading (nothing changes, as the count says), and in one batch an older and a newer one.
        Assert.Equal(0, await writer.WriteAsync([new(sensor, T0.AddSeconds(5), 5.0)], CancellationToken.None));
        Assert.Equal(1, await writer.WriteAsync([new(sensor, T0.AddSeconds(20), 20.25), new(sensor, T0.AddSeconds(15), 15.0)], CancellationToken.None));

        var latest = await cache.GetDatabase().HashGetAsync(Topology.Cache.LatestKey(sensor), ["ts", "value"]);
        Assert.Equal(UnixMicroseconds.From(T0.AddSeconds(20)), (long)latest[0]);
        Assert.Equal("20.25", (string?)latest[1]);
    }

    [Fact]
    public async Task Each_new_latest_value_is_published_on_the_live_channel_and_a_stale_one_is_not()
    {
        await using var cache = await redis.ConnectAsync();
        var writer = new LatestValueWriter(cache);
        var sensor = NewSensor();
        var live = Channel.CreateUnbounded<ReadingMessage>();
        var queue = await cache.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Topology.Cache.LiveChannel));
        queue.OnMessage(message =>
        {
            var reading = JsonSerializer.Deserialize(message.Message.ToString(), ReadingMessageJsonContext.Default.ReadingMessage)!;
            if (reading.SensorId == sensor)
            {
                live.Writer.TryWrite(reading);
            }
        });

        await writer.WriteAsync([new(sensor, T0.AddSeconds(10), 1.0)], CancellationToken.None);
        await writer.WriteAsync([new(sensor, T0.AddSeconds(5), 2.0)], CancellationToken.None);
        await writer.WriteAsync([new(sensor, T0.AddSeconds(30), 3.0)], CancellationToken.None);

        Assert.Equal(new ReadingMessage(sensor, T0.AddSeconds(10), 1.0), await live.Reader.ReadAsync().AsTask().WaitAsync(Deadline));
        Assert.Equal(new ReadingMessage(sensor, T0.AddSeconds(30), 3.0), await live.Reader.ReadAsync().AsTask().WaitAsync(Deadline));
        await queue.UnsubscribeAsync();
        Assert.False(live.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_batch_of_more_sensors_than_one_call_takes_updates_every_one()
    {
        await using var cache = await redis.ConnectAsync();
        await AssertWritesManySensorsAsync(cache);
    }

    /// <summary>On a cluster a script may only touch keys of one hash slot: the writer groups its calls by slot.</summary>
    [Fact]
    public async Task On_a_redis_cluster_the_sensors_of_a_batch_are_written_slot_by_slot()
    {
        var configFile = Path.Combine(Path.GetTempPath(), $"kiln-test-cluster-{Guid.NewGuid():N}.conf");
        await using var server = await RedisServerFixture.StartNewAsync("--cluster-enabled", "yes", "--cluster-config-file", configFile, "--cluster-announce-ip", "127.0.0.1");
        try
        {
            await using (var setup = await server.ConnectAsync(o => o.AllowAdmin = true))
            {
                var node = setup.GetServer("127.0.0.1", server.Port);
                await node.ExecuteAsync("CLUSTER", "ADDSLOTSRANGE", 0, 16383); // one node owning every slot
                await Eventually.TrueAsync(async () => ((string)(await node.ExecuteAsync("CLUSTER", "INFO"))!).Contains("cluster_state:ok", StringComparison.Ordinal),
                    Deadline, "the one-node cluster to be ready");
            }

            await using var cache = await server.ConnectAsync();
            Assert.Contains(cache.GetServers(), node => node.ServerType == ServerType.Cluster);
            await AssertWritesManySensorsAsync(cache);
        }
        finally
        {
            File.Delete(configFile);
        }
    }

    private static async Task AssertWritesManySensorsAsync(ConnectionMultiplexer cache)
    {
        var writer = new LatestValueWriter(cache);
        var prefix = NewSensor();
        List<ReadingMessage> readings = [.. Enumerable.Range(0, (2 * LatestValueWriter.SensorsPerCall) + 7)
            .Select(i => new ReadingMessage($"{prefix}.{i}", T0.AddSeconds(i), i))];

        Assert.Equal(readings.Count, await writer.WriteAsync(readings, CancellationToken.None));
        Assert.Equal(0, await writer.WriteAsync(readings, CancellationToken.None)); // the same again changes nothing

        var database = cache.GetDatabase();
        foreach (var reading in readings)
        {
            Assert.Equal(reading.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                (string?)await database.HashGetAsync(Topology.Cache.LatestKey(reading.SensorId), "value"));
        }
    }

    private static string NewSensor() => $"test.latest.{Guid.NewGuid():N}";
}
