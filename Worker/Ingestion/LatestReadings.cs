using Kiln.Shared.Readings;
using Npgsql;

namespace Kiln.Worker.Ingestion;

/// <summary>The newest stored reading of each of many sensors, for repairing the cache from the system of record.</summary>
internal sealed class LatestReadings(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// One query for the lot. Each sensor is one backward probe of the (sensor_id, ts) key (LATERAL … LIMIT 1), so the
    /// cost does not grow with a sensor's history, as <c>DISTINCT ON (sensor_id) … = ANY($1)</c>, which reads every row
    /// of every sensor asked for, would. A sensor without readings is left out.
    /// </summary>
    public async Task<List<ReadingMessage>> FindAsync(IReadOnlyList<string> sensorIds, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT s.id, r.ts, r.value
            FROM unnest($1::text[]) AS s(id)
            CROSS JOIN LATERAL (SELECT ts, value FROM readings WHERE sensor_id = s.id ORDER BY ts DESC LIMIT 1) AS r
            """);
        command.Parameters.AddWithValue(sensorIds.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var latest = new List<ReadingMessage>(sensorIds.Count);
        while (await reader.ReadAsync(cancellationToken))
        {
            latest.Add(new ReadingMessage(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetDouble(2)));
        }

        return latest;
    }

    /// <summary>The next <paramref name="limit"/> sensor ids after <paramref name="after"/>, in order: a walk over every sensor.</summary>
    public async Task<List<string>> SensorIdsAfterAsync(string after, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM sensors WHERE id > $1 ORDER BY id LIMIT $2");
        command.Parameters.AddWithValue(after);
        command.Parameters.AddWithValue(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<string>(limit);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
