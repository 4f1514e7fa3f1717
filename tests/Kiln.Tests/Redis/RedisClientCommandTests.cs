using System.Diagnostics;
using Kiln.ServiceDefaults.Redis;

namespace Kiln.Tests.Redis;

public class RedisClientCommandTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Set_then_get_returns_the_value_and_missing_keys_read_as_null()
    {
        await using var client = redis.CreateClient();
        var key = NewKey();

        await client.SetAsync(key, "héllo");

        Assert.Equal("héllo", await client.GetAsync(key));
        Assert.Null(await client.GetAsync(NewKey()));
        Assert.True(await client.DeleteAsync(key));
        Assert.False(await client.DeleteAsync(key));
        Assert.Null(await client.GetAsync(key));
    }

    [Fact]
    public async Task Keys_get_their_expiry_from_set_or_expire_and_then_disappear()
    {
        await using var client = redis.CreateClient();
        var (setWithExpiry, expiredLater) = (NewKey(), NewKey());

        await client.SetAsync(setWithExpiry, "v", TimeSpan.FromMinutes(1));
        await client.SetAsync(expiredLater, "v");

        Assert.InRange((await client.ExecuteAsync("PTTL", setWithExpiry)).IntegerValue, 1, 60_000);
        Assert.Equal(-1, (await client.ExecuteAsync("PTTL", expiredLater)).IntegerValue);
        Assert.True(await client.ExpireAsync(expiredLater, TimeSpan.FromMilliseconds(100)));
        Assert.False(await client.ExpireAsync(NewKey(), TimeSpan.FromSeconds(1)));
        await Eventually.TrueAsync(async () => await client.GetAsync(expiredLater) is null, Deadline, "the key to expire");
        Assert.Equal("v", await client.GetAsync(setWithExpiry));
    }

    [Fact]
    public async Task Hashes_round_trip_through_hset_and_hgetall()
    {
        await using var client = redis.CreateClient();
        var key = NewKey();

        await client.HashSetAsync(key, [new("temperature", "21.5"), new("unit", "°C")]);
        await client.HashSetAsync(key, "sensor", "s-1");

        var hash = await client.HashGetAllAsync(key);
        Assert.Equal(3, hash.Count);
        Assert.Equal("21.5", hash["temperature"]);
        Assert.Equal("°C", hash["unit"]);
        Assert.Equal("s-1", hash["sensor"]);
        Assert.Empty(await client.HashGetAllAsync(NewKey()));
    }

    [Fact]
    public async Task A_thousand_concurrent_commands_are_all_answered_correctly_over_one_connection()
    {
        var name = $"kiln-test-{Guid.NewGuid():N}";
        await using var client = redis.CreateClient(o => o.ClientName = name);
        var prefix = NewKey();

        // 50 tasks × 10 SET+GET pairs, interleaved with INCRs: 1,000 commands in flight together.
        var workers = Enumerable.Range(0, 50).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                var key = $"{prefix}:{worker}:{i}";
                var set = client.SetAsync(key, $"value-{worker}-{i}");
                var incr = client.ExecuteAsync("INCR", $"{prefix}:counter");
                await set;
                Assert.Equal($"value-{worker}-{i}", await client.GetAsync(key));
                await incr;
            }
        }));
        await Task.WhenAll(workers);

        Assert.Equal("500", await client.GetAsync($"{prefix}:counter"));
        var clientList = (await client.ExecuteAsync("CLIENT", "LIST")).Text!;
        Assert.Single(clientList.Split('\n'), line => line.Contains($" name={name} ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Server_errors_surface_with_the_server_message_and_the_connection_stays_usable()
    {
        await using var client = redis.CreateClient();
        var key = NewKey();
        await client.HashSetAsync(key, "f", "v");

        var error = await Assert.ThrowsAsync<RedisServerException>(() => client.ExecuteAsync("INCR", key));

        Assert.Equal("WRONGTYPE", error.ErrorCode);
        Assert.StartsWith("WRONGTYPE Operation against a key holding the wrong kind of value", error.Message, StringComparison.Ordinal);
        Assert.Equal("v", (await client.HashGetAllAsync(key))["f"]);
    }

    [Fact]
    public async Task Eval_runs_by_sha_and_falls_back_to_the_script_text_after_a_script_flush()
    {
        await using var client = redis.CreateClient();
        const string script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], ARGV[2])";
        var (textKey, counterKey) = (NewKey(), NewKey());
        await client.ExecuteAsync("SCRIPT", "FLUSH");
        await client.ExecuteAsync("CONFIG", "RESETSTAT");

        var first = await client.EvalAsync(script, [textKey, counterKey], ["x", "5"]);
        var second = await client.EvalAsync(script, [textKey, counterKey], ["y", "5"]);

        Assert.Equal(5, first.IntegerValue);
        Assert.Equal(10, second.IntegerValue);
        Assert.Equal("y", await client.GetAsync(textKey));

        // First call: EVALSHA misses (NOSCRIPT), EVAL loads the script; second call: EVALSHA hits.
        var stats = (await client.ExecuteAsync("INFO", "commandstats")).Text!;
        Assert.Contains("cmdstat_evalsha:calls=2,", stats, StringComparison.Ordinal);
        Assert.Contains("failed_calls=1", stats.Split('\n').Single(l => l.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("cmdstat_eval:calls=1,", stats, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_fails_fast_with_a_clear_error_that_does_not_echo_it()
    {
        const string wrongPassword = "definitely-not-the-password";
        await using var client = redis.CreateClient(o => o.Password = wrongPassword);

        var connect = await Assert.ThrowsAsync<RedisConnectionException>(() => client.ConnectAsync());
        var started = Stopwatch.GetTimestamp();
        var command = await Assert.ThrowsAsync<RedisConnectionException>(() => client.GetAsync("k"));

        foreach (var error in new[] { connect, command })
        {
            Assert.True(error.IsAuthenticationFailure);
            Assert.Contains($"Redis at 127.0.0.1:{redis.Port} rejected authentication: WRONGPASS", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(wrongPassword, error.Message, StringComparison.Ordinal);
        }

        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(4), "should fail on the next attempt, not wait out the 5 s command timeout");
    }

    [Fact]
    public async Task Without_a_password_the_server_refuses_commands_with_NOAUTH()
    {
        await using var client = redis.CreateClient(o => o.Password = null);

        var error = await Assert.ThrowsAsync<RedisServerException>(() => client.PingAsync());

        Assert.Equal("NOAUTH", error.ErrorCode);
    }

    [Fact]
    public async Task A_reply_that_comes_too_late_times_out_naming_only_the_command_and_later_replies_stay_matched()
    {
        await using var client = redis.CreateClient(o => o.CommandTimeout = TimeSpan.FromMilliseconds(200));
        var secretKey = NewKey();

        // BLPOP holds its reply for 3 s, far past the 200 ms timeout even on a busy machine.
        var error = await Assert.ThrowsAsync<TimeoutException>(() => client.ExecuteAsync("BLPOP", secretKey, "3"));

        Assert.Contains("Redis BLPOP timed out after 200 ms", error.Message, StringComparison.Ordinal);
        Assert.Contains("no reply arrived", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secretKey, error.Message, StringComparison.Ordinal);

        // BLPOP's late reply must be discarded, not handed to whoever asked next.
        await Eventually.TrueAsync(async () => await client.GetAsync(NewKey()) is null, Deadline, "the connection to answer again");
        var key = NewKey();
        await client.SetAsync(key, "after-timeout");
        Assert.Equal("after-timeout", await client.GetAsync(key));
    }

    [Fact]
    public async Task Commands_to_an_unreachable_server_time_out_with_the_connection_error()
    {
        var unusedPort = RedisServerFixture.FindFreePort();
        await using var client = new RedisClient(RedisClientOptions.Parse($"127.0.0.1:{unusedPort},syncTimeout=300"));

        var refused = await Assert.ThrowsAsync<RedisConnectionException>(() => client.ConnectAsync());
        Assert.StartsWith($"Could not connect to Redis at 127.0.0.1:{unusedPort}: ConnectionRefused", refused.Message, StringComparison.Ordinal);
        var error = await Assert.ThrowsAsync<TimeoutException>(() => client.GetAsync("some-key"));

        Assert.Contains("Redis GET timed out after 300 ms waiting to reconnect to 127.0.0.1:", error.Message, StringComparison.Ordinal);
        Assert.Contains("ConnectionRefused", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("some-key", error.Message, StringComparison.Ordinal);
        Assert.IsType<RedisConnectionException>(error.InnerException);
    }

    [Fact]
    public async Task Cancelled_commands_throw_operation_cancelled()
    {
        await using var client = redis.CreateClient();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ExecuteAsync("PING", [], cancelled.Token));
        Assert.True(await client.PingAsync() >= TimeSpan.Zero);
    }

    private static string NewKey() => $"test:{Guid.NewGuid():N}";
}
