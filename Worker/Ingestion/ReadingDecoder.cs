using System.Text.Json;
using Kiln.Shared.Readings;
using Kiln.Shared.Sensors;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Turns a <c>kiln.readings</c> message into a reading, or says why it cannot be one. Pure: the
/// consumer sends what fails here to the dead-letter topic instead of letting it block its partition.
/// The Api writes <see cref="ReadingEncoding"/>; JSON (<c>{"sensorId":…,"timestamp":…,"value":…}</c>) is
/// read too, for readings written by hand (kcat) or by another producer.
/// </summary>
internal static class ReadingDecoder
{
    public static (ReadingMessage? Reading, string? Problem) Decode(string? key, byte[]? value)
    {
        if (value is null || value.Length == 0)
        {
            return (null, "empty message value");
        }

        var (reading, problem) = ReadingEncoding.IsEncoded(value) ? DecodeBinary(key, value) : DecodeJson(key, value);
        if (reading is null)
        {
            return (null, problem);
        }

        if (!double.IsFinite(reading.Value))
        {
            return (null, "value is not a finite number");
        }

        // Another producer may send any offset; the database stores UTC instants.
        return (reading with { Timestamp = reading.Timestamp.ToUniversalTime() }, null);
    }

    private static (ReadingMessage? Reading, string? Problem) DecodeBinary(string? key, byte[] value)
    {
        // The key is the sensor id: the value does not repeat it.
        if (SensorId.Validate(key) is { } idProblem)
        {
            return (null, $"message key: {idProblem}");
        }

        return ReadingEncoding.Decode(key!, value);
    }

    private static (ReadingMessage? Reading, string? Problem) DecodeJson(string? key, byte[] value)
    {
        ReadingMessage? reading;
        try
        {
            reading = JsonSerializer.Deserialize(value, ReadingMessageJsonContext.Default.ReadingMessage);
        }
        catch (JsonException ex)
        {
            return (null, $"value is not a reading: {ex.Message}");
        }

        if (reading is null)
        {
            return (null, "value is JSON null");
        }

        if (SensorId.Validate(reading.SensorId) is { } idProblem)
        {
            return (null, idProblem);
        }

        if (key is not null && key != reading.SensorId)
        {
            return (null, $"message key '{key}' differs from the reading's sensor id '{reading.SensorId}'");
        }

        return (reading, null);
    }
}
