using Kiln.Shared.Readings;
using Npgsql;

namespace Kiln.Worker.Rollups;

/// <summary>
/// The count, sum, min and max of a batch's readings per sensor and UTC minute, and the statement that adds them to
/// <c>rollups_1m</c>. Rows are ordered by (sensor, minute), so two Worker replicas adding to the same rows (during a
/// rebalance) lock them in the same order and never deadlock.
/// </summary>
internal sealed class MinuteRollups
{
    private static readonly string AddArrays =
        AddRowsOf("SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[])");

    private readonly string[] _sensorIds;
    private readonly DateTimeOffset[] _buckets;
    private readonly long[] _counts;
    private readonly double[] _sums;
    private readonly double[] _mins;
    private readonly double[] _maxes;

    private MinuteRollups(int rows)
    {
        _sensorIds = new string[rows];
        _buckets = new DateTimeOffset[rows];
        _counts = new long[rows];
        _sums = new double[rows];
        _mins = new double[rows];
        _maxes = new double[rows];
    }

    /// <summary>
    /// The statement that adds the rows <paramref name="select"/> yields (sensor, minute, count, sum, min, max) to
    /// <c>rollups_1m</c>, merging each into the row already there.
    /// </summary>
    public static string AddRowsOf(string select) => $"""
        INSERT INTO rollups_1m AS r (sensor_id, bucket, count, sum, min, max)
        {select}
        ON CONFLICT (sensor_id, bucket) DO UPDATE SET
            count = r.count + excluded.count,
            sum = r.sum + excluded.sum,
            min = least(r.min, excluded.min),
            max = greatest(r.max, excluded.max)
        """;

    /// <summary>The UTC minute a timestamp falls in (PostgreSQL's <c>date_trunc('minute', ts, 'UTC')</c>).</summary>
    public static DateTimeOffset MinuteOf(DateTimeOffset timestamp) =>
        new(timestamp.UtcTicks - (timestamp.UtcTicks % TimeSpan.TicksPerMinute), TimeSpan.Zero);

    /// <summary>The rollups of <paramref name="readings"/>, every one of which counts (the caller knows them all to be new and distinct).</summary>
    public static MinuteRollups Of(IReadOnlyList<ReadingMessage> readings)
    {
        var totals = new Dictionary<(string SensorId, long Minute), Totals>();
        foreach (var reading in readings)
        {
            var key = (reading.SensorId, MinuteOf(reading.Timestamp).UtcTicks);
            totals[key] = totals.TryGetValue(key, out var t) ? t.Add(reading.Value) : new Totals(1, reading.Value, reading.Value, reading.Value);
        }

        var keys = totals.Keys.ToArray();
        Array.Sort(keys, static (a, b) => string.CompareOrdinal(a.SensorId, b.SensorId) is var bySensor and not 0 ? bySensor : a.Minute.CompareTo(b.Minute));
        var rollups = new MinuteRollups(keys.Length);
        for (var i = 0; i < keys.Length; i++)
        {
            var t = totals[keys[i]];
            rollups._sensorIds[i] = keys[i].SensorId;
            rollups._buckets[i] = new DateTimeOffset(keys[i].Minute, TimeSpan.Zero);
            rollups._counts[i] = t.Count;
            rollups._sums[i] = t.Sum;
            rollups._mins[i] = t.Min;
            rollups._maxes[i] = t.Max;
        }

        return rollups;
    }

    /// <summary>One statement that adds these rows to <c>rollups_1m</c> in <paramref name="transaction"/>.</summary>
    public async Task AddAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var add = new NpgsqlCommand(AddArrays, connection, transaction);
        add.Parameters.AddWithValue(_sensorIds);
        add.Parameters.AddWithValue(_buckets);
        add.Parameters.AddWithValue(_counts);
        add.Parameters.AddWithValue(_sums);
        add.Parameters.AddWithValue(_mins);
        add.Parameters.AddWithValue(_maxes);
        await add.ExecuteNonQueryAsync(cancellationToken);
    }

    private readonly record struct Totals(long Count, double Sum, double Min, double Max)
    {
        public Totals Add(double value) => new(Count + 1, Sum + value, Math.Min(Min, value), Math.Max(Max, value));
    }
}
