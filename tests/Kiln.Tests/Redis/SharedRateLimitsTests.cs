using System.Diagnostics;
using Kiln.Api.RateLimits;
using Kiln.AppHost.Launching;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kiln.Tests.Redis;

/// <summary>The rate limits' one script against a real Redis: one bucket for every replica, and each replica alone while Redis is away.</summary>
public sealed class SharedRateLimitsTests(RedisServerFixture redis, ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    /// <summary>
    /// Slow enough that a loaded machine cannot refill the bucket between two requests by accident; and a Redis call may
    /// take a second here, so that on a loaded machine sharing is what is tested, not the 50 ms bound (which has a test of its own).
    /// </summary>
    private static readonly RateLimitOptions Options = new()
    {
        Ingest = new() { Name = "ingest", PermitsPerSecond = 2, Burst = 5 },
        RedisTimeout = TimeSpan.FromSeconds(1),
    };

    private static readonly RateLimitOptions Bounded = Options with { RedisTimeout = TimeSpan.FromMilliseconds(50) };

    /// <summary>Far below a Redis timeout (5 s), far above this machine's scheduling noise.</summary>
    private static readonly TimeSpan NoHang = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task A_burst_is_allowed_then_refused_with_the_time_until_the_next_permit()
    {
        await using var cache = await redis.ConnectAsync();
        var (limits, _, _) = Replica(cache);
        var bucket = NewBucket();

        var clock = Stopwatch.StartNew();
        var decisions = new List<RateLimitDecision>();
        for (var i = 0; i < 12; i++)
        {
            decisions.Add(await limits.AcquireAsync(bucket, CancellationToken.None));
        }

        AssertLimited(decisions, clock.Elapsed, replicas: 1);
        Assert.All(decisions, d => Assert.True(d.Shared));
        Assert.Equal([4L, 3L, 2L, 1L, 0L], decisions.Take(5).Select(d => d.Remaining));
        var refused = decisions.First(d => !d.Allowed);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromTicks(1), Options.Ingest.Interval);
        Assert.InRange(refused.ResetAfter, Options.Ingest.Interval * (Options.Ingest.Burst - 1), Options.Ingest.Interval * Options.Ingest.Burst);
    }

    [Fact]
    public async Task Two_replicas_draw_from_one_bucket()
    {
        await using var first = await redis.ConnectAsync();
        await using var second = await redis.ConnectAsync();
        var replicas = new[] { Replica(first).Limits, Replica(second).Limits };
        var bucket = NewBucket();

        var clock = Stopwatch.StartNew();
        var decisions = new List<RateLimitDecision>();
        for (var i = 0; i < 12; i++)
        {
            decisions.Add(await replicas[i % 2].AcquireAsync(bucket, CancellationToken.None));
        }

        AssertLimited(decisions, clock.Elapsed, replicas: 1);
    }

    [Fact]
    public async Task While_redis_is_down_each_replica_limits_alone_says_so_once_and_shares_again_when_it_is_back()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var cache = await server.ConnectAsync();
        var (limits, logs, _) = Replica(cache);
        var bucket = NewBucket();
        await Eventually.TrueAsync(async () => (await limits.AcquireAsync(NewBucket(), CancellationToken.None)).Shared, TimeSpan.FromSeconds(10),
            "a decision through Redis");
        Assert.Equal(HealthStatus.Healthy, (await limits.CheckHealthAsync(new HealthCheckContext())).Status);

        await server.KillAsync();
        await Eventually.TrueAsync(() => !cache.IsConnected, TimeSpan.FromSeconds(10), "the multiplexer to notice Redis is gone");
        var clock = Stopwatch.StartNew();
        var decisions = new List<RateLimitDecision>();
        for (var i = 0; i < 12; i++)
        {
            decisions.Add(await limits.AcquireAsync(bucket, CancellationToken.None));
        }

        // At once, not after the multiplexer's 5 s backlog timeout; and still limited, by this replica's own bucket.
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(2));
        Assert.All(decisions, d => Assert.False(d.Shared));
        AssertLimited(decisions, clock.Elapsed, replicas: 1);
        var health = await limits.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("each replica", health.Description, StringComparison.Ordinal);

        await server.StartAsync();
        await Eventually.TrueAsync(async () => (await limits.AcquireAsync(NewBucket(), CancellationToken.None)).Shared, TimeSpan.FromSeconds(30),
            "decisions to be shared through Redis again");
        Assert.Equal(HealthStatus.Healthy, (await limits.CheckHealthAsync(new HealthCheckContext())).Status);

        var lines = logs.GetSnapshot().Where(r => r.Level == LogLevel.Warning).Select(r => r.Message).ToList();
        output.WriteLine(string.Join(Environment.NewLine, lines));
        Assert.Collection(lines,
            line => Assert.StartsWith("Rate limits are kept by this replica alone: Redis is not connected", line, StringComparison.Ordinal),
            line => Assert.Equal("Rate limits are shared by every replica through Redis again", line));
    }

    [Fact]
    public async Task Health_notices_redis_is_back_without_a_request()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var cache = await server.ConnectAsync();
        var (limits, _, _) = Replica(cache);

        await server.KillAsync();
        await Eventually.TrueAsync(() => !cache.IsConnected, TimeSpan.FromSeconds(10), "the multiplexer to notice Redis is gone");
        Assert.Equal(HealthStatus.Degraded, (await limits.CheckHealthAsync(new HealthCheckContext())).Status);

        await server.StartAsync();
        await Eventually.TrueAsync(async () => (await limits.CheckHealthAsync(new HealthCheckContext())).Status == HealthStatus.Healthy,
            TimeSpan.FromSeconds(30), "the health check to see Redis again");
    }

    [Fact]
    public async Task A_redis_that_hangs_costs_a_few_bounded_decisions_then_none()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var cache = await server.ConnectAsync();
        var (limits, _, _) = Replica(cache, Bounded);
        // The first call may pay for the script's first load past the 50 ms bound on a loaded machine (and be decided here alone).
        await Eventually.TrueAsync(async () => (await limits.AcquireAsync(NewBucket(), CancellationToken.None)).Shared, TimeSpan.FromSeconds(10),
            "a decision through Redis");

        // Stopped, not killed: the connection stays open and every command waits, as with a hung server or a half-open socket.
        Assert.True(Signals.Send(server.ProcessId!.Value, Signals.SigStop));
        try
        {
            var durations = new List<TimeSpan>();
            for (var i = 0; i < 20; i++)
            {
                var started = Stopwatch.GetTimestamp();
                Assert.False((await limits.AcquireAsync(NewBucket(), CancellationToken.None)).Shared);
                durations.Add(Stopwatch.GetElapsedTime(started));
            }

            var report = string.Join(", ", durations.Select(d => $"{d.TotalMilliseconds:0.0}"));
            output.WriteLine($"decision times while Redis hangs (ms): {report}");
            // Each call that finds Redis hanging waits out the 50 ms bound (plus this loaded machine's scheduling noise, which
            // has reached half a second), never the multiplexer's 5 s; the breaker opens after five of them, and from then on
            // the replica decides alone at once.
            Assert.All(durations, d => Assert.True(d < NoHang, $"a decision took {d.TotalMilliseconds:0} ms: {report}"));
            Assert.True(durations.Count(d => d >= Bounded.RedisTimeout) <= 6, $"decision times (ms): {report}");
        }
        finally
        {
            Signals.Send(server.ProcessId!.Value, Signals.SigCont);
        }
    }

    /// <summary>
    /// However the requests fell in time, a token bucket allowed the whole burst at once and then at most one request
    /// per interval that passed; per-replica buckets would each allow a burst.
    /// </summary>
    private static void AssertLimited(List<RateLimitDecision> decisions, TimeSpan elapsed, int replicas)
    {
        var policy = Options.Ingest;
        var allowed = decisions.Count(d => d.Allowed);
        var most = (replicas * policy.Burst) + (int)Math.Ceiling(elapsed / policy.Interval);
        Assert.True(allowed >= policy.Burst && allowed <= most,
            $"{allowed} of {decisions.Count} allowed in {elapsed.TotalMilliseconds:0} ms; expected {policy.Burst} to {most}");
        Assert.All(decisions.Take(policy.Burst), d => Assert.True(d.Allowed));
    }

    private static RateLimitBucket NewBucket() => new(Options.Ingest, Guid.NewGuid().ToString("N"));

    private static (SharedRateLimits Limits, FakeLogCollector Logs, ServiceProvider Services) Replica(IConnectionMultiplexer cache,
        RateLimitOptions? options = null)
    {
        options ??= Options;
        var services = new ServiceCollection()
            .AddFakeLogging()
            .AddSingleton(cache)
            .AddSingleton(options)
            .AddSingleton<LocalRateLimits>()
            .AddSingleton<SharedRateLimits>()
            .AddRateLimitRedisCalls(options.RedisTimeout)
            .BuildServiceProvider();
        return (services.GetRequiredService<SharedRateLimits>(), services.GetFakeLogCollector(), services);
    }
}
