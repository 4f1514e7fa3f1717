namespace Kiln.Web.Sensors;

/// <summary>
/// A range the sensor page's chart can show, and the rollups it is drawn from: minutes up to a day, hours for a week, days
/// for a month, so that no chart asks the Api for more than 1,440 buckets. The last hour is drawn from its readings
/// themselves when there are not too many (the page decides), its minutes otherwise.
/// </summary>
internal sealed record ChartRange(string Key, string Label, string Title, TimeSpan Span, string Bucket, TimeSpan BucketSize)
{
    public static readonly ChartRange LastHour = new("1h", "1 h", "Last hour", TimeSpan.FromHours(1), "1m", TimeSpan.FromMinutes(1));

    public static readonly IReadOnlyList<ChartRange> All =
    [
        LastHour,
        new("6h", "6 h", "Last 6 hours", TimeSpan.FromHours(6), "1m", TimeSpan.FromMinutes(1)),
        new("24h", "24 h", "Last 24 hours", TimeSpan.FromHours(24), "1m", TimeSpan.FromMinutes(1)),
        new("7d", "7 d", "Last 7 days", TimeSpan.FromDays(7), "1h", TimeSpan.FromHours(1)),
        new("30d", "30 d", "Last 30 days", TimeSpan.FromDays(30), "1d", TimeSpan.FromDays(1)),
    ];

    /// <summary>The range a <c>?range=</c> names; the last hour when it names none or one this page does not offer.</summary>
    public static ChartRange Parse(string? key) =>
        All.FirstOrDefault(r => string.Equals(r.Key, key, StringComparison.OrdinalIgnoreCase)) ?? LastHour;

    /// <summary>
    /// Where the chart starts when it ends at <paramref name="to"/>: a span back, down to the start of its (UTC) bucket, since
    /// the Api answers every bucket that overlaps the range whole.
    /// </summary>
    public DateTimeOffset From(DateTimeOffset to)
    {
        var from = to.ToUniversalTime() - Span;
        return new DateTimeOffset(from.UtcTicks - (from.UtcTicks % BucketSize.Ticks), TimeSpan.Zero);
    }

    /// <summary>What one bucket is called in the chart's caption.</summary>
    public string BucketName => Bucket switch { "1m" => "1-minute", "1h" => "1-hour", _ => "1-day" };
}
