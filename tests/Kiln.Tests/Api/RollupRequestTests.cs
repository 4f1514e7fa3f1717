using Kiln.Api.Readings;

namespace Kiln.Tests.Api;

public sealed class RollupRequestTests
{
    private const string Sensor = "kiln1.burner.temp";

    [Theory]
    [InlineData(null, "'bucket' is required: 1m, 1h or 1d")]
    [InlineData("", "'bucket' is required: 1m, 1h or 1d")]
    [InlineData("1s", "'bucket' must be 1m, 1h or 1d")]
    [InlineData("1M", "'bucket' must be 1m, 1h or 1d")]
    [InlineData("60", "'bucket' must be 1m, 1h or 1d")]
    public void The_bucket_is_one_of_three(string? bucket, string error) =>
        Assert.Equal(error, RollupRequest.Parse(Sensor, bucket, "2026-11-22T09:00:00Z", "2026-11-22T10:00:00Z").Error);

    [Theory]
    [InlineData(null, "2026-11-22T10:00:00Z", "'from' and 'to' are required")]
    [InlineData("2026-11-22T09:00:00Z", "", "'from' and 'to' are required")]
    [InlineData("2026-11-22T09:00:00", "2026-11-22T10:00:00Z", "'from' must be an RFC 3339 date-time")]
    [InlineData("2026-11-22T09:00:00Z", "2026-11-22T10:00:00 01:00", "encode a '+' offset as %2B")]
    [InlineData("2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z", "'from' must be before 'to'")]
    [InlineData("2026-11-22T10:00:00Z", "2026-11-22T11:00:00+02:00", "'from' must be before 'to'")]
    [InlineData("0001-01-01T00:00:00+14:00", "2026-11-22T11:00:00Z", "'from' must be an RFC 3339 date-time")] // before the first instant .NET can name
    [InlineData("2026-11-22T11:00:00Z", "9999-12-31T23:59:59-14:00", "'to' must be an RFC 3339 date-time")]  // after the last
    public void The_range_is_two_instants_with_offsets_in_order(string? from, string? to, string error) =>
        Assert.Contains(error, RollupRequest.Parse(Sensor, "1h", from, to).Error, StringComparison.Ordinal);

    [Theory]
    [InlineData("1m", "2026-11-22T00:00:00Z", "2026-11-28T22:40:00Z")]              // 10,000 minutes exactly
    [InlineData("1m", "2026-11-22T00:00:30Z", "2026-11-28T22:39:01Z")]              // whole buckets at both ends: 10,000
    [InlineData("1h", "2026-01-01T00:00:00Z", "2027-02-21T16:00:00Z")]
    [InlineData("1d", "2000-01-01T00:00:00Z", "2027-05-19T00:00:00Z")]
    [InlineData("1d", "9999-12-30T12:00:00Z", "9999-12-31T23:59:59Z")]              // the last bucket ends after what .NET can name
    public void Up_to_ten_thousand_buckets_are_answered(string bucket, string from, string to)
    {
        var (request, error) = RollupRequest.Parse(Sensor, bucket, from, to);
        Assert.Null(error);
        Assert.True(request!.FirstBucket <= request.From && request.LastBucketEnd >= request.To);
    }

    [Theory]
    [InlineData("1m", "2026-11-22T00:00:00Z", "2026-11-28T22:40:00.000001Z", "spans 10,001 buckets of 1m")]
    [InlineData("1m", "2026-11-22T00:00:59Z", "2026-11-28T22:40:00.5Z", "spans 10,001 buckets of 1m")]
    [InlineData("1d", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "spans 3,652,059 buckets of 1d")]
    public void More_buckets_are_refused_with_the_count_and_what_to_do(string bucket, string from, string to, string error)
    {
        var (request, reason) = RollupRequest.Parse(Sensor, bucket, from, to);
        Assert.Null(request);
        Assert.Contains(error, reason, StringComparison.Ordinal);
        Assert.Contains("at most 10,000", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Buckets_are_utc_and_a_range_covers_every_bucket_it_overlaps_whole()
    {
        var request = RollupRequest.Parse(Sensor, "1d", "2026-11-22T03:00:00+05:30", "2026-11-23T00:00:00.000001Z").Request!;
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 21, 30, 0, TimeSpan.Zero), request.From);
        Assert.Equal(TimeSpan.Zero, request.From.Offset);
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero), request.FirstBucket);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero), request.LastBucketEnd);

        var aligned = RollupRequest.Parse(Sensor, "1h", "2026-11-22T09:00:00Z", "2026-11-22T12:00:00Z").Request!;
        Assert.Equal((aligned.From, aligned.To), (aligned.FirstBucket, aligned.LastBucketEnd));
    }
}
