using Kiln.Api.Extensions;
using Kiln.Api.Sensors;

namespace Kiln.Tests.Api;

public sealed class SensorPageRequestTests
{
    [Theory]
    [InlineData("kiln1.burner.temp")]
    [InlineData("a")]
    [InlineData("site_9.asset-2.measure")]
    public void A_cursor_round_trips_the_id_it_encodes(string id) =>
        Assert.Equal(id, SensorPageRequest.DecodeCursor(SensorPageRequest.EncodeCursor(id)));

    [Theory]
    [InlineData("not a cursor")]
    [InlineData("AAAA")] // three zero bytes: not a sensor id
    [InlineData("S2lsbjE")] // "Kiln1": base64url, but not an id this Api stores
    [InlineData("_____________w")]
    [InlineData("'; DROP TABLE sensors; --")]
    [InlineData("//8")] // 0xFF 0xFF: not UTF-8
    public void A_cursor_this_api_did_not_return_is_refused(string cursor)
    {
        var (request, error) = SensorPageRequest.Parse(null, null, cursor);
        Assert.Null(request);
        Assert.Equal(Paging.CursorProblem, error);
    }

    [Fact]
    public void A_cursor_longer_than_any_position_is_refused_before_it_is_decoded() =>
        Assert.Null(SensorPageRequest.DecodeCursor(SensorPageRequest.EncodeCursor(new string('a', 128)) + new string('A', 200)));

    [Fact]
    public void A_reading_cursor_is_no_sensor_cursor()
    {
        var readingCursor = Kiln.Api.Readings.ReadingPageRequest.EncodeCursor(DateTimeOffset.UnixEpoch);
        Assert.Null(SensorPageRequest.Parse(null, null, readingCursor).Request);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("99999999999999999999")]
    public void The_limit_is_a_whole_number_within_bounds(string limit)
    {
        var (request, error) = SensorPageRequest.Parse(null, limit, null);
        Assert.Null(request);
        Assert.Equal("'limit' must be a whole number from 1 to 1000", error);
    }

    [Theory]
    [InlineData("Kiln1")]
    [InlineData("kiln1.burner")]
    public void The_site_is_a_site_id(string site) =>
        Assert.Contains("site may contain only", SensorPageRequest.Parse(site, null, null).Error, StringComparison.Ordinal);

    [Fact]
    public void Empty_parameters_count_as_absent()
    {
        var (request, _) = SensorPageRequest.Parse("", "", "");
        Assert.Equal(new SensorPageRequest(null, Paging.DefaultLimit, null), request);
    }

    [Fact]
    public void A_valid_query_is_taken_as_it_was_sent()
    {
        var (request, _) = SensorPageRequest.Parse("kiln1", "1000", SensorPageRequest.EncodeCursor("kiln1.burner.temp"));
        Assert.Equal(new SensorPageRequest("kiln1", 1000, "kiln1.burner.temp"), request);
    }
}
