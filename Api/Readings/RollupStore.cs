using Npgsql;

namespace Kiln.Api.Readings;

internal sealed record RollupItem(DateTimeOffset Start, long Count, double Min, double Max, double Avg);

internal sealed record RollupSeries(string SensorId, string Bucket, IReadOnlyList<RollupItem> Items);

/// <summary>
/// Reads a sensor's rollups. The Worker keeps one row per sensor and UTC minute (<c>rollups_1m</c>); hours and days are
/// summed from those rows here: counts and sums add up, the min is the least min, the max the greatest max.
/// </summary>
internal sealed class RollupStore(NpgsqlDataSource dataSource)
{
    public async Task<RollupSeries> ReadAsync(RollupRequest request, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT date_trunc($2, bucket, 'UTC'), sum(count)::bigint, sum(sum), min(min), max(max)
            FROM rollups_1m
            WHERE sensor_id = $1 AND bucket >= $3 AND bucket < $4
            GROUP BY 1
            ORDER BY 1
            """);
        command.Parameters.AddWithValue(request.SensorId);
        command.Parameters.AddWithValue(request.Bucket.Field);
        // The minutes of whole buckets; an end .NET cannot name goes as infinity.
        command.Parameters.AddWithValue(request.FirstBucket);
        command.Parameters.AddWithValue(request.LastBucketEnd);

        var items = new List<RollupItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var count = reader.GetInt64(1);
            items.Add(new RollupItem(reader.GetFieldValue<DateTimeOffset>(0), count, reader.GetDouble(3), reader.GetDouble(4), reader.GetDouble(2) / count));
        }

        return new RollupSeries(request.SensorId, request.Bucket.Name, items);
    }
}
