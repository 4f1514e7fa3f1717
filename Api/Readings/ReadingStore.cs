using Npgsql;

namespace Kiln.Api.Readings;

/// <summary>Reads stored readings, oldest first, a page at a time.</summary>
internal sealed class ReadingStore(NpgsqlDataSource dataSource)
{
    public async Task<ReadingPage> PageAsync(ReadingPageRequest request, CancellationToken cancellationToken)
    {
        // One row more than asked tells whether another page follows, without counting.
        await using var command = dataSource.CreateCommand("""
            SELECT ts, value FROM readings
            WHERE sensor_id = $1 AND ts >= $2 AND ts < $3 AND ($4::timestamptz IS NULL OR ts > $4)
            ORDER BY ts
            LIMIT $5
            """);
        command.Parameters.AddWithValue(request.SensorId);
        // Open ends are DateTimeOffset.MinValue/MaxValue, which Npgsql sends as -infinity/infinity.
        command.Parameters.AddWithValue(request.From);
        command.Parameters.AddWithValue(request.To);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = request.After is { } after ? after : DBNull.Value });
        command.Parameters.AddWithValue(request.Limit + 1);

        var items = new List<ReadingItem>(Math.Min(request.Limit, 1024));
        var more = false;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (items.Count == request.Limit)
            {
                more = true;
                break;
            }

            items.Add(new ReadingItem(reader.GetFieldValue<DateTimeOffset>(0), reader.GetDouble(1)));
        }

        return new ReadingPage(items, more ? ReadingPageRequest.EncodeCursor(items[^1].Timestamp) : null);
    }
}
