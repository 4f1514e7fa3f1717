using System.Text;
using Kiln.Shared.Readings;
using Kiln.Worker.Ingestion;

namespace Kiln.Tests.Worker;

public sealed class ReadingDecoderTests
{
    private static (bool Ok, string? Problem) Decode(string? key, string value)
    {
        var (reading, problem) = ReadingDecoder.Decode(key, Encoding.UTF8.GetBytes(value));
        return (reading is not null, problem);
    }

    [Fact]
    public void A_well_formed_reading_decodes() =>
        Assert.True(Decode("kiln1.burner.temp", """{"sensorId":"kiln1.burner.temp","timestamp":"2026-11-22T09:00:00Z","value":1012.5}""").Ok);

    [Theory]
    [InlineData("not json", "not a reading")]
    [InlineData("null", "JSON null")]
    [InlineData("""{"sensorId":"BAD","timestamp":"2026-11-22T09:00:00Z","value":1}""", "lowercase")]
    [InlineData("""{"sensorId":"other.sensor","timestamp":"2026-11-22T09:00:00Z","value":1}""", "differs")]
    public void What_cannot_be_a_reading_says_why(string value, string reason)
    {
        var (ok, problem) = Decode("kiln1.burner.temp", value);
        Assert.False(ok);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void What_the_api_writes_decodes_to_the_same_reading()
    {
        var sent = new ReadingMessage("kiln1.burner.temp", new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero).AddTicks(123_456_7), 1012.5);

        var value = ReadingEncoding.Encode(sent);
        var (reading, problem) = ReadingDecoder.Decode("kiln1.burner.temp", value);

        Assert.Null(problem);
        Assert.Equal(sent with { Timestamp = sent.Timestamp.AddTicks(-7) }, reading); // microseconds, as PostgreSQL keeps them
        Assert.Equal(ReadingEncoding.Length, value.Length);
    }

    [Theory]
    [InlineData(null, "message key")]
    [InlineData("BAD", "lowercase")]
    public void A_binary_reading_takes_its_sensor_from_a_valid_key(string? key, string reason)
    {
        var value = ReadingEncoding.Encode(new ReadingMessage("kiln1.burner.temp", DateTimeOffset.UnixEpoch, 1));

        Assert.Contains(reason, ReadingDecoder.Decode(key, value).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_binary_reading_says_how_long_it_should_be()
    {
        var value = ReadingEncoding.Encode(new ReadingMessage("kiln1.burner.temp", DateTimeOffset.UnixEpoch, 1))[..10];

        Assert.Equal("a format-1 reading is 17 bytes, this value is 10", ReadingDecoder.Decode("kiln1.burner.temp", value).Problem);
    }

    [Fact]
    public void A_binary_reading_of_not_a_number_is_a_problem() =>
        Assert.Equal("value is not a finite number",
            ReadingDecoder.Decode("kiln1.burner.temp", ReadingEncoding.Encode(new ReadingMessage("kiln1.burner.temp", DateTimeOffset.UnixEpoch, double.NaN))).Problem);

    [Fact]
    public void An_empty_message_is_a_problem() =>
        Assert.Equal("empty message value", ReadingDecoder.Decode("k", []).Problem);

    [Fact]
    public void A_timestamp_with_an_offset_is_kept_as_the_same_instant_in_utc()
    {
        var (reading, _) = ReadingDecoder.Decode("kiln1.burner.temp",
            Encoding.UTF8.GetBytes("""{"sensorId":"kiln1.burner.temp","timestamp":"2026-11-22T04:00:00-05:00","value":1}"""));
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero), reading!.Timestamp);
        Assert.Equal(TimeSpan.Zero, reading.Timestamp.Offset);
    }
}
