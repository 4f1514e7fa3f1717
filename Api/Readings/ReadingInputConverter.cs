using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kiln.Api.Readings;

/// <summary>
/// Reads one item of an ingest batch without ever failing the batch: a field of the wrong JSON type or
/// format (<c>"value":"12"</c>, a timestamp without an offset, an item that is not an object) becomes that
/// item's <see cref="ReadingInput.Problem"/>, reported by index like any other rejection. Unknown fields are
/// skipped; names match as the options say (camelCase, case-insensitively by default).
/// </summary>
internal sealed class ReadingInputConverter : JsonConverter<ReadingInput>
{
    private enum Field { Other, SensorId, Timestamp, Value }

    public override ReadingInput Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            var kind = reader.TokenType;
            reader.Skip();
            return new ReadingInput(null, null, null, $"a reading must be a JSON object, not {JsonKinds.Describe(kind)}");
        }

        string? sensorId = null;
        DateTimeOffset? timestamp = null;
        double? value = null;
        string? problem = null;
        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Match(ref reader, options.PropertyNameCaseInsensitive);
            reader.Read();
            if (field != Field.Other && (seen & (1 << (int)field)) != 0)
            {
                problem ??= $"{Name(field)} appears more than once";
            }

            seen |= 1 << (int)field;

            switch (field)
            {
                case Field.SensorId when reader.TokenType == JsonTokenType.String:
                    try
                    {
                        sensorId = reader.GetString();
                    }
                    catch (InvalidOperationException)
                    {
                        problem ??= "sensorId is not valid Unicode text"; // an escaped lone surrogate
                    }

                    break;
                case Field.Timestamp when reader.TokenType == JsonTokenType.String:
                    if (Rfc3339.TryRead(ref reader, out var parsed))
                    {
                        timestamp = parsed;
                    }
                    else
                    {
                        problem ??= $"timestamp must be {Rfc3339.Expectation}";
                    }

                    break;
                case Field.Value when reader.TokenType == JsonTokenType.Number:
                    // A number past double's range reads as ±infinity, refused later as not finite.
                    if (reader.TryGetDouble(out var number))
                    {
                        value = number;
                    }
                    else
                    {
                        problem ??= "value is not a number a double can hold";
                    }

                    break;
                case not Field.Other when reader.TokenType == JsonTokenType.Null:
                    break; // as if absent: "… is required"
                case Field.SensorId or Field.Timestamp:
                    problem ??= $"{Name(field)} must be a string, not {JsonKinds.Describe(reader.TokenType)}";
                    reader.Skip();
                    break;
                case Field.Value:
                    problem ??= $"value must be a JSON number, not {JsonKinds.Describe(reader.TokenType)}";
                    reader.Skip();
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new ReadingInput(sensorId, timestamp, value, problem);
    }

    public override void Write(Utf8JsonWriter writer, ReadingInput value, JsonSerializerOptions options) =>
        throw new NotSupportedException("Ingest items are only read.");

    private static Field Match(ref Utf8JsonReader reader, bool caseInsensitive)
    {
        if (reader.ValueTextEquals("sensorId"u8))
        {
            return Field.SensorId;
        }

        if (reader.ValueTextEquals("timestamp"u8))
        {
            return Field.Timestamp;
        }

        if (reader.ValueTextEquals("value"u8))
        {
            return Field.Value;
        }

        if (!caseInsensitive)
        {
            return Field.Other;
        }

        string? name;
        try
        {
            name = reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return Field.Other; // a name that is not valid Unicode names none of these
        }

        return name?.ToUpperInvariant() switch
        {
            "SENSORID" => Field.SensorId,
            "TIMESTAMP" => Field.Timestamp,
            "VALUE" => Field.Value,
            _ => Field.Other,
        };
    }

    private static string Name(Field field) => field switch
    {
        Field.SensorId => "sensorId",
        Field.Timestamp => "timestamp",
        _ => "value",
    };
}

/// <summary>JSON token kinds as a client would name them.</summary>
internal static class JsonKinds
{
    public static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "something else",
    };
}
