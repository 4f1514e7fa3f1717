using Kiln.Api.Readings;

namespace Kiln.Tests.Api;

public sealed class ReadingPageRequestTests
{
    private const string Sensor = "kiln1.burner.temp";

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
    [InlineData("'; DROP TABLE readings; --")]
    public void A_cursor_this_api_did_not_return_is_refused(string cursor)
    {
        var (request, error) = ReadingPageRequest.Parse(Sensor, null, null, null, cursor);
        Assert.Null(request);
        Assert.Contains("cursor", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999")]
    [InlineData("１０")] // full-width digits
    public void The_limit_is_a_whole_number_within_bounds(string limit)
    {
        var (request, error) = ReadingPageRequest.Parse(Sensor, null, null, limit, null);
        Assert.Null(request);
        Assert.Equal("'limit' must be a whole number from 1 to 1000", error);
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2026-11-22")]
    [InlineData("2026-11-22T09:00:00")]
    [InlineData("1764000000")]
    public void Bounds_must_be_rfc_3339_with_an_offset(string from)
    {
        var (request, error) = ReadingPageRequest.Parse(Sensor, from, null, null, null);
        Assert.Null(request);
        Assert.StartsWith("'from' must be an RFC 3339 date-time", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unencoded_plus_in_an_offset_is_explained()
    {
        // '+' in a query string decodes to a space.
        var (_, error) = ReadingPageRequest.Parse(Sensor, null, "2026-11-22T09:00:00 01:00", null, null);
        Assert.Contains("%2B", error, StringComparison.Ordinal);
    }

    [Fact]
    public void From_must_precede_to_and_defaults_are_open_ended()
    {
        Assert.NotNull(ReadingPageRequest.Parse(Sensor, "2026-11-22T09:00:00Z", "2026-11-22T10:00:00+01:00", null, null).Error);
        var (request, _) = ReadingPageRequest.Parse(Sensor, null, null, null, null);
        Assert.Equal(Kiln.Api.Extensions.Paging.DefaultLimit, request!.Limit);
        Assert.Equal(DateTimeOffset.MinValue, request.From);
        Assert.Equal(DateTimeOffset.MaxValue, request.To);
    }

    [Fact]
    public void Empty_parameters_count_as_absent()
    {
        var (request, error) = ReadingPageRequest.Parse(Sensor, "", "", "", "");
        Assert.Null(error);
        Assert.Equal(Kiln.Api.Extensions.Paging.DefaultLimit, request!.Limit);
        Assert.Null(request.After);
    }

    [Fact]
    public void Bounds_with_any_offset_become_the_same_instant_in_utc()
    {
        var (request, _) = ReadingPageRequest.Parse(Sensor, "2026-11-22T04:00:00-05:00", null, "10", null);
        Assert.Equal(TimeSpan.Zero, request!.From.Offset);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero), request.From);
        Assert.Equal(10, request.Limit);
    }

    [Fact]
    public void A_hostile_sensor_id_is_refused_before_anything_else() =>
        Assert.NotNull(ReadingPageRequest.Parse("kiln1.burner.temp'--", null, null, null, null).Error);
}
