using System.Globalization;
using Google.Protobuf.Collections;
using Kiln.Dashboard.Api;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Components.Telemetry;

/// <summary>How the telemetry pages write times, values, levels and a resource's colour.</summary>
internal static class TelemetryView
{
    // Eight colours told apart in light and dark mode; a resource keeps its colour on every page and across restarts.
    private static readonly string[] Palette = ["#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#c2255c", "#0b7285", "#e67700", "#5c7cfa"];

    public static string Colour(TelemetryResource resource) => Colour(resource.Name);

    public static string Colour(string name)
    {
        // A stable hash (string.GetHashCode changes per process).
        var hash = 0u;
        foreach (var c in name)
        {
            hash = (hash * 31) + c;
        }

        return Palette[hash % (uint)Palette.Length];
    }

    public static DateTimeOffset Time(ulong unixNano) => DateTimeOffset.UnixEpoch.AddTicks((long)(unixNano / 100));

    public static string TimeText(ulong unixNano) => unixNano == 0 ? "" : Time(unixNano).ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

    public static string Duration(TimeSpan duration) => duration.TotalMilliseconds switch
    {
        < 1 => $"{duration.TotalMicroseconds.ToString("0", CultureInfo.InvariantCulture)} µs",
        < 1_000 => $"{duration.TotalMilliseconds.ToString("0.##", CultureInfo.InvariantCulture)} ms",
        _ => $"{duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s",
    };

    public static string Number(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>An OTLP value as text: strings as they are, arrays and maps in a JSON-like form.</summary>
    public static string Value(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BytesValue => Convert.ToBase64String(value.BytesValue.Span),
        AnyValue.ValueOneofCase.ArrayValue => "[" + string.Join(", ", value.ArrayValue.Values.Select(Value)) + "]",
        AnyValue.ValueOneofCase.KvlistValue => "{" + string.Join(", ", value.KvlistValue.Values.Select(kv => $"{kv.Key}: {Value(kv.Value)}")) + "}",
        _ => "",
    };

    public static string Attributes(RepeatedField<KeyValue> attributes) =>
        string.Join(", ", attributes.Select(a => $"{a.Key}={Value(a.Value)}"));

    /// <summary>The .NET level names Aspire's dashboard shows, from OTLP's ranges of four severity numbers.</summary>
    public static readonly string[] Levels = ["Trace", "Debug", "Information", "Warning", "Error", "Critical"];

    public static string Level(LogRecord record) => record.SeverityNumber switch
    {
        SeverityNumber.Unspecified => string.IsNullOrEmpty(record.SeverityText) ? "Unspecified" : record.SeverityText,
        < SeverityNumber.Debug => "Trace",
        < SeverityNumber.Info => "Debug",
        < SeverityNumber.Warn => "Information",
        < SeverityNumber.Error => "Warning",
        < SeverityNumber.Fatal => "Error",
        _ => "Critical",
    };

    public static string LevelClass(LogRecord record) => record.SeverityNumber switch
    {
        >= SeverityNumber.Error => "error",
        >= SeverityNumber.Warn => "warn",
        _ => "",
    };

    /// <summary>A level name (any case) to the lowest severity number of that level, or null for an unknown name.</summary>
    public static SeverityNumber? MinSeverity(string? level) => level is null ? null : TelemetryApiQuery.Severity(level);

    public static string Message(LogRecord record) => Value(record.Body);

    /// <summary>Whether a log's message, or one of its attribute values, contains <paramref name="text"/> (any case).</summary>
    public static bool LogContains(StoredLog log, string? text) =>
        string.IsNullOrEmpty(text)
        || Message(log.Record).Contains(text, StringComparison.OrdinalIgnoreCase)
        || log.Record.Attributes.Any(a => Value(a.Value).Contains(text, StringComparison.OrdinalIgnoreCase));

    public static string Query(string path, params (string Name, string? Value)[] parameters)
    {
        var given = parameters.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return given.Count == 0 ? path : $"{path}?{string.Join("&", given)}";
    }
}
