using System.Text.Json;
using Kiln.Shared.Readings;
using Kiln.Shared.Sensors;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Turns a <c>kiln.readings</c> message into a reading, or says why it cannot be one. Pure: the
/// consumer sends what fails here to the dead-letter topic instead of letting it block its partition.
/// </summary>
internal static class ReadingDecoder
{
    public static (ReadingMessage? Reading, string? Problem) Decode(string? key, byte[]? value)
    {
        if (value is null || value.Length == 0)
        {
            return (null, "empty message value");
        }

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

        if (!double.IsFinite(reading.Value))
        {
            return (null, "value is not a finite number");
        }

        // Another producer may send any offset; the database stores UTC instants.
        return (reading with { Timestamp = reading.Timestamp.ToUniversalTime() }, null);
    }
}
