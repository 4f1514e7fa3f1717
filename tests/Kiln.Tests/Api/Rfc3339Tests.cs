using Kiln.Api.Readings;

namespace Kiln.Tests.Api;

public sealed class Rfc3339Tests
{
    [Theory]
    [InlineData("2026-11-22T09:00:00Z", "2026-11-22T09:00:00+00:00")]
    [InlineData("2026-11-22T10:00:00+01:00", "2026-11-22T09:00:00+00:00")]
    [InlineData("2026-11-22T04:00:00-05:00", "2026-11-22T09:00:00+00:00")]
    [InlineData("2026-11-22T09:00:00.123456Z", "2026-11-22T09:00:00.123456+00:00")]
    [InlineData("2026-11-22T09:00:00.123456789Z", "2026-11-22T09:00:00.1234567+00:00")]
    public void Date_times_with_seconds_and_an_offset_are_read_as_the_instant_they_name(string text, string instant)
    {
        Assert.True(Rfc3339.TryParse(text, out var value));
        Assert.Equal(DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture), value);
    }

    [Theory]
    [InlineData("2026-11-22T09:00:00")] // no offset: it would be read as the server's local time
    [InlineData("2026-11-22T09:00:00.5")]
    [InlineData("2026-11-22")]
    [InlineData("2026-11-22T09:00Z")] // no seconds
    [InlineData("2026-11-22T09:00:00+0100")]
    [InlineData("2026-11-22T09:00:00+01")]
    [InlineData("2026-11-22 09:00:00Z")]
    [InlineData("2026-02-30T09:00:00Z")]
    [InlineData("2026-11-22T24:00:00Z")]
    [InlineData("0001-01-01T00:00:00+01:00")] // before the first representable instant
    [InlineData("+275760-09-13T00:00:00Z")]
    [InlineData("1764000000")]
    [InlineData("")]
    [InlineData("2026-11-22T09:00:00Z; DROP TABLE readings")]
    public void Anything_else_is_refused(string text) =>
        Assert.False(Rfc3339.TryParse(text, out _));
}
