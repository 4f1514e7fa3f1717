using System.Threading.Channels;
using StackExchange.Redis;

namespace Kiln.Tests.Redis;

// Each test owns its server: it kills and restarts it, which no other test should see.
public class RedisReconnectTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task The_multiplexer_reconnects_by_itself_after_the_server_restarts()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        // Commands issued while the server is down wait in the backlog this long; room for a slow restart here.
        await using var client = await server.ConnectAsync(o => o.AsyncTimeout = 15_000);
        var database = client.GetDatabase();
        await database.StringSetAsync("before", "1");

        await server.KillAsync();
        await Eventually.TrueAsync(() => !client.IsConnected, Deadline, "the multiplexer to notice the server is gone");

        // Issued while the server is down: it waits for the reconnect instead of failing.
        var issuedWhileDown = database.StringSetAsync("during", "2");
        await server.StartAsync();

        Assert.True(await issuedWhileDown.WaitAsync(Deadline));
        Assert.True(client.IsConnected);
        Assert.Equal("2", await database.StringGetAsync("during"));
        Assert.True((await database.StringGetAsync("before")).IsNull); // a fresh server without persistence
    }

    [Fact]
    public async Task Subscriptions_resume_after_the_server_restarts()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var subscriber = await server.ConnectAsync();
        await using var publisher = await server.ConnectAsync();
        var channel = RedisChannel.Literal("alerts");
        var received = Channel.CreateUnbounded<string>();
        await subscriber.GetSubscriber().SubscribeAsync(channel, (_, message) => received.Writer.TryWrite((string)message!));

        await publisher.GetSubscriber().PublishAsync(channel, "before restart");
        Assert.Equal("before restart", await received.Reader.ReadAsync().AsTask().WaitAsync(Deadline));

        await server.KillAsync();
        await server.StartAsync();

        // PUBLISH reports its receivers: 1 means the subscriber is back and subscribed again.
        await Eventually.TrueAsync(async () => await publisher.GetSubscriber().PublishAsync(channel, "after restart") == 1,
            Deadline, "the subscription to be restored");
        Assert.Equal("after restart", await received.Reader.ReadAsync().AsTask().WaitAsync(Deadline));
    }
}
