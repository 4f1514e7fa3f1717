using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiln.Worker.Ingestion;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Kiln.Worker.Retention;

/// <summary>What one pass deleted.</summary>
internal sealed record RetentionPass(long Readings, long Rollups);

/// <summary>
/// Deletes raw readings older than <see cref="RetentionOptions.Readings"/> and one-minute rollups older than
/// <see cref="RetentionOptions.Rollups"/>, in passes: the first soon after the Worker starts, then one every
/// <see cref="RetentionOptions.Interval"/>. One replica at a time runs a pass (a PostgreSQL advisory lock; the others
/// skip theirs). A pass never blocks ingest: it deletes a bounded batch per statement, each its own short transaction,
/// and pauses between batches. A batch finds its rows through the primary key, sensor by sensor in the order of
/// <c>sensors</c>, oldest first, so the tables need no index on time that every insert would have to maintain.
/// </summary>
internal sealed class RetentionJob : BackgroundService
{
    /// <summary>Spells "kilnrete" (any constant works; this one is recognisable in pg_locks and apart from the migrator's).</summary>
    private const long AdvisoryLockKey = 0x6B696C6E72657465;

    private static readonly RetainedTable Readings = new("readings", "ts");
    private static readonly RetainedTable Rollups = new("rollups_1m", "bucket");

    private readonly NpgsqlDataSource _dataSource;
    private readonly RetentionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RetentionJob> _logger;
    private readonly Counter<long> _deleted;

    public RetentionJob(NpgsqlDataSource dataSource, IOptions<RetentionOptions> options, TimeProvider time, IMeterFactory meters, ILogger<RetentionJob> logger)
    {
        _dataSource = dataSource;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _deleted = meters.Create(LatestValueMetrics.MeterName).CreateCounter<long>("kiln.retention.deleted", "{row}",
            "Rows deleted because they were older than their table's retention period, tagged by table.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var wait = _options.FirstPassAfter;
        while (true)
        {
            await Task.Delay(wait, _time, stoppingToken);
            wait = _options.Interval;
            try
            {
                await RunPassAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Nothing is lost by a failed pass: what it did not delete, the next one does. Whatever went wrong, it
                // must not stop the host, which would stop ingestion with it.
                _logger.LogWarning(ex, "Retention pass failed; the next is in {Interval}", _options.Interval);
            }
        }
    }

    /// <summary>One pass over both tables; null when another replica is running one.</summary>
    public async Task<RetentionPass?> RunPassAsync(CancellationToken cancellationToken)
    {
        // A session lock on a connection held for the pass, so that the batches can each commit on their own. Should
        // the unlock not happen, closing the connection releases it (the pool resets a connection it takes back).
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        if (!await ScalarAsync<bool>(connection, $"SELECT pg_try_advisory_lock({AdvisoryLockKey})", cancellationToken))
        {
            _logger.LogDebug("Another Worker replica is running a retention pass; skipping this one");
            return null;
        }

        try
        {
            var now = _time.GetUtcNow();
            var started = _time.GetTimestamp();
            var readingsBefore = now - _options.Readings;
            var rollupsBefore = now - _options.Rollups;
            var (readings, readingBatches) = await DeleteOlderAsync(connection, Readings, readingsBefore, cancellationToken);
            var (rollups, rollupBatches) = await DeleteOlderAsync(connection, Rollups, rollupsBefore, cancellationToken);
            _logger.LogInformation(
                "Retention deleted {Readings} readings older than {ReadingsBefore:O} and {Rollups} one-minute rollups older than {RollupsBefore:O} in {Batches} batches, {Seconds:0.0} s",
                readings, readingsBefore, rollups, rollupsBefore, readingBatches + rollupBatches, _time.GetElapsedTime(started).TotalSeconds);
            return new RetentionPass(readings, rollups);
        }
        finally
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await ScalarAsync<bool>(connection, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
            }
        }
    }

    private async Task<(long Deleted, int Batches)> DeleteOlderAsync(NpgsqlConnection connection, RetainedTable table, DateTimeOffset before, CancellationToken cancellationToken)
    {
        long deleted = 0;
        var batches = 0;
        var fromSensor = ""; // sorts before every id
        while (true)
        {
            await using var command = new NpgsqlCommand(table.DeleteBatch, connection);
            command.Parameters.AddWithValue(before);
            command.Parameters.AddWithValue(fromSensor);
            command.Parameters.AddWithValue(_options.BatchSize);
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                var count = reader.GetInt64(0);
                batches++;
                deleted += count;
                if (count > 0)
                {
                    _deleted.Add(count, new KeyValuePair<string, object?>("table", table.Name));
                }

                if (count < _options.BatchSize)
                {
                    return (deleted, batches); // the batch found fewer than it could take: nothing older is left
                }

                // The last sensor of a full batch may have more: the next batch starts at it.
                fromSensor = reader.GetString(1);
            }

            await Task.Delay(_options.PauseBetweenBatches, _time, cancellationToken);
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>A table with a primary key (sensor_id, <paramref name="TimeColumn"/>), and its batch delete.</summary>
    private sealed record RetainedTable(string Name, string TimeColumn)
    {
        /// <summary>
        /// Deletes up to $3 rows older than $1, from the sensors from $2 on in id order, each sensor's oldest first:
        /// a short range of the primary key per sensor (the LATERAL), stopped as soon as the batch is full. Answers how
        /// many went and the last sensor they belonged to. Sensors are ordered in a subquery, which PostgreSQL keeps as
        /// it is, so the batch takes them in that order. The rows go by their physical address (ctid, a TID scan): a
        /// join on the key would let the planner hash the batch against a scan of the whole table. Readings are never
        /// updated, and an old rollup no longer is, so no address moves meanwhile; one that did would only be left for
        /// the next pass.
        /// </summary>
        public string DeleteBatch { get; } = $"""
            WITH doomed AS (
                SELECT old.ctid AS row_address
                FROM (SELECT id FROM sensors WHERE id >= $2 ORDER BY id) s
                CROSS JOIN LATERAL (
                    SELECT ctid FROM {Name} WHERE sensor_id = s.id AND {TimeColumn} < $1 ORDER BY {TimeColumn} LIMIT $3
                ) old
                LIMIT $3
            ), gone AS (
                DELETE FROM {Name} WHERE ctid = ANY (ARRAY(SELECT row_address FROM doomed))
                RETURNING sensor_id
            )
            SELECT count(*), max(sensor_id) FROM gone
            """;
    }
}
