using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiln.AppHost.Launching;
using Kiln.Shared;
using Kiln.Shared.Readings;
using Kiln.Shared.Schema;
using Kiln.Tests.ServiceDefaults;
using Kiln.Worker.Ingestion;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StackExchange.Redis;

namespace Kiln.Tests.Redis;

/// <summary>
/// The Worker's latest values while Redis is away: a stored batch is never held up, its sensors are remembered, and
/// once Redis is back they are repaired from PostgreSQL. Each test owns its Redis server, which it stops or kills.
/// </summary>
public sealed class LatestValueRepairTests(PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private static readonly LatestValueOptions Options = new()
    {
        WriteTimeout = TimeSpan.FromMilliseconds(300),
        RepairChunkSize = 2,
        RepairPollInterval = TimeSpan.FromMilliseconds(50),
    };

    private readonly ServiceProvider _metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private long _skipped, _repaired;
    private NpgsqlDataSource _database = null!;

    public async Task InitializeAsync()
    {
        _database = NpgsqlDataSource.Create(postgres.ConnectionString);
        await new SchemaMigrator(_database, NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);

        var meters = _metrics.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meters)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            Interlocked.Add(ref instrument.Name == "kiln.cache.updates_skipped" ? ref _skipped : ref _repaired, value));
        _listener.Start();
    }

    public async Task DisposeAsync()
    {
        _listener.Dispose();
        await _metrics.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task While_redis_is_down_a_stored_batch_is_not_held_up_and_its_sensors_are_repaired_when_redis_is_back()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var cache = await server.ConnectAsync();
        var (latest, repair, _) = Create(cache);
        var sensors = NewSensors(3);
        await StoreAndUpdateAsync(latest, sensors, T0, 1.0);

        await server.KillAsync();
        await Eventually.TrueAsync(() => !cache.IsConnected, Deadline, "the multiplexer to notice Redis is gone");
        var durations = new List<TimeSpan>();
        for (var i = 1; i <= 5; i++)
        {
            durations.Add(await StoreAndUpdateAsync(latest, sensors, T0.AddSeconds(i), 1.0 + i));
        }

        // A known outage is not waited for at all; the write bound is what a batch would wait otherwise.
        Assert.All(durations, d => Assert.True(d < Options.WriteTimeout - TimeSpan.FromMilliseconds(1), $"a batch waited {d.TotalMilliseconds:0} ms for Redis"));
        Assert.False(latest.IsAvailable);
        Assert.Equal(HealthStatus.Degraded, (await latest.CheckHealthAsync(new HealthCheckContext())).Status);
        Assert.Equal(15, Interlocked.Read(ref _skipped)); // 3 sensors in each of 5 batches

        await server.StartAsync();
        await WhileRepairRunsAsync(repair, async () =>
        {
            await Eventually.TrueAsync(async () => await AllCachedAsync(cache, sensors, T0.AddSeconds(5), 6.0), Deadline,
                "every stale sensor's newest stored reading to reach Redis");
            await Eventually.TrueAsync(async () => (await latest.CheckHealthAsync(new HealthCheckContext())).Status == HealthStatus.Healthy,
                Deadline, "the Worker to be healthy again");
            Assert.True(latest.IsAvailable);
            Assert.Equal(3, Interlocked.Read(ref _repaired)); // the server came back empty: all three were behind
        });
    }

    [Fact]
    public async Task A_redis_that_hangs_holds_up_one_batch_for_the_write_bound_and_no_more()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        var clientTimeout = TimeSpan.FromSeconds(5);
        await using var cache = await server.ConnectAsync(o => o.AsyncTimeout = (int)clientTimeout.TotalMilliseconds);
        var (latest, repair, _) = Create(cache);
        var sensors = NewSensors(2);

        Assert.True(Signals.Send(server.ProcessId!.Value, Signals.SigStop));
        TimeSpan first, second;
        try
        {
            first = await StoreAndUpdateAsync(latest, sensors, T0, 1.0);
            second = await StoreAndUpdateAsync(latest, sensors, T0.AddSeconds(1), 2.0);
        }
        finally
        {
            Signals.Send(server.ProcessId!.Value, Signals.SigCont);
        }

        // .NET timers run on a millisecond tick: the bound can elapse up to 1 ms early as the Stopwatch measures it (seen: 299.97 ms).
        // Without the bound the batch would wait for the client's own timeout. The upper limit sits halfway, far from
        // both, because a loaded machine adds hundreds of milliseconds to any wait (seen: 830 ms in CI).
        Assert.InRange(first, Options.WriteTimeout - TimeSpan.FromMilliseconds(1), clientTimeout / 2);
        Assert.True(second < Options.WriteTimeout - TimeSpan.FromMilliseconds(1),
            $"the second batch waited {second.TotalMilliseconds:0} ms, the whole write bound: the outage should have been known");

        await WhileRepairRunsAsync(repair, async () =>
        {
            await Eventually.TrueAsync(async () => await AllCachedAsync(cache, sensors, T0.AddSeconds(1), 2.0), Deadline,
                "the newest stored readings to reach Redis once it answers again");
        });
    }

    [Fact]
    public async Task Past_the_capacity_every_sensor_is_repaired_by_walking_the_sensors_table()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        await using var cache = await server.ConnectAsync();
        var (latest, repair, stale) = Create(cache, capacity: 2);
        var sensors = NewSensors(5);
        foreach (var sensor in sensors)
        {
            await using var command = _database.CreateCommand("INSERT INTO sensors (id, site, kind, unit) VALUES ($1, 'test', 'temperature', 'C')");
            command.Parameters.AddWithValue(sensor);
            await command.ExecuteNonQueryAsync();
        }

        await server.KillAsync();
        await Eventually.TrueAsync(() => !cache.IsConnected, Deadline, "the multiplexer to notice Redis is gone");
        await StoreAndUpdateAsync(latest, sensors, T0, 42.0);
        Assert.Null(stale.Count); // five sensors do not fit in two: every sensor is stale

        await server.StartAsync();
        await WhileRepairRunsAsync(repair, async () =>
        {
            await Eventually.TrueAsync(async () => await AllCachedAsync(cache, sensors, T0, 42.0), Deadline,
                "the walk over every sensor to repair these five");
            await Eventually.TrueAsync(() => stale.IsEmpty, Deadline, "the walk to end");
        });
    }

    /// <summary>Runs <paramref name="check"/> while the repair loop runs, and stops the loop whatever happens.</summary>
    private static async Task WhileRepairRunsAsync(LatestValueRepair repair, Func<Task> check)
    {
        await repair.StartAsync(CancellationToken.None);
        try
        {
            await check();
        }
        finally
        {
            await repair.StopAsync(CancellationToken.None);
        }
    }

    private (LatestValueCache Latest, LatestValueRepair Repair, StaleSensors Stale) Create(IConnectionMultiplexer cache, int capacity = 100)
    {
        var stale = new StaleSensors(capacity);
        var writer = new LatestValueWriter(cache);
        var metrics = new LatestValueMetrics(_metrics.GetRequiredService<IMeterFactory>());
        var latest = new LatestValueCache(cache, writer, stale, Options, metrics, TimeProvider.System, NullLogger<LatestValueCache>.Instance);
        var repair = new LatestValueRepair(latest, stale, new LatestReadings(_database), writer,
            new SchemaMigrator(_database, NullLogger<SchemaMigrator>.Instance), Options, metrics, TimeProvider.System, NullLogger<LatestValueRepair>.Instance);
        return (latest, repair, stale);
    }

    /// <summary>What the consumer does with a batch: store it in PostgreSQL, then update the cache.</summary>
    /// <summary>Stores one reading per sensor in PostgreSQL, then hands them to the cache; returns how long the cache took.</summary>
    private async Task<TimeSpan> StoreAndUpdateAsync(LatestValueCache latest, IReadOnlyList<string> sensors, DateTimeOffset timestamp, double value)
    {
        var readings = sensors.Select(s => new ReadingMessage(s, timestamp, value)).ToList();
        foreach (var reading in readings)
        {
            await using var command = _database.CreateCommand("INSERT INTO readings (sensor_id, ts, value) VALUES ($1, $2, $3)");
            command.Parameters.AddWithValue(reading.SensorId);
            command.Parameters.AddWithValue(reading.Timestamp);
            command.Parameters.AddWithValue(reading.Value);
            await command.ExecuteNonQueryAsync();
        }

        var started = Stopwatch.GetTimestamp();
        await latest.UpdateAsync(readings, CancellationToken.None);
        return Stopwatch.GetElapsedTime(started);
    }

    private static async Task<bool> AllCachedAsync(ConnectionMultiplexer cache, IEnumerable<string> sensors, DateTimeOffset timestamp, double value)
    {
        foreach (var sensor in sensors)
        {
            var fields = await cache.GetDatabase().HashGetAsync(Topology.Cache.LatestKey(sensor), ["ts", "value"]);
            if (fields[0].IsNull || (long)fields[0] != UnixMicroseconds.From(timestamp) || (double)fields[1] != value)
            {
                return false;
            }
        }

        return true;
    }

    private static List<string> NewSensors(int count)
    {
        var prefix = $"test.repair.{Guid.NewGuid():N}";
        return [.. Enumerable.Range(0, count).Select(i => $"{prefix}.{i}")];
    }
}
