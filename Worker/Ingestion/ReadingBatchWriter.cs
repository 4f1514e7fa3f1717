using Kiln.Shared.Readings;
using Kiln.Worker.Rollups;
using Npgsql;
using NpgsqlTypes;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Stores a batch of readings so that storing it again is a no-op: the at-least-once consumer then stores each reading
/// exactly once. Returns how many rows were new.
/// <para>
/// A batch is first copied straight into <c>readings</c> (binary COPY, one statement, all or nothing): the fast path,
/// which costs PostgreSQL about half of the alternative. A batch holding a reading already stored (a redelivery after a
/// rebalance or a crash, a device sending a reading twice) fails that COPY on the primary key and is stored the safe way:
/// COPY into a temporary table, then one <c>INSERT … ON CONFLICT DO NOTHING</c>. Redelivered batches come in runs, so
/// after such a conflict the following batches take the safe way at once for <see cref="SafeWayAfterConflict"/>.
/// </para>
/// <para>
/// Either way the readings that were really new are added to their one-minute rollups in the same transaction, so a
/// reading is counted exactly when it is stored: on the fast path every reading of the batch is new, and their totals,
/// added up here, go in one more statement; the safe way totals the rows its insert returns, in the same statement.
/// </para>
/// </summary>
internal sealed class ReadingBatchWriter(NpgsqlDataSource dataSource, TimeProvider time, ILogger<ReadingBatchWriter> logger)
{
    internal static readonly TimeSpan SafeWayAfterConflict = TimeSpan.FromSeconds(10);

    private long _fastAgainAt;

    public async Task<int> WriteAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        if (time.GetTimestamp() >= Volatile.Read(ref _fastAgainAt))
        {
            try
            {
                return await CopyAsync(readings, cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                logger.LogDebug("A batch of {Count} readings holds some already stored; storing it without them, and the next batches for {Seconds} s",
                    readings.Count, SafeWayAfterConflict.TotalSeconds);
                Volatile.Write(ref _fastAgainAt, time.GetTimestamp() + (long)(SafeWayAfterConflict.TotalSeconds * time.TimestampFrequency));
            }
        }

        return await MergeAsync(readings, cancellationToken);
    }

    private async Task<int> CopyAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        var rollups = MinuteRollups.Of(readings); // before the transaction, which stays as short as it can
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var copied = await WriteRowsAsync(connection, "readings", readings, cancellationToken);
        await rollups.AddAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (int)copied;
    }

    private async Task<int> MergeAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_readings (sensor_id text, ts timestamptz, value double precision) ON COMMIT DELETE ROWS",
            connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await WriteRowsAsync(connection, "incoming_readings", readings, cancellationToken);

        await using var insert = new NpgsqlCommand(InsertNewAndAddToRollups, connection, transaction);
        var inserted = (long)(await insert.ExecuteScalarAsync(cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return (int)inserted;
    }

    /// <summary>
    /// Inserts the incoming readings not stored yet and adds exactly those (what the insert returns) to their rollups;
    /// answers how many were new. DISTINCT ON: one batch may carry the same reading twice (a device re-sent it quickly).
    /// </summary>
    private static readonly string InsertNewAndAddToRollups = $"""
        WITH inserted AS (
            INSERT INTO readings (sensor_id, ts, value)
            SELECT DISTINCT ON (sensor_id, ts) sensor_id, ts, value FROM incoming_readings ORDER BY sensor_id, ts
            ON CONFLICT (sensor_id, ts) DO NOTHING
            RETURNING sensor_id, ts, value
        ), rolled_up AS (
            {MinuteRollups.AddRowsOf(InsertedPerMinute)}
        )
        SELECT count(*) FROM inserted
        """;

    /// <summary>The inserted rows' totals per sensor and UTC minute, in the fast path's order (ordinal, whatever the database's collation).</summary>
    private const string InsertedPerMinute = """
        SELECT sensor_id, date_trunc('minute', ts, 'UTC'), count(*), sum(value), min(value), max(value)
        FROM inserted GROUP BY 1, 2 ORDER BY sensor_id COLLATE "C", 2
        """;

    private static async Task<ulong> WriteRowsAsync(
        NpgsqlConnection connection, string table, IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        await using var copy = await connection.BeginBinaryImportAsync(
            $"COPY {table} (sensor_id, ts, value) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var reading in readings)
        {
            await copy.StartRowAsync(cancellationToken);
            await copy.WriteAsync(reading.SensorId, NpgsqlDbType.Text, cancellationToken);
            await copy.WriteAsync(reading.Timestamp, NpgsqlDbType.TimestampTz, cancellationToken);
            await copy.WriteAsync(reading.Value, NpgsqlDbType.Double, cancellationToken);
        }

        return await copy.CompleteAsync(cancellationToken);
    }
}
