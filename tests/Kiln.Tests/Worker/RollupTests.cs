using Kiln.Api.Readings;
using Kiln.Shared.Readings;
using Kiln.Tests.ServiceDefaults;
using Kiln.Worker.Ingestion;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Kiln.Tests.Worker;

/// <summary>
/// The one-minute rollups the Worker keeps as it stores readings, and the hours and days the Api derives from them,
/// against what PostgreSQL computes from the stored readings themselves. Against a real PostgreSQL.
/// </summary>
public sealed class RollupTests(PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>, IAsyncLifetime
{
    /// <summary>The rounding error of one double addition, relative to the operands (2^-53).</summary>
    private const double UnitRoundoff = 1.1102230246251565e-16;

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-11-21T22:17:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private readonly FakeTimeProvider _clock = new(Start);
    private readonly FakeLogger<ReadingBatchWriter> _log = new();
    private NpgsqlDataSource _database = null!;

    /// <summary>
    /// Sessions in India's zone (+05:30): a bucket computed in the session's zone instead of UTC would start at :30 and
    /// its days at 18:30 UTC, and fail these tests.
    /// </summary>
    public async Task InitializeAsync()
    {
        await (await postgres.MigratedDataSourceAsync()).DisposeAsync();
        _database = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Timezone = "Asia/Kolkata" }.ConnectionString);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task Rollups_of_10000_readings_in_random_batches_with_redeliveries_and_duplicates_match_the_stored_readings()
    {
        const string prefix = "roll10k";
        var random = new Random(20261124);
        var readings = DistinctReadings(random, prefix, sensors: 7, count: 10_000, over: TimeSpan.FromHours(60));
        var writer = new ReadingBatchWriter(_database, _clock, _log);

        long stored = 0;
        var sent = 0;
        var (fastWay, fastStored) = (true, 0);
        while (sent < readings.Count)
        {
            var size = Math.Min(random.Next(1, 400), readings.Count - sent);
            var batch = readings.GetRange(sent, size);
            sent += size;
            if (random.NextDouble() < 0.2)
            {
                // A device that re-sent a reading, maybe with another value: the first one stored counts, the copy never.
                var copy = batch[random.Next(batch.Count)];
                batch.Insert(random.Next(batch.Count + 1), copy with { Value = random.NextDouble() < 0.5 ? copy.Value : copy.Value + 1000 });
            }

            if (random.NextDouble() < 0.2 && sent > size)
            {
                // A redelivery after a rebalance: part of what came before comes again with the new readings.
                var from = random.Next(sent - size);
                batch.AddRange(readings.GetRange(from, Math.Min(random.Next(1, 300), sent - size - from)));
            }

            var conflicts = Conflicts();
            stored += await writer.WriteAsync(batch, CancellationToken.None);
            if (random.NextDouble() < 0.15)
            {
                stored += await writer.WriteAsync(batch, CancellationToken.None); // the whole batch again: nothing is new
            }

            fastStored += fastWay && Conflicts() == conflicts ? 1 : 0;
            fastWay &= Conflicts() == conflicts;
            if (random.NextDouble() < 0.5)
            {
                _clock.Advance(ReadingBatchWriter.SafeWayAfterConflict); // the next batch tries the fast way again
                fastWay = true;
            }
        }

        Assert.Equal(readings.Count, stored);
        Assert.True(Conflicts() >= 5 && fastStored >= 5, $"both ways of storing a batch must have been taken often: {Conflicts()} conflicts, {fastStored} fast");

        var rollups = await MinuteRollupsAsync(prefix);
        var raw = await RawAggregatesAsync(prefix, "minute");
        Assert.Equal(raw.Keys.Order(), rollups.Keys.Order());
        foreach (var (key, expected) in raw)
        {
            AssertSame(expected, rollups[key], $"{key.Sensor} minute {key.Start:O}");
        }

        foreach (var bucket in new[] { RollupBucket.Minute, RollupBucket.Hour, RollupBucket.Day })
        {
            await AssertDerivedMatchRawAsync(prefix, bucket, sensors: 7);
        }
    }

    [Fact]
    public async Task A_batch_stored_again_adds_nothing_to_its_rollups_whichever_way_it_goes()
    {
        const string prefix = "rollagain";
        var writer = new ReadingBatchWriter(_database, _clock, _log);
        List<ReadingMessage> batch =
        [
            new($"{prefix}.a", Start.AddSeconds(1), 10),
            new($"{prefix}.a", Start.AddSeconds(2), 30),
            new($"{prefix}.a", Start.AddSeconds(61), 5),
        ];

        await writer.WriteAsync(batch, CancellationToken.None);
        await writer.WriteAsync(batch, CancellationToken.None); // conflicts: the safe way
        await writer.WriteAsync(batch, CancellationToken.None); // within the window: the safe way at once
        _clock.Advance(ReadingBatchWriter.SafeWayAfterConflict);
        await writer.WriteAsync([.. batch, new($"{prefix}.a", Start.AddSeconds(3), -4)], CancellationToken.None);

        var rollups = await MinuteRollupsAsync(prefix);
        Assert.Equal(2, rollups.Count);
        Assert.Equal((3L, 36.0, -4.0, 30.0), Totals(rollups[($"{prefix}.a", Start)]));
        Assert.Equal((1L, 5.0, 5.0, 5.0), Totals(rollups[($"{prefix}.a", Start.AddMinutes(1))]));
    }

    [Fact]
    public async Task Two_replicas_adding_to_the_same_minutes_at_once_never_deadlock()
    {
        // A rebalance can hand a partition over while its old owner is still storing: both then add to the same rollup
        // rows. Each batch here holds every sensor once, one replica's in the reverse order of the other's.
        const string prefix = "rollboth";
        var (one, other) = (new ReadingBatchWriter(_database, _clock, _log), new ReadingBatchWriter(_database, _clock, _log));
        var sensors = Enumerable.Range(0, 300).Select(s => $"{prefix}.s{s:D3}.value").ToList();
        for (var round = 0; round < 20; round++)
        {
            var at = Start.AddSeconds(round * 2);
            await Task.WhenAll(
                Task.Run(() => one.WriteAsync([.. sensors.Select(s => new ReadingMessage(s, at, round))], CancellationToken.None)),
                Task.Run(() => other.WriteAsync([.. Enumerable.Reverse(sensors).Select(s => new ReadingMessage(s, at.AddSeconds(1), -round))], CancellationToken.None)));
        }

        var rollups = await MinuteRollupsAsync(prefix);
        Assert.Equal(sensors.Count, rollups.Count);
        Assert.All(rollups.Values, r => Assert.Equal((40L, 0.0, -19.0, 19.0), Totals(r)));
    }

    [Fact]
    public async Task Buckets_are_utc_minutes_hours_and_days_and_a_range_takes_every_bucket_it_overlaps_whole()
    {
        const string sensor = "rollutc.a.b";
        var writer = new ReadingBatchWriter(_database, _clock, _log);
        var day = DateTimeOffset.Parse("2026-11-20T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        await writer.WriteAsync(
        [
            new(sensor, day.AddTicks(-10), 1),                 // the previous day's last microsecond
            new(sensor, day, 2),
            new(sensor, day.AddMinutes(30).AddSeconds(59.999999), 3),
            new(sensor, day.AddHours(5).AddMinutes(45), 4),   // 11:15 in the session's zone, hour 5 in UTC
        ], CancellationToken.None);

        var store = new RollupStore(_database);
        var days = await store.ReadAsync(Request(sensor, RollupBucket.Day, day.AddHours(-1), day.AddHours(1)), CancellationToken.None);
        Assert.Equal([(day.AddDays(-1), 1L), (day, 3L)], days.Items.Select(i => (i.Start, i.Count)));

        var hours = await store.ReadAsync(Request(sensor, RollupBucket.Hour, day.AddMinutes(10), day.AddHours(5).AddMinutes(1)), CancellationToken.None);
        Assert.Equal([(day, 2L, 2.5), (day.AddHours(5), 1L, 4.0)], hours.Items.Select(i => (i.Start, i.Count, i.Avg)));

        var minutes = await store.ReadAsync(Request(sensor, RollupBucket.Minute, day.AddMinutes(30).AddSeconds(30), day.AddMinutes(31)), CancellationToken.None);
        Assert.Equal([(day.AddMinutes(30), 1L, 3.0, 3.0)], minutes.Items.Select(i => (i.Start, i.Count, i.Min, i.Max)));
    }

    /// <summary>Hours or days read through the Api's store equal PostgreSQL's aggregates of the raw readings by the same UTC buckets.</summary>
    private async Task AssertDerivedMatchRawAsync(string prefix, RollupBucket bucket, int sensors)
    {
        var raw = await RawAggregatesAsync(prefix, bucket.Field);
        var store = new RollupStore(_database);
        var derived = 0;
        for (var s = 0; s < sensors; s++)
        {
            var sensor = $"{prefix}.s{s}.value";
            var series = await store.ReadAsync(Request(sensor, bucket, Start.AddDays(-1), Start.AddDays(4)), CancellationToken.None);
            Assert.Equal(bucket.Name, series.Bucket);
            Assert.Equal(raw.Keys.Where(k => k.Sensor == sensor).Select(k => k.Start).Order(), series.Items.Select(i => i.Start));
            foreach (var item in series.Items)
            {
                var expected = raw[(sensor, item.Start)];
                var what = $"{sensor} {bucket.Name} {item.Start:O}";
                Assert.True((expected.Count, expected.Min, expected.Max) == (item.Count, item.Min, item.Max),
                    $"{what}: count, min, max {(item.Count, item.Min, item.Max)}, raw {(expected.Count, expected.Min, expected.Max)}");
                var rawAvg = expected.Sum / expected.Count;
                Assert.True(Math.Abs(item.Avg - rawAvg) <= (SumTolerance(expected) / expected.Count) + (2 * UnitRoundoff * Math.Abs(rawAvg)),
                    $"avg of {what}: {item.Avg:R}, raw {rawAvg:R}");
                derived++;
            }
        }

        Assert.True(derived > sensors, $"only {derived} {bucket.Name} buckets");
    }

    /// <summary>
    /// Counts, mins and maxes are exact. Sums are not compared bit for bit: a rollup adds each batch's subtotal to its row,
    /// the raw query adds the same values in another order, and double addition is not associative. Each way is off the
    /// exact sum by at most (n-1)·u·Σ|v| (u the unit roundoff), so the two differ by at most twice that.
    /// </summary>
    private static void AssertSame(Aggregate expected, Aggregate actual, string what)
    {
        Assert.True(expected.Count == actual.Count, $"count of {what}: {actual.Count}, raw {expected.Count}");
        Assert.True(expected.Min == actual.Min, $"min of {what}: {actual.Min}, raw {expected.Min}");
        Assert.True(expected.Max == actual.Max, $"max of {what}: {actual.Max}, raw {expected.Max}");
        Assert.True(Math.Abs(expected.Sum - actual.Sum) <= SumTolerance(expected), $"sum of {what}: {actual.Sum:R}, raw {expected.Sum:R}");
    }

    private static (long, double, double, double) Totals(Aggregate a) => (a.Count, a.Sum, a.Min, a.Max);

    private static double SumTolerance(Aggregate raw) => 2 * Math.Max(1, raw.Count - 1) * UnitRoundoff * raw.SumOfMagnitudes;

    private static RollupRequest Request(string sensor, RollupBucket bucket, DateTimeOffset from, DateTimeOffset to) =>
        RollupRequest.Parse(sensor, bucket.Name, from.ToString("O"), to.ToString("O")).Request!;

    /// <summary>
    /// <paramref name="count"/> readings of distinct (sensor, timestamp), in random order, at microsecond timestamps over
    /// <paramref name="over"/> from <see cref="Start"/>, with values of mixed sign and magnitude.
    /// </summary>
    private static List<ReadingMessage> DistinctReadings(Random random, string prefix, int sensors, int count, TimeSpan over)
    {
        var seen = new HashSet<(int, long)>();
        var readings = new List<ReadingMessage>(count);
        while (readings.Count < count)
        {
            var sensor = random.Next(sensors);
            var micros = random.NextInt64((long)over.TotalMicroseconds);
            if (seen.Add((sensor, micros)))
            {
                var value = (random.NextDouble() - 0.3) * Math.Pow(10, random.Next(-2, 5));
                readings.Add(new ReadingMessage($"{prefix}.s{sensor}.value", Start.AddTicks(micros * 10), value));
            }
        }

        return readings;
    }

    private int Conflicts() =>
        _log.Collector.GetSnapshot().Count(r => r.Level == LogLevel.Debug && r.Message.Contains("already stored", StringComparison.Ordinal));

    private async Task<Dictionary<(string Sensor, DateTimeOffset Start), Aggregate>> MinuteRollupsAsync(string prefix)
    {
        await using var command = _database.CreateCommand("SELECT sensor_id, bucket, count, sum, min, max, 0 FROM rollups_1m WHERE sensor_id LIKE $1 || '.%'");
        command.Parameters.AddWithValue(prefix);
        return await ReadAggregatesAsync(command);
    }

    private async Task<Dictionary<(string Sensor, DateTimeOffset Start), Aggregate>> RawAggregatesAsync(string prefix, string field)
    {
        await using var command = _database.CreateCommand("""
            SELECT sensor_id, date_trunc($2, ts, 'UTC'), count(*), sum(value), min(value), max(value), sum(abs(value))
            FROM readings WHERE sensor_id LIKE $1 || '.%'
            GROUP BY 1, 2
            """);
        command.Parameters.AddWithValue(prefix);
        command.Parameters.AddWithValue(field);
        return await ReadAggregatesAsync(command);
    }

    private static async Task<Dictionary<(string Sensor, DateTimeOffset Start), Aggregate>> ReadAggregatesAsync(NpgsqlCommand command)
    {
        var aggregates = new Dictionary<(string, DateTimeOffset), Aggregate>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            aggregates[(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1))] =
                new Aggregate(reader.GetInt64(2), reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(5), Convert.ToDouble(reader.GetValue(6), System.Globalization.CultureInfo.InvariantCulture));
        }

        return aggregates;
    }

    private sealed record Aggregate(long Count, double Sum, double Min, double Max, double SumOfMagnitudes);
}
