using Kiln.Shared.Readings;
using Kiln.Tests.ServiceDefaults;
using Kiln.Worker.Ingestion;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Kiln.Tests.Worker;

/// <summary>
/// Storing a batch again stores nothing twice, whichever way it goes: straight COPY for new readings, the merge for a
/// batch holding stored ones (and, for a while after, for every batch). Against a real PostgreSQL.
/// </summary>
public sealed class ReadingBatchWriterTests(PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-11-24T06:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    private readonly FakeTimeProvider _clock = new(Start);
    private readonly FakeLogger<ReadingBatchWriter> _log = new();
    private NpgsqlDataSource _database = null!;

    public async Task InitializeAsync() => _database = await postgres.MigratedDataSourceAsync();

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task New_readings_are_copied_straight_in()
    {
        var writer = new ReadingBatchWriter(_database, _clock, _log);

        Assert.Equal(3, await writer.WriteAsync(Readings("fresh", 0, 3), CancellationToken.None));

        Assert.Equal(3, await CountAsync("fresh"));
        Assert.Empty(Conflicts());
    }

    [Fact]
    public async Task A_redelivered_batch_stores_only_what_is_new_and_keeps_what_was_stored()
    {
        var writer = new ReadingBatchWriter(_database, _clock, _log);
        await writer.WriteAsync(Readings("again", 0, 2), CancellationToken.None);

        var redelivered = Readings("again", 0, 4, value: 99);
        Assert.Equal(2, await writer.WriteAsync(redelivered, CancellationToken.None));

        Assert.Equal(4, await CountAsync("again"));
        Assert.Equal(0, await ValueAsync("again.0")); // the first store wins; a redelivery changes nothing
        Assert.Equal(99, await ValueAsync("again.3"));
        Assert.Single(Conflicts());
    }

    [Fact]
    public async Task A_reading_twice_in_one_batch_is_stored_once()
    {
        var writer = new ReadingBatchWriter(_database, _clock, _log);
        var batch = Readings("twice", 0, 2);

        Assert.Equal(2, await writer.WriteAsync([.. batch, batch[1]], CancellationToken.None));

        Assert.Equal(2, await CountAsync("twice"));
    }

    [Fact]
    public async Task After_a_conflict_batches_take_the_safe_way_for_a_while_then_the_fast_one_again()
    {
        var writer = new ReadingBatchWriter(_database, _clock, _log);
        await writer.WriteAsync(Readings("runs", 0, 1), CancellationToken.None);
        await writer.WriteAsync(Readings("runs", 0, 2), CancellationToken.None); // conflicts: the safe way from now on
        Assert.Single(Conflicts());

        // Within the window a redelivery goes the safe way at once: no second conflict.
        Assert.Equal(1, await writer.WriteAsync(Readings("runs", 1, 3), CancellationToken.None));
        Assert.Single(Conflicts());

        _clock.Advance(ReadingBatchWriter.SafeWayAfterConflict);
        Assert.Equal(1, await writer.WriteAsync(Readings("runs", 2, 4), CancellationToken.None)); // tried straight again: conflicts
        Assert.Equal(2, Conflicts().Count);
        Assert.Equal(4, await CountAsync("runs"));
    }

    /// <summary>Readings <paramref name="from"/> to <paramref name="to"/> (exclusive) of sensors named <c>prefix.i</c>, one per sensor.</summary>
    private static List<ReadingMessage> Readings(string prefix, int from, int to, double? value = null) =>
        [.. Enumerable.Range(from, to - from).Select(i => new ReadingMessage($"{prefix}.{i}", Start.AddSeconds(-i), value ?? i))];

    private IReadOnlyList<FakeLogRecord> Conflicts() =>
        [.. _log.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Debug && r.Message.Contains("already stored", StringComparison.Ordinal))];

    private async Task<long> CountAsync(string prefix)
    {
        await using var command = _database.CreateCommand("SELECT count(*) FROM readings WHERE sensor_id LIKE $1 || '.%'");
        command.Parameters.AddWithValue(prefix);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<double> ValueAsync(string sensor)
    {
        await using var command = _database.CreateCommand("SELECT value FROM readings WHERE sensor_id = $1");
        command.Parameters.AddWithValue(sensor);
        return (double)(await command.ExecuteScalarAsync())!;
    }
}
