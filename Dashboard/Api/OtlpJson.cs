using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Google.Protobuf;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Proto.Trace;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Api;

/// <summary>
/// Stored telemetry as OTLP/JSON (the OpenTelemetry protocol's JSON encoding): the proto3 JSON mapping of the OTLP
/// messages (Google.Protobuf's <see cref="JsonFormatter"/>), with the two differences OTLP/JSON makes — enums as
/// integers, and trace and span ids as lowercase hex instead of base64. Spans and logs are grouped by resource, then
/// by instrumentation scope, as exporters send them.
/// </summary>
internal static class OtlpJson
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatEnumsAsIntegers(true));
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The bytes fields OTLP/JSON writes as hex: every one named so holds a trace or span id.</summary>
    private static readonly HashSet<string> IdProperties = ["traceId", "spanId", "parentSpanId"];

    public static TracesData ToTracesData(IEnumerable<StoredSpan> spans)
    {
        var data = new TracesData();
        foreach (var byResource in spans.GroupBy(s => s.Resource))
        {
            var resourceSpans = new ResourceSpans { Resource = byResource.Key.Attributes };
            foreach (var byScope in byResource.GroupBy(s => (s.Scope.Name, s.Scope.Version)))
            {
                var scopeSpans = new ScopeSpans { Scope = byScope.First().Scope };
                scopeSpans.Spans.AddRange(byScope.Select(s => s.Span));
                resourceSpans.ScopeSpans.Add(scopeSpans);
            }

            data.ResourceSpans.Add(resourceSpans);
        }

        return data;
    }

    public static LogsData ToLogsData(IEnumerable<StoredLog> logs)
    {
        var data = new LogsData();
        foreach (var byResource in logs.GroupBy(l => l.Resource))
        {
            var resourceLogs = new ResourceLogs { Resource = byResource.Key.Attributes };
            foreach (var byScope in byResource.GroupBy(l => (l.Scope.Name, l.Scope.Version)))
            {
                var scopeLogs = new ScopeLogs { Scope = byScope.First().Scope };
                scopeLogs.LogRecords.AddRange(byScope.Select(l => l.Record));
                resourceLogs.ScopeLogs.Add(scopeLogs);
            }

            data.ResourceLogs.Add(resourceLogs);
        }

        return data;
    }

    /// <summary>The list endpoints' answer: <c>{"data": OTLP/JSON, "totalCount": n, "returnedCount": m}</c>.</summary>
    public static byte[] Wrap(IMessage data, int totalCount, int returnedCount)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("data");
            WriteHexIds(Encoding.UTF8.GetBytes(Formatter.Format(data)), writer);
            writer.WriteNumber("totalCount", totalCount);
            writer.WriteNumber("returnedCount", returnedCount);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>One message as one line of OTLP/JSON (the NDJSON streams), without the trailing newline.</summary>
    public static byte[] Line(IMessage data)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteHexIds(Encoding.UTF8.GetBytes(Formatter.Format(data)), writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Back from OTLP/JSON to the proto3 JSON mapping (ids as base64), which Google.Protobuf's <see cref="JsonParser"/>
    /// reads into the OTLP messages: what a .NET client of the API does to get the messages back.
    /// </summary>
    public static string ToProtoJson(string otlpJson)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Rewrite(Encoding.UTF8.GetBytes(otlpJson), writer, static (ref Utf8JsonReader reader) =>
                Convert.ToBase64String(Convert.FromHexString(reader.GetString() ?? "")));
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteHexIds(ReadOnlySpan<byte> protoJson, Utf8JsonWriter writer) =>
        Rewrite(protoJson, writer, static (ref Utf8JsonReader reader) => Convert.ToHexStringLower(reader.GetBytesFromBase64()));

    private delegate string IdConverter(ref Utf8JsonReader reader);

    /// <summary>Copies JSON token by token, converting the string value of every id property.</summary>
    private static void Rewrite(ReadOnlySpan<byte> json, Utf8JsonWriter writer, IdConverter convertId)
    {
        var reader = new Utf8JsonReader(json);
        var isId = false;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    writer.WriteStartObject();
                    break;
                case JsonTokenType.EndObject:
                    writer.WriteEndObject();
                    break;
                case JsonTokenType.StartArray:
                    writer.WriteStartArray();
                    break;
                case JsonTokenType.EndArray:
                    writer.WriteEndArray();
                    break;
                case JsonTokenType.PropertyName:
                    var name = reader.GetString()!;
                    writer.WritePropertyName(name);
                    isId = IdProperties.Contains(name);
                    continue;
                case JsonTokenType.String:
                    writer.WriteStringValue(isId ? convertId(ref reader) : reader.GetString());
                    break;
                case JsonTokenType.Number:
                    writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                    break;
                case JsonTokenType.True:
                    writer.WriteBooleanValue(true);
                    break;
                case JsonTokenType.False:
                    writer.WriteBooleanValue(false);
                    break;
                case JsonTokenType.Null:
                    writer.WriteNullValue();
                    break;
            }

            isId = false;
        }
    }
}
