using Kiln.Shared.Readings;
using Npgsql;
using NpgsqlTypes;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Stores a batch of readings in one transaction: binary COPY into a temporary table, then one
/// INSERT … ON CONFLICT DO NOTHING into <c>readings</c>. A redelivered reading is a no-op, so the
/// at-least-once consumer stores each reading exactly once. Returns how many rows were new.
/// </summary>
internal sealed class ReadingBatchWriter(NpgsqlDataSource dataSource)
{
    public async Task<int> WriteAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_readings (sensor_id text, ts timestamptz, value double precision) ON COMMIT DELETE ROWS",
            connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY incoming_readings (sensor_id, ts, value) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var reading in readings)
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(reading.SensorId, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(reading.Timestamp, NpgsqlDbType.TimestampTz, cancellationToken);
                await copy.WriteAsync(reading.Value, NpgsqlDbType.Double, cancellationToken);
            }

            await copy.CompleteAsync(cancellationToken);
        }

        // DISTINCT ON: one batch may carry the same reading twice (a device re-sent it quickly).
        await using var insert = new NpgsqlCommand("""
            INSERT INTO readings (sensor_id, ts, value)
            SELECT DISTINCT ON (sensor_id, ts) sensor_id, ts, value FROM incoming_readings ORDER BY sensor_id, ts
            ON CONFLICT (sensor_id, ts) DO NOTHING
            """, connection, transaction);
        var inserted = await insert.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return inserted;
    }
}
