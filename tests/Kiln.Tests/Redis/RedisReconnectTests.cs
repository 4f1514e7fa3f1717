using System.Threading.Channels;
using Kiln.ServiceDefaults.Redis;

namespace Kiln.Tests.Redis;

// Each test owns its server: it kills and restarts it, which no other test should see.
public class RedisReconnectTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task In_flight_commands_fail_and_the_client_recovers_when_the_server_restarts()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var client = server.CreateClient(o => o.CommandTimeout = TimeSpan.FromSeconds(10));
        await using var observer = server.CreateClient();
        await client.SetAsync("before", "1");

        // Park a command on the server so it is certainly in flight when the server dies.
        var parked = client.ExecuteAsync("BLPOP", "never-pushed", "0");
        await Eventually.TrueAsync(
            async () => (await observer.ExecuteAsync("CLIENT", "LIST")).Text!.Contains("cmd=blpop", StringComparison.Ordinal),
            Deadline,
            "BLPOP to be blocked on the server");

        await server.KillAsync();

        var lost = await Assert.ThrowsAsync<RedisConnectionException>(() => parked);
        Assert.StartsWith($"Lost connection to Redis at 127.0.0.1:{server.Port}:", lost.Message, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => !client.IsConnected, Deadline, "the client to notice the disconnect");

        // Issued while the server is down: it waits for the reconnect instead of failing.
        var issuedWhileDown = client.SetAsync("during", "2");
        await server.StartAsync();

        await issuedWhileDown.WaitAsync(Deadline);
        Assert.True(client.IsConnected);
        Assert.Equal("2", await client.GetAsync("during"));
        Assert.Null(await client.GetAsync("before")); // a fresh server without persistence
    }

    [Fact]
    public async Task Subscriptions_are_restored_after_the_server_restarts()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var subscriber = server.CreateClient();
        await using var publisher = server.CreateClient();
        var received = Channel.CreateUnbounded<string>();
        await using var subscription = await subscriber.SubscribeAsync("alerts", (_, m) => received.Writer.WriteAsync(m).AsTask());

        await publisher.PublishAsync("alerts", "before restart");
        Assert.Equal("before restart", await received.Reader.ReadAsync().AsTask().WaitAsync(Deadline));

        await server.KillAsync();
        await server.StartAsync();

        // PUBLISH reports its receivers: 1 means the subscriber's connection is back and resubscribed.
        await Eventually.TrueAsync(async () => await publisher.PublishAsync("alerts", "after restart") == 1, Deadline, "the subscription to be restored");
        Assert.Equal("after restart", await received.Reader.ReadAsync().AsTask().WaitAsync(Deadline));
    }
}
