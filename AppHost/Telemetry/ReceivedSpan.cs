using Kiln.AppHost.Telemetry.Otlp;

namespace Kiln.AppHost.Telemetry;

/// <summary>One span as a service exported it, flattened for reading: ids in lowercase hex, attributes as text.</summary>
internal sealed record ReceivedSpan(
    string Service,
    string Scope,
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    Span.Types.SpanKind Kind,
    IReadOnlyDictionary<string, string> Attributes,
    IReadOnlyList<(string TraceId, string SpanId)> Links,
    bool IsError,
    TimeSpan Duration)
{
    public static IEnumerable<ReceivedSpan> From(ExportTraceServiceRequest request)
    {
        foreach (var resourceSpans in request.ResourceSpans)
        {
            var service = ToText(resourceSpans.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value) ?? "unknown";
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                foreach (var span in scopeSpans.Spans)
                {
                    yield return new ReceivedSpan(
                        service,
                        scopeSpans.Scope?.Name ?? "",
                        Convert.ToHexStringLower(span.TraceId.Span),
                        Convert.ToHexStringLower(span.SpanId.Span),
                        span.ParentSpanId.IsEmpty ? null : Convert.ToHexStringLower(span.ParentSpanId.Span),
                        span.Name,
                        span.Kind,
                        span.Attributes.GroupBy(a => a.Key).ToDictionary(g => g.Key, g => ToText(g.Last().Value) ?? ""),
                        [.. span.Links.Select(l => (Convert.ToHexStringLower(l.TraceId.Span), Convert.ToHexStringLower(l.SpanId.Span)))],
                        span.Status?.Code == Status.Types.StatusCode.Error,
                        TimeSpan.FromTicks((long)(span.EndTimeUnixNano - span.StartTimeUnixNano) / 100));
                }
            }
        }
    }

    private static string? ToText(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.ArrayValue => string.Join(",", value.ArrayValue.Values.Select(ToText)),
        AnyValue.ValueOneofCase.BytesValue => Convert.ToHexStringLower(value.BytesValue.Span),
        _ => null,
    };
}
