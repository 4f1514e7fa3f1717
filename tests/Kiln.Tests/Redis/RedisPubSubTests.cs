using System.Threading.Channels;

namespace Kiln.Tests.Redis;

public class RedisPubSubTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Published_messages_reach_the_subscriber_in_order()
    {
        await using var client = redis.CreateClient();
        var channel = NewChannel();
        var received = Channel.CreateUnbounded<(string Channel, string Message)>();

        await using var subscription = await client.SubscribeAsync(channel, (c, m) => received.Writer.WriteAsync((c, m)).AsTask(), CancellationToken.None);

        Assert.Equal(1, await client.PublishAsync(channel, "first"));
        Assert.Equal(1, await client.PublishAsync(channel, "sécond"));
        Assert.Equal((channel, "first"), await NextAsync(received));
        Assert.Equal((channel, "sécond"), await NextAsync(received));
    }

    [Fact]
    public async Task Pattern_subscriptions_receive_with_the_concrete_channel()
    {
        await using var client = redis.CreateClient();
        var prefix = NewChannel();
        var received = Channel.CreateUnbounded<(string Channel, string Message)>();

        await using var subscription = await client.SubscribePatternAsync($"{prefix}:*", (c, m) => received.Writer.WriteAsync((c, m)).AsTask());

        await client.PublishAsync($"{prefix}:sensor-7", "21.5");
        Assert.Equal(($"{prefix}:sensor-7", "21.5"), await NextAsync(received));
    }

    [Fact]
    public async Task A_failing_handler_does_not_stop_later_messages()
    {
        await using var client = redis.CreateClient();
        var channel = NewChannel();
        var received = Channel.CreateUnbounded<string>();

        await using var subscription = await client.SubscribeAsync(channel, async (_, message) =>
        {
            await received.Writer.WriteAsync(message);
            if (message == "poison")
            {
                throw new InvalidOperationException("handler bug");
            }
        });

        await client.PublishAsync(channel, "poison");
        await client.PublishAsync(channel, "healthy");

        Assert.Equal("poison", await NextAsync(received));
        Assert.Equal("healthy", await NextAsync(received));
    }

    [Fact]
    public async Task Every_handler_on_a_channel_receives_and_disposing_the_last_unsubscribes()
    {
        await using var client = redis.CreateClient();
        var channel = NewChannel();
        var first = Channel.CreateUnbounded<string>();
        var second = Channel.CreateUnbounded<string>();

        var one = await client.SubscribeAsync(channel, (_, m) => first.Writer.WriteAsync(m).AsTask());
        var two = await client.SubscribeAsync(channel, (_, m) => second.Writer.WriteAsync(m).AsTask());

        // Both handlers share one server-side subscription.
        Assert.Equal(1, await client.PublishAsync(channel, "both"));
        Assert.Equal("both", await NextAsync(first));
        Assert.Equal("both", await NextAsync(second));

        await one.DisposeAsync();
        await client.PublishAsync(channel, "only-second");
        Assert.Equal("only-second", await NextAsync(second));
        Assert.False(first.Reader.TryRead(out _));

        await two.DisposeAsync();
        await Eventually.TrueAsync(async () => await client.PublishAsync(channel, "nobody") == 0, Deadline, "the channel to have no subscribers");
    }

    private static async Task<T> NextAsync<T>(Channel<T> channel) =>
        await channel.Reader.ReadAsync().AsTask().WaitAsync(Deadline);

    private static string NewChannel() => $"test:{Guid.NewGuid():N}";
}
