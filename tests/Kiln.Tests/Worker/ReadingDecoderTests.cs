using System.Text;
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
