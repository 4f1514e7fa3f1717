using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kiln.Shared.Readings;

/// <summary>A reading as it travels on <c>kiln.readings</c> (key = sensor id).</summary>
public sealed record ReadingMessage(string SensorId, DateTimeOffset Timestamp, double Value);

/// <summary>One JSON options instance for everything Kiln writes: camelCase, as the wire contract says.</summary>
public static class KilnJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };
}

[JsonSerializable(typeof(ReadingMessage))]
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
public sealed partial class ReadingMessageJsonContext : JsonSerializerContext;
