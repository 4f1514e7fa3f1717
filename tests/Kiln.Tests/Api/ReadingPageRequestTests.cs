using Kiln.Api.Readings;

namespace Kiln.Tests.Api;

public sealed class ReadingPageRequestTests
{
    [Fact]
    public void A_cursor_round_trips_the_timestamp_it_encodes()
    {
        var timestamp = new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero).AddTicks(1230);
        Assert.Equal(timestamp, ReadingPageRequest.DecodeCursor(ReadingPageRequest.EncodeCursor(timestamp)));
    }

    [Theory]
    [InlineData("not a cursor")]
    [InlineData("AAAA")]
    [InlineData("_____________w")]
    public void A_cursor_this_api_did_not_return_is_refused(string cursor)
    {
        var (request, error) = ReadingPageRequest.Parse("kiln1.burner.temp", null, null, null, cursor);
        Assert.Null(request);
        Assert.Contains("cursor", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public void The_limit_is_bounded(int limit)
    {
        var (request, error) = ReadingPageRequest.Parse("kiln1.burner.temp", null, null, limit, null);
        Assert.Null(request);
        Assert.Contains("limit", error, StringComparison.Ordinal);
    }

    [Fact]
    public void From_must_precede_to_and_defaults_are_open_ended()
    {
        var at = DateTimeOffset.UtcNow;
        Assert.NotNull(ReadingPageRequest.Parse("kiln1.burner.temp", at, at, null, null).Error);
        var (request, _) = ReadingPageRequest.Parse("kiln1.burner.temp", null, null, null, null);
        Assert.Equal(ReadingPageRequest.DefaultLimit, request!.Limit);
        Assert.Equal(DateTimeOffset.MinValue, request.From);
        Assert.Equal(DateTimeOffset.MaxValue, request.To);
    }

    [Fact]
    public void Bounds_with_any_offset_become_the_same_instant_in_utc()
    {
        var from = new DateTimeOffset(2026, 11, 22, 4, 0, 0, TimeSpan.FromHours(-5));
        var (request, _) = ReadingPageRequest.Parse("kiln1.burner.temp", from, null, null, null);
        Assert.Equal(TimeSpan.Zero, request!.From.Offset);
        Assert.Equal(from, request.From);
    }
}
