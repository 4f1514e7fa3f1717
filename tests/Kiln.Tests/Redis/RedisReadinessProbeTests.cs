using System.Diagnostics;
using Kiln.AppHost.Health;

namespace Kiln.Tests.Redis;

/// <summary>The AppHost's wait for its cache: AUTH + PING must work, within a deadline, while the process lives.</summary>
public class RedisReadinessProbeTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private static readonly Task<int> StillRunning = new TaskCompletionSource<int>().Task;

    [Fact]
    public async Task Returns_once_the_server_accepts_the_password_and_answers_ping()
    {
        await HealthProbe.WaitForRedisAsync("cache", redis.Port, redis.Password, StillRunning, TimeSpan.FromSeconds(10), CancellationToken.None);
    }

    [Fact]
    public async Task A_wrong_password_is_reported_by_the_deadline_without_echoing_it()
    {
        const string wrongPassword = "definitely-not-the-password";

        var error = await Assert.ThrowsAsync<ResourceFailedException>(() =>
            HealthProbe.WaitForRedisAsync("cache", redis.Port, wrongPassword, StillRunning, TimeSpan.FromSeconds(2), CancellationToken.None));

        Assert.Equal("cache", error.Resource);
        Assert.Contains("did not become healthy within 2 s", error.Message, StringComparison.Ordinal);
        Assert.Contains("authentication failure", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(wrongPassword, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fails_fast_when_the_process_exits_before_answering()
    {
        var started = Stopwatch.GetTimestamp();

        var error = await Assert.ThrowsAsync<ResourceFailedException>(() =>
            HealthProbe.WaitForRedisAsync("cache", RedisServerFixture.FindFreePort(), redis.Password, Task.FromResult(1), TimeSpan.FromSeconds(30), CancellationToken.None));

        Assert.StartsWith("cache exited with code 1 before it became healthy", error.Message, StringComparison.Ordinal);
        Assert.InRange(Stopwatch.GetElapsedTime(started), TimeSpan.Zero, TimeSpan.FromSeconds(5));
    }
}
