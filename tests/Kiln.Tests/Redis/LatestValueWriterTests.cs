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

    private static string NewSensor() => $"test.latest.{Guid.NewGuid():N}";
}
