using System.Diagnostics.Metrics;
using Kiln.Shared.Readings;
using Kiln.Tests.ServiceDefaults;
using Kiln.Worker.Ingestion;
using Kiln.Worker.Retention;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Kiln.Tests.Worker;

/// <summary>The retention job against a real PostgreSQL, its clock moved by the test.</summary>
public sealed class RetentionTests(PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>, IAsyncLifetime, IDisposable
{
    /// <summary>How long a pass that should not wait on the clock may take before the test calls it stuck.</summary>
    private static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(10);

    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-11-24T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private readonly WaitingClock _clock = new(Now);
    private readonly FakeLogger<RetentionJob> _log = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private NpgsqlDataSource _database = null!;

    public async Task InitializeAsync() => _database = await postgres.MigratedDataSourceAsync();

    public async Task DisposeAsync() => await _database.DisposeAsync();

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task Readings_older_than_their_period_go_newer_ones_stay_and_rollups_are_kept_longer()
    {
        const string prefix = "keep";
        await StoreAsync(prefix, sensors: 3, Now.AddDays(-401), Now.AddDays(-45), Now.AddDays(-30).AddMinutes(-1), Now.AddDays(-30).AddMinutes(1), Now.AddDays(-1));
        var deleted = new MetricCollector<long>(Meters, LatestValueMetrics.MeterName, "kiln.retention.deleted");

        var pass = await Job(batchSize: 4).RunPassAsync(CancellationToken.None);

        Assert.Equal(new RetentionPass(Readings: 9, Rollups: 3), pass);
        Assert.Equal([Now.AddDays(-30).AddMinutes(1), Now.AddDays(-1)], await TimestampsAsync("readings", "ts", prefix + ".s0.value"));
        Assert.Equal(
            [MinuteOf(Now.AddDays(-45)), MinuteOf(Now.AddDays(-30).AddMinutes(-1)), MinuteOf(Now.AddDays(-30).AddMinutes(1)), MinuteOf(Now.AddDays(-1))],
            await TimestampsAsync("rollups_1m", "bucket", prefix + ".s0.value"));
        Assert.Equal(9, deleted.GetMeasurementSnapshot().Where(m => (string?)m.Tags["table"] == "readings").Sum(m => m.Value));
        Assert.Equal(3, deleted.GetMeasurementSnapshot().Where(m => (string?)m.Tags["table"] == "rollups_1m").Sum(m => m.Value));
        var line = Assert.Single(_log.Collector.GetSnapshot(), l => l.Level == LogLevel.Information).Message;
        Assert.Contains("deleted 9 readings older than 2026-10-25T12:00:00", line, StringComparison.Ordinal);
        Assert.Contains("3 one-minute rollups older than 2025-10-20T12:00:00", line, StringComparison.Ordinal);

        Assert.Equal(new RetentionPass(0, 0), await Job(batchSize: 4).RunPassAsync(CancellationToken.None)); // nothing older is left
    }

    [Fact]
    public async Task Rows_go_in_bounded_batches_each_committed_before_the_pause_that_follows_it()
    {
        const string prefix = "batches";
        var old = Enumerable.Range(0, 105).Select(i => Now.AddDays(-40).AddSeconds(-i)).ToArray();
        await StoreAsync(prefix, sensors: 10, old); // 1,050 readings, every one past its period
        var deleted = new MetricCollector<long>(Meters, LatestValueMetrics.MeterName, "kiln.retention.deleted");
        var job = Job(batchSize: 100, pause: TimeSpan.FromSeconds(1));

        var pass = job.RunPassAsync(CancellationToken.None);

        // The job waits on its (fake) clock after each full batch: what it deleted so far is visible to another session.
        for (var batch = 1; batch <= 10; batch++)
        {
            await _clock.WaitersAsync(batch, $"the pause after batch {batch}");
            Assert.Equal(1_050 - (batch * 100), await CountAsync(prefix));
            Assert.False(pass.IsCompleted);
            _clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(1_050, (await pass.WaitAsync(AnswerWithin))!.Readings);
        Assert.Equal(0, await CountAsync(prefix));
        Assert.Equal([.. Enumerable.Repeat(100L, 10), 50L],
            deleted.GetMeasurementSnapshot().Where(m => (string?)m.Tags["table"] == "readings").Select(m => m.Value));
    }

    [Fact]
    public async Task Two_jobs_at_once_never_both_run_a_pass()
    {
        const string prefix = "twice";
        await StoreAsync(prefix, sensors: 2, [.. Enumerable.Range(0, 30).Select(i => Now.AddDays(-40).AddMinutes(-i))]);
        var (first, second) = (Job(batchSize: 10, pause: TimeSpan.FromSeconds(1)), Job(batchSize: 10, pause: TimeSpan.FromSeconds(1)));

        var running = first.RunPassAsync(CancellationToken.None);
        await _clock.WaitersAsync(1, "the first job's pause after its first batch");
        Assert.Equal(50, await CountAsync(prefix));

        // The first holds the lock: the second skips its pass (were it to run, it would wait on the clock and time out).
        Assert.Null(await second.RunPassAsync(CancellationToken.None).WaitAsync(AnswerWithin));
        Assert.Equal(50, await CountAsync(prefix));

        await Eventually.TrueAsync(() => { _clock.Advance(TimeSpan.FromSeconds(1)); return running.IsCompleted; }, TimeSpan.FromSeconds(10), "the first job's pass");
        Assert.Equal(new RetentionPass(60, 0), await running);
        Assert.Equal(new RetentionPass(0, 0), await second.RunPassAsync(CancellationToken.None)); // the lock is free again
    }

    [Fact]
    public async Task The_job_runs_its_first_pass_soon_after_it_starts_and_then_every_interval()
    {
        const string prefix = "hourly";
        await StoreAsync(prefix, sensors: 1, Now.AddDays(-31), Now.AddDays(-29).AddHours(-12), Now.AddDays(-29).AddHours(1));
        using var job = Job(batchSize: 100);

        await job.StartAsync(CancellationToken.None);
        await _clock.WaitersAsync(1, "the wait for the first pass");
        _clock.Advance(TimeSpan.FromMinutes(1));
        await Eventually.TrueAsync(async () => await CountAsync(prefix) == 2, TimeSpan.FromSeconds(10), "the first pass");

        await _clock.WaitersAsync(2, "the wait for the next pass");
        _clock.Advance(TimeSpan.FromDays(1)); // a day on: one more reading has aged past 30 days
        await Eventually.TrueAsync(async () => await CountAsync(prefix) == 1, TimeSpan.FromSeconds(10), "the next pass");
        await job.StopAsync(CancellationToken.None);
        Assert.Equal([TimeSpan.FromMinutes(1), TimeSpan.FromHours(1)], _clock.Waits.Take(2));
    }

    [Theory]
    [InlineData("00:30:00", "400.00:00:00", 5000, "Readings must be at least 01:00:00")]
    [InlineData("30.00:00:00", "7.00:00:00", 5000, "Rollups (7.00:00:00) must be at least Kiln:Retention:Readings (30.00:00:00)")]
    [InlineData("30.00:00:00", "400.00:00:00", 0, "BatchSize must be from 1 to 100000")]
    [InlineData("30.00:00:00", "400.00:00:00", 1_000_000, "BatchSize must be from 1 to 100000")]
    public void Settings_that_make_no_sense_are_refused_with_the_reason(string readings, string rollups, int batchSize, string reason)
    {
        var options = new RetentionOptions { Readings = TimeSpan.Parse(readings, System.Globalization.CultureInfo.InvariantCulture), Rollups = TimeSpan.Parse(rollups, System.Globalization.CultureInfo.InvariantCulture), BatchSize = batchSize };
        var result = new RetentionOptionsValidation().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(reason, result.FailureMessage, StringComparison.Ordinal);
        Assert.True(new RetentionOptionsValidation().Validate(null, new RetentionOptions()).Succeeded);
    }

    private IMeterFactory Meters => _services.GetRequiredService<IMeterFactory>();

    /// <summary>A job keeping readings 30 days (the tests' time lines are written for that, whatever the default) and rollups 400.</summary>
    private RetentionJob Job(int batchSize, TimeSpan? pause = null) =>
        new(_database, Options.Create(new RetentionOptions
        {
            Readings = TimeSpan.FromDays(30), Rollups = TimeSpan.FromDays(400), BatchSize = batchSize, PauseBetweenBatches = pause ?? TimeSpan.Zero,
        }), _clock, Meters, _log);

    /// <summary>Readings at each of <paramref name="timestamps"/> for sensors <c>prefix.sN.value</c>, stored as the Worker stores them (so with rollups).</summary>
    private async Task StoreAsync(string prefix, int sensors, params DateTimeOffset[] timestamps)
    {
        for (var s = 0; s < sensors; s++)
        {
            await using var sensor = _database.CreateCommand("INSERT INTO sensors (id, site, kind, unit) VALUES ($1, $2, 'temperature', 'C')");
            sensor.Parameters.AddWithValue($"{prefix}.s{s}.value");
            sensor.Parameters.AddWithValue(prefix);
            await sensor.ExecuteNonQueryAsync();
        }

        var writer = new ReadingBatchWriter(_database, TimeProvider.System, NullLogger<ReadingBatchWriter>.Instance);
        List<ReadingMessage> readings = [.. Enumerable.Range(0, sensors).SelectMany(s => timestamps.Select(t => new ReadingMessage($"{prefix}.s{s}.value", t, s)))];
        Assert.Equal(readings.Count, await writer.WriteAsync(readings, CancellationToken.None));
    }

    private async Task<long> CountAsync(string prefix)
    {
        await using var command = _database.CreateCommand("SELECT count(*) FROM readings WHERE sensor_id LIKE $1 || '.%'");
        command.Parameters.AddWithValue(prefix);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<List<DateTimeOffset>> TimestampsAsync(string table, string column, string sensor)
    {
        await using var command = _database.CreateCommand($"SELECT {column} FROM {table} WHERE sensor_id = $1 ORDER BY 1");
        command.Parameters.AddWithValue(sensor);
        await using var reader = await command.ExecuteReaderAsync();
        List<DateTimeOffset> timestamps = [];
        while (await reader.ReadAsync())
        {
            timestamps.Add(reader.GetFieldValue<DateTimeOffset>(0));
        }

        return timestamps;
    }

    private static DateTimeOffset MinuteOf(DateTimeOffset t) => new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerMinute), TimeSpan.Zero);

    /// <summary>A fake clock that tells how many waits have begun on it, so a test moves it only once the job is waiting.</summary>
    private sealed class WaitingClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private readonly List<TimeSpan> _waits = [];

        public IReadOnlyList<TimeSpan> Waits
        {
            get
            {
                lock (_waits)
                {
                    return [.. _waits];
                }
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            lock (_waits)
            {
                _waits.Add(dueTime);
            }

            return timer;
        }

        public Task WaitersAsync(int count, string what) => Eventually.TrueAsync(() => Waits.Count >= count, TimeSpan.FromSeconds(10), what);
    }
}
