using System.Globalization;
using System.Net;
using System.Text.Json;
using Google.Protobuf;
using Kiln.AppHost.Model;
using Kiln.Dashboard.Api;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Trace;

namespace Kiln.Tests.Distributed;

/// <summary>One span as the platform's dashboard returned it, flattened for reading: ids in hex, attributes as text.</summary>
internal sealed record TraceSpan(
    string Service,
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    Span.Types.SpanKind Kind,
    IReadOnlyDictionary<string, string> Attributes,
    bool IsError,
    TimeSpan Duration)
{
    /// <summary>A PostgreSQL client span, by the semantic conventions' current name or the older one.</summary>
    public bool IsPostgres =>
        Attributes.GetValueOrDefault("db.system.name") == "postgresql" || Attributes.GetValueOrDefault("db.system") == "postgresql";

    /// <summary>
    /// Whether an ingest's trace has arrived whole: the Api's request and its produce, the Worker's consume and its
    /// PostgreSQL write (spans are exported in batches, each service on its own schedule).
    /// </summary>
    public static bool IsCompleteIngest(IReadOnlyList<TraceSpan> trace) =>
        trace.Any(s => s.Service == "api" && s.Kind == Span.Types.SpanKind.Server)
        && trace.Any(s => s.Service == "api" && s.Kind == Span.Types.SpanKind.Producer)
        && trace.Any(s => s.Service == "worker" && s.Kind == Span.Types.SpanKind.Consumer)
        && trace.Any(s => s.Service == "worker" && s.IsPostgres);
}

/// <summary>
/// What the platform's dashboard received, read as a script would: through its telemetry HTTP API with the AppHost's
/// <c>dashboardApiKey</c>, its OTLP/JSON parsed back into the OTLP messages.
/// </summary>
internal sealed class DashboardTelemetry : IDisposable
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);
    private readonly HttpClient _http;

    public DashboardTelemetry(DistributedApplication app)
    {
        _http = new HttpClient { BaseAddress = app.Dashboard.FrontendUrl };
        _http.DefaultRequestHeaders.Add("X-API-Key", app.Secrets.DashboardApiKey);
    }

    /// <summary>The spans of one trace (<c>GET /api/telemetry/traces/{traceId}</c>); none while it is not there.</summary>
    public async Task<IReadOnlyList<TraceSpan>> TraceAsync(string traceId)
    {
        using var response = await _http.GetAsync($"/api/telemetry/traces/{traceId}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var data = Parser.Parse<TracesData>(OtlpJson.ToProtoJson(document.RootElement.GetProperty("data").GetRawText()));
        return [.. data.ResourceSpans.SelectMany(r => r.ScopeSpans.SelectMany(s => s.Spans.Select(span => Flatten(r.Resource, span))))];
    }

    /// <summary>The ids of the newest traces with a span of <paramref name="resource"/> (<c>GET /api/telemetry/traces?resource=</c>).</summary>
    public async Task<IReadOnlySet<string>> TraceIdsAsync(string resource, int limit = 1_000)
    {
        using var document = JsonDocument.Parse(await _http.GetStringAsync($"/api/telemetry/traces?resource={Uri.EscapeDataString(resource)}&limit={limit}"));
        var data = Parser.Parse<TracesData>(OtlpJson.ToProtoJson(document.RootElement.GetProperty("data").GetRawText()));
        return data.ResourceSpans.SelectMany(r => r.ScopeSpans.SelectMany(s => s.Spans)).Select(s => Convert.ToHexStringLower(s.TraceId.Span)).ToHashSet();
    }

    /// <summary>The resources that sent telemetry (<c>GET /api/telemetry/resources</c>) by name, with which signals each sent.</summary>
    public async Task<IReadOnlyList<(string Name, bool HasTraces, bool HasLogs, bool HasMetrics)>> ResourcesAsync()
    {
        using var document = JsonDocument.Parse(await _http.GetStringAsync("/api/telemetry/resources"));
        return [.. document.RootElement.EnumerateArray().Select(r => (r.GetProperty("name").GetString()!, r.GetProperty("hasTraces").GetBoolean(),
            r.GetProperty("hasLogs").GetBoolean(), r.GetProperty("hasMetrics").GetBoolean()))];
    }

    public void Dispose() => _http.Dispose();

    private static TraceSpan Flatten(Kiln.Dashboard.Otlp.Proto.Resource.Resource resource, Span span) => new(
        ToText(resource.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value) ?? "unknown",
        Convert.ToHexStringLower(span.TraceId.Span),
        Convert.ToHexStringLower(span.SpanId.Span),
        span.ParentSpanId.IsEmpty ? null : Convert.ToHexStringLower(span.ParentSpanId.Span),
        span.Name,
        span.Kind,
        span.Attributes.GroupBy(a => a.Key).ToDictionary(g => g.Key, g => ToText(g.Last().Value) ?? ""),
        span.Status?.Code == Status.Types.StatusCode.Error,
        TimeSpan.FromTicks((long)(span.EndTimeUnixNano - span.StartTimeUnixNano) / 100));

    private static string? ToText(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.ArrayValue => string.Join(",", value.ArrayValue.Values.Select(ToText)),
        _ => null,
    };
}
