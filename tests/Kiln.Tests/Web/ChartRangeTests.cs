using Kiln.Web.Sensors;

namespace Kiln.Tests.Web;

/// <summary>The sensor page's range picker: which rollups each range reads, and where its chart starts.</summary>
public sealed class ChartRangeTests
{
    [Theory]
    [InlineData(null, "1h", "1m")]
    [InlineData("", "1h", "1m")]
    [InlineData("6h", "6h", "1m")]
    [InlineData("24H", "24h", "1m")]
    [InlineData("7d", "7d", "1h")]
    [InlineData("30d", "30d", "1d")]
    [InlineData("1y", "1h", "1m")] // not offered: the default, never an error page
    [InlineData("<script>", "1h", "1m")]
    public void A_range_names_its_rollup_bucket(string? key, string expected, string bucket)
    {
        var range = ChartRange.Parse(key);
        Assert.Equal(expected, range.Key);
        Assert.Equal(bucket, range.Bucket);
    }

    [Fact]
    public void No_range_asks_for_more_buckets_than_a_chart_can_use_or_the_api_answers()
    {
        foreach (var range in ChartRange.All)
        {
            var buckets = (range.Span / range.BucketSize) + 1;
            Assert.InRange(buckets, 24, 1441); // the Api's bound is 10,000
        }
    }

    [Theory]
    [InlineData("1h", "2026-11-24T13:07:00Z")]
    [InlineData("24h", "2026-11-23T14:07:00Z")]
    [InlineData("7d", "2026-11-17T14:00:00Z")]
    [InlineData("30d", "2026-10-25T00:00:00Z")]
    public void The_chart_starts_at_the_start_of_the_bucket_a_span_back(string key, string from)
    {
        var to = DateTimeOffset.Parse("2026-11-24T15:07:42.5+01:00", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(DateTimeOffset.Parse(from, System.Globalization.CultureInfo.InvariantCulture), ChartRange.Parse(key).From(to));
    }
}
