using System.Diagnostics;
using Kiln.Api.Sensors;
using Kiln.AppHost.Launching;
using Kiln.Shared.Readings;
using Kiln.Tests.ServiceDefaults;
using Kiln.Worker.Ingestion;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kiln.Tests.Redis;

/// <summary>The Api's latest value: Redis first, PostgreSQL when the cache has nothing, is down or hangs.</summary>
public sealed class LatestValueStoreTests(RedisServerFixture redis, PostgresServerFixture postgres, ITestOutputHelper output)
    : IClassFixture<RedisServerFixture>, IClassFixture<PostgresServerFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private NpgsqlDataSource _database = null!;

    public async Task InitializeAsync() => _database = await postgres.MigratedDataSourceAsync();

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task The_cache_answers_when_it_holds_the_sensor()
    {
        var sensor = NewSensor();
        await StoreAsync(sensor, T0, 1.0);
        await using var cache = await redis.ConnectAsync();
        await new LatestValueWriter(cache).WriteAsync([new(sensor, T0.AddSeconds(1), 2.5)], CancellationToken.None);

        var latest = await Store(cache).FindAsync(sensor, CancellationToken.None);

        Assert.Equal(new LatestReading(sensor, T0.AddSeconds(1), 2.5), latest);
    }

    [Fact]
    public async Task PostgreSQL_answers_when_the_cache_does_not_hold_the_sensor()
    {
        var sensor = NewSensor();
        await StoreAsync(sensor, T0, 1.0);
        await StoreAsync(sensor, T0.AddMinutes(1), 3.0);
        await using var cache = await redis.ConnectAsync();

        Assert.Equal(new LatestReading(sensor, T0.AddMinutes(1), 3.0), await Store(cache).FindAsync(sensor, CancellationToken.None));
        Assert.Null(await Store(cache).FindAsync(NewSensor(), CancellationToken.None));
    }

    [Fact]
    public async Task While_the_cache_is_down_PostgreSQL_answers_at_once_instead_of_after_the_backlog_timeout()
    {
        var sensor = NewSensor();
        await StoreAsync(sensor, T0, 7.0);
        await using var cache = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{RedisServerFixture.FindFreePort()},abortConnect=false,connectTimeout=200");
        Assert.False(cache.IsConnected);

        var started = Stopwatch.GetTimestamp();
        var latest = await Store(cache).FindAsync(sensor, CancellationToken.None);

        Assert.Equal(new LatestReading(sensor, T0, 7.0), latest);
        // A command would have waited 5 s in the multiplexer's backlog before failing.
        Assert.InRange(Stopwatch.GetElapsedTime(started), TimeSpan.Zero, TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task A_cache_that_hangs_costs_a_few_bounded_reads_then_none_until_it_answers_again()
    {
        var sensor = NewSensor();
        await StoreAsync(sensor, T0, 1.0);
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var cache = await server.ConnectAsync();
        await new LatestValueWriter(cache).WriteAsync([new(sensor, T0.AddSeconds(1), 2.5)], CancellationToken.None);
        var store = Store(cache);
        Assert.Equal(2.5, (await store.FindAsync(sensor, CancellationToken.None))!.Value);

        // Stopped, not killed: the connection stays open and every command waits, as with a hung server or a half-open socket.
        Assert.True(Signals.Send(server.ProcessId!.Value, Signals.SigStop));
        try
        {
            Assert.True(cache.IsConnected);
            var durations = new List<TimeSpan>();
            for (var i = 0; i < 20; i++)
            {
                var started = Stopwatch.GetTimestamp();
                Assert.Equal(new LatestReading(sensor, T0, 1.0), await store.FindAsync(sensor, CancellationToken.None));
                durations.Add(Stopwatch.GetElapsedTime(started));
            }

            var report = string.Join(", ", durations.Select(d => $"{d.TotalMilliseconds:0.0}"));
            output.WriteLine($"read times while Redis hangs (ms): {report}");
            // A read that finds Redis hanging waits out the attempt timeout and then asks PostgreSQL (measured here: 60-110 ms for
            // the first two, the first paying for its cold exception path), never the multiplexer's 5 s. Only the reads before the
            // breaker opened do that; after it, PostgreSQL answers at once.
            // The bound is far from the 5 s that would fail it and wide enough for a loaded machine.
            Assert.All(durations, d => Assert.True(d < TimeSpan.FromSeconds(1),
                $"a read took {d.TotalMilliseconds:0} ms: {report}"));
            Assert.True(durations.Count(d => d >= LatestValueStoreExtensions.AttemptTimeout) <= 3, $"read times (ms): {report}");
        }
        finally
        {
            Signals.Send(server.ProcessId!.Value, Signals.SigCont);
        }

        // After the break a probe finds Redis answering again, and the cache serves once more.
        await Eventually.TrueAsync(async () => (await store.FindAsync(sensor, CancellationToken.None))?.Value == 2.5,
            LatestValueStoreExtensions.BreakDuration * 3, "the cache to answer again after the break");
    }

    private LatestValueStore Store(IConnectionMultiplexer cache) =>
        new ServiceCollection()
            .AddLogging()
            .AddSingleton(cache)
            .AddSingleton(_database)
            .AddLatestValueStore()
            .BuildServiceProvider()
            .GetRequiredService<LatestValueStore>();

    private async Task StoreAsync(string sensor, DateTimeOffset timestamp, double value)
    {
        await using var command = _database.CreateCommand("INSERT INTO readings (sensor_id, ts, value) VALUES ($1, $2, $3)");
        command.Parameters.AddWithValue(sensor);
        command.Parameters.AddWithValue(timestamp);
        command.Parameters.AddWithValue(value);
        await command.ExecuteNonQueryAsync();
    }

    private static string NewSensor() => $"test.latest.{Guid.NewGuid():N}";
}
