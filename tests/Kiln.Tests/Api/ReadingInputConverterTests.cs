using System.Buffers;
using System.Text;
using System.Text.Json;
using Kiln.Api.Extensions;
using Kiln.Api.Readings;

namespace Kiln.Tests.Api;

/// <summary>How a batch item is read: whatever is wrong with one item is that item's problem, never the batch's.</summary>
public sealed class ReadingInputConverterTests
{
    private static readonly JsonSerializerOptions Options = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiExtensions.ConfigureJson(options);
        return options;
    }

    private static ReadingInput? ReadOne(string item) =>
        Assert.Single(JsonSerializer.Deserialize<ReadingBatch>($$"""{"readings":[{{item}}]}""", Options)!.Readings!);

    [Fact]
    public void A_well_formed_item_is_read_in_full()
    {
        var item = ReadOne("""{"sensorId":"kiln1.burner.temp","timestamp":"2026-11-22T09:00:00Z","value":1012.5}""")!;
        Assert.Equal(new ReadingInput("kiln1.burner.temp", new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero), 1012.5), item);
    }

    [Theory]
    [InlineData("""{"value":"12"}""", "value must be a JSON number, not a string")]
    [InlineData("""{"value":true}""", "value must be a JSON number, not a boolean")]
    [InlineData("""{"value":[1]}""", "value must be a JSON number, not an array")]
    [InlineData("""{"value":{"v":1}}""", "value must be a JSON number, not an object")]
    [InlineData("""{"sensorId":42}""", "sensorId must be a string, not a number")]
    [InlineData("""{"timestamp":1764000000}""", "timestamp must be a string, not a number")]
    [InlineData("""{"timestamp":"2026-11-22T09:00:00"}""", "timestamp must be an RFC 3339 date-time")]
    [InlineData("""{"timestamp":"yesterday"}""", "timestamp must be an RFC 3339 date-time")]
    [InlineData("""{"sensorId":"\ud800"}""", "sensorId is not valid Unicode text")]
    [InlineData("""{"value":1,"value":2}""", "value appears more than once")]
    [InlineData("42", "a reading must be a JSON object, not a number")]
    [InlineData("\"kiln1.burner.temp\"", "a reading must be a JSON object, not a string")]
    [InlineData("[[1]]", "a reading must be a JSON object, not an array")]
    public void A_field_of_the_wrong_type_or_format_is_the_items_problem(string item, string problem) =>
        Assert.StartsWith(problem, ReadOne(item)!.Problem, StringComparison.Ordinal);

    [Fact]
    public void An_offset_escaped_by_the_sender_is_still_an_offset()
    {
        var item = ReadOne("""{"timestamp":"2026-11-22T10:00:00\u002B01:00"}""")!;
        Assert.Null(item.Problem);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero), item.Timestamp);
    }

    [Fact]
    public void Tokens_split_across_the_segments_of_a_piped_body_are_read_whole()
    {
        // ASP.NET Core reads a body from a pipe: any token may span two of its segments. Here every one does.
        const string Json = """
            {"readings":[
              {"sensorId":"kiln1.burner.temp","timestamp":"2026-11-22T09:00:00Z","value":1012.5},
              {"sensorId":"kiln1.burner.temp","timestamp":"2026-11-22T10:00:01.25+01:00","value":-3},
              {"sensorId":"kiln1.burner.temp","timestamp":"2026-11-22T10:00:02\u002B01:00","value":7e2},
              {"sensorId":"kiln1.burner.temp","timestamp":"2026-11-22T09:00:03","value":1}
            ]}
            """;
        var reader = new Utf8JsonReader(OneByteSegments.Of(Encoding.UTF8.GetBytes(Json)));
        var items = JsonSerializer.Deserialize<ReadingBatch>(ref reader, Options)!.Readings!;
        var start = new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
        Assert.Equal(
            [new ReadingInput("kiln1.burner.temp", start, 1012.5), new ReadingInput("kiln1.burner.temp", start.AddSeconds(1.25), -3), new ReadingInput("kiln1.burner.temp", start.AddSeconds(2), 700)],
            items.Take(3));
        Assert.StartsWith("timestamp must be an RFC 3339 date-time", items[3]!.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_number_beyond_double_reads_as_infinity_for_the_validator_to_refuse() =>
        Assert.Equal(double.PositiveInfinity, ReadOne("""{"value":1e999}""")!.Value);

    [Fact]
    public void Null_and_missing_fields_are_absent_and_unknown_fields_are_skipped()
    {
        var item = ReadOne("""{"sensorId":null,"extra":{"nested":[1,{"deeper":true}]},"value":3}""")!;
        Assert.Equal(new ReadingInput(null, null, 3), item);
    }

    [Fact]
    public void Names_match_regardless_of_case_as_the_web_defaults_do() =>
        Assert.Equal("kiln1.burner.temp", ReadOne("""{"SensorId":"kiln1.burner.temp"}""")!.SensorId);

    [Fact]
    public void A_null_item_stays_null() => Assert.Null(ReadOne("null"));

    [Fact]
    public void Nesting_past_the_limit_fails_the_body_not_the_item()
    {
        var deep = string.Concat(Enumerable.Repeat("""{"a":""", ApiExtensions.MaxJsonDepth)) + "1" + new string('}', ApiExtensions.MaxJsonDepth);
        Assert.ThrowsAny<JsonException>(() => ReadOne(deep));
    }

    [Fact]
    public void A_number_sent_as_a_string_is_refused_elsewhere_in_the_api_too() =>
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<Kiln.Shared.Alerts.AlertRule>("""{"high":"1450"}""", Options));
}

/// <summary>A body as a pipe may hand it over, at its most fragmented: one byte per segment.</summary>
internal sealed class OneByteSegments : ReadOnlySequenceSegment<byte>
{
    private OneByteSegments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Of(byte[] bytes)
    {
        var first = new OneByteSegments(bytes.AsMemory(0, 1), 0);
        var last = first;
        for (var i = 1; i < bytes.Length; i++)
        {
            var next = new OneByteSegments(bytes.AsMemory(i, 1), i);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }
}
