using System.Globalization;

namespace Kiln.Api.Readings;

/// <summary>A rollup bucket the Api answers: its name in the query, its length, and PostgreSQL's <c>date_trunc</c> field for it.</summary>
internal sealed record RollupBucket(string Name, TimeSpan Size, string Field)
{
    public static readonly RollupBucket Minute = new("1m", TimeSpan.FromMinutes(1), "minute");
    public static readonly RollupBucket Hour = new("1h", TimeSpan.FromHours(1), "hour");
    public static readonly RollupBucket Day = new("1d", TimeSpan.FromDays(1), "day");

    public static RollupBucket? Parse(string text) => text switch
    {
        "1m" => Minute,
        "1h" => Hour,
        "1d" => Day,
        _ => null,
    };

    /// <summary>The start of the bucket <paramref name="utcTicks"/> falls in. Buckets are UTC, each of a fixed length.</summary>
    public long Floor(long utcTicks) => utcTicks - (utcTicks % Size.Ticks);
}

/// <summary>
/// A validated rollups query: every bucket that overlaps [<see cref="From"/>, <see cref="To"/>), whole, so the first
/// starts at or before <c>from</c> and the last may end after <c>to</c>.
/// </summary>
internal sealed record RollupRequest(string SensorId, RollupBucket Bucket, DateTimeOffset From, DateTimeOffset To)
{
    /// <summary>The most buckets one request may span; a longer range is refused, with the reason, rather than cut short.</summary>
    public const int MaxBuckets = 10_000;

    private const string Buckets = "1m, 1h or 1d";

    /// <summary>The start of the first bucket.</summary>
    public DateTimeOffset FirstBucket => new(Bucket.Floor(From.UtcTicks), TimeSpan.Zero);

    /// <summary>The end of the last bucket (the latest instant .NET can name when that bucket would end after it).</summary>
    public DateTimeOffset LastBucketEnd
    {
        get
        {
            var end = Bucket.Floor(To.UtcTicks - 1) + Bucket.Size.Ticks;
            return end > DateTimeOffset.MaxValue.UtcTicks ? DateTimeOffset.MaxValue : new DateTimeOffset(end, TimeSpan.Zero);
        }
    }

    /// <summary>A request from the query's text (an empty parameter counts as absent), or the reason it is not one, in the client's terms.</summary>
    public static (RollupRequest? Request, string? Error) Parse(string id, string? bucket, string? from, string? to)
    {
        if (Kiln.Shared.Sensors.SensorId.Validate(id) is { } idProblem)
        {
            return (null, idProblem);
        }

        if (string.IsNullOrEmpty(bucket))
        {
            return (null, $"'bucket' is required: {Buckets}");
        }

        if (RollupBucket.Parse(bucket) is not { } size)
        {
            return (null, $"'bucket' must be {Buckets}");
        }

        if (string.IsNullOrEmpty(from) || string.IsNullOrEmpty(to))
        {
            return (null, $"'from' and 'to' are required, each {Rfc3339.Expectation}");
        }

        if (!ReadingPageRequest.TryParseBound("from", from, out var start, out var error) ||
            !ReadingPageRequest.TryParseBound("to", to, out var end, out error))
        {
            return (null, error);
        }

        if (start >= end)
        {
            return (null, "'from' must be before 'to'");
        }

        // Whole ticks: from 0001 to 9999 every count fits a long, and nothing is built that could overflow.
        var first = size.Floor(start!.Value.UtcTicks);
        var buckets = (end!.Value.UtcTicks - first + size.Size.Ticks - 1) / size.Size.Ticks;
        if (buckets > MaxBuckets)
        {
            return (null, string.Create(CultureInfo.InvariantCulture,
                $"'from' to 'to' spans {buckets:N0} buckets of {size.Name}; at most {MaxBuckets:N0} are answered per request: narrow the range or take a larger bucket"));
        }

        // PostgreSQL's timestamptz takes UTC only; any offset the client sent is the same instant in UTC.
        return (new RollupRequest(id, size, start.Value.ToUniversalTime(), end.Value.ToUniversalTime()), null);
    }
}
