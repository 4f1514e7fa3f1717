using Google.Protobuf;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Proto.Trace;
using OtlpResource = Kiln.Dashboard.Otlp.Proto.Resource.Resource;

namespace Kiln.Dashboard.Otlp.Storage;

/// <summary>The three OTLP signals, each stored, paused and cleared on its own.</summary>
internal enum TelemetrySignal
{
    Logs,
    Traces,
    Metrics,
}

/// <summary>
/// A resource as its telemetry names it: <c>service.name</c> and <c>service.instance.id</c> (one per replica). The
/// attributes are those of its first export. <see cref="DisplayName"/> is <c>api-abcdefgh</c> when there is an instance id.
/// </summary>
internal sealed class TelemetryResource(string name, string? instanceId, OtlpResource attributes)
{
    public const string UnknownService = "unknown_service";

    public string Name { get; } = name;

    public string? InstanceId { get; } = instanceId;

    public string DisplayName => InstanceId is null ? Name : $"{Name}-{InstanceId}";

    /// <summary>The OTLP resource as first received (attributes only; read-only once stored).</summary>
    public OtlpResource Attributes { get; } = attributes;

    public bool HasLogs { get; internal set; }

    public bool HasTraces { get; internal set; }

    public bool HasMetrics { get; internal set; }

    /// <summary>Whether a filter by <paramref name="nameOrDisplayName"/> (<c>api</c>, or one replica's <c>api-abcdefgh</c>) selects it.</summary>
    public bool Matches(string nameOrDisplayName) =>
        string.Equals(Name, nameOrDisplayName, StringComparison.OrdinalIgnoreCase)
        || string.Equals(DisplayName, nameOrDisplayName, StringComparison.OrdinalIgnoreCase);
}

/// <summary>One span as received, with the resource and instrumentation scope that sent it. Never changed once stored.</summary>
internal sealed class StoredSpan(TelemetryResource resource, InstrumentationScope scope, Span span)
{
    public TelemetryResource Resource { get; } = resource;

    public InstrumentationScope Scope { get; } = scope;

    public Span Span { get; } = span;

    /// <summary>Lowercase hex, as OTLP/JSON and W3C trace context write it.</summary>
    public string TraceId { get; } = Convert.ToHexStringLower(span.TraceId.Span);

    public string SpanId { get; } = Convert.ToHexStringLower(span.SpanId.Span);

    public string? ParentSpanId { get; } = span.ParentSpanId.IsEmpty ? null : Convert.ToHexStringLower(span.ParentSpanId.Span);

    public bool HasError => Span.Status?.Code == Status.Types.StatusCode.Error;

    public TimeSpan Duration => TimeSpan.FromTicks((long)(Span.EndTimeUnixNano - Span.StartTimeUnixNano) / 100);
}

/// <summary>One trace: its spans in the order they arrived (a copy; the store goes on adding to its own).</summary>
internal sealed record StoredTrace(string TraceId, IReadOnlyList<StoredSpan> Spans)
{
    public bool HasError => Spans.Any(s => s.HasError);

    public DateTimeOffset Start => DateTimeOffset.UnixEpoch.AddTicks((long)(Spans.Min(s => s.Span.StartTimeUnixNano) / 100));
}

/// <summary>One log record as received, with its resource and scope; <see cref="Sequence"/> orders and identifies it.</summary>
internal sealed record StoredLog(long Sequence, TelemetryResource Resource, InstrumentationScope Scope, LogRecord Record)
{
    public string? TraceId { get; } = Record.TraceId.IsEmpty ? null : Convert.ToHexStringLower(Record.TraceId.Span);
}

/// <summary>One data point of an instrument: a NumberDataPoint, HistogramDataPoint, ExponentialHistogramDataPoint or SummaryDataPoint.</summary>
internal sealed record MetricPoint(ulong TimeUnixNano, IMessage DataPoint);

/// <summary>One instrument of one resource's meter (scope), with its newest points.</summary>
internal sealed record MetricInstrumentSnapshot(
    TelemetryResource Resource,
    InstrumentationScope Scope,
    string Name,
    string Description,
    string Unit,
    Proto.Metrics.Metric.DataOneofCase Kind,
    IReadOnlyList<MetricPoint> Points);

/// <summary>
/// What a span query selects. Null means any. <see cref="ResourceNames"/> are names or display names
/// (<see cref="TelemetryResource.Matches"/>), so a watch also selects a resource that first reports later.
/// </summary>
internal sealed record SpanQuery(IReadOnlyCollection<string>? ResourceNames = null, string? TraceId = null, bool? HasError = null)
{
    public bool Selects(StoredSpan span) =>
        OfResources(ResourceNames, span.Resource)
        && (TraceId is null || string.Equals(span.TraceId, TraceId, StringComparison.OrdinalIgnoreCase))
        && (HasError is null || span.HasError == HasError);

    internal static bool OfResources(IReadOnlyCollection<string>? names, TelemetryResource resource) =>
        names is not { Count: > 0 } || names.Any(resource.Matches);
}

/// <summary>
/// What a trace query selects: traces with a span of one of <see cref="ResourceNames"/>, with or without an error, and
/// (<see cref="Text"/>) whose id starts with it or with a span whose name contains it (any case).
/// </summary>
internal sealed record TraceQuery(IReadOnlyCollection<string>? ResourceNames = null, bool? HasError = null, string? Text = null)
{
    public bool Selects(StoredTrace trace) => Selects(trace.TraceId, trace.Spans);

    public bool Selects(string traceId, IReadOnlyList<StoredSpan> spans) =>
        (ResourceNames is not { Count: > 0 } || spans.Any(s => SpanQuery.OfResources(ResourceNames, s.Resource)))
        && (HasError is null || spans.Any(s => s.HasError) == HasError)
        && (string.IsNullOrEmpty(Text)
            || traceId.StartsWith(Text, StringComparison.OrdinalIgnoreCase)
            || spans.Any(s => s.Span.Name.Contains(Text, StringComparison.OrdinalIgnoreCase)));
}

/// <summary>One page of traces, newest first, and how many traces the query selects in all.</summary>
internal sealed record TracePage(IReadOnlyList<StoredTrace> Traces, int TotalCount);

/// <summary>
/// What a log query selects; <see cref="MinSeverity"/> keeps that severity and above. <see cref="TraceId"/> matches any
/// part of a record's trace id, as the Aspire dashboard's log filter does.
/// </summary>
internal sealed record LogQuery(IReadOnlyCollection<string>? ResourceNames = null, string? TraceId = null, SeverityNumber? MinSeverity = null)
{
    public bool Selects(StoredLog log) =>
        SpanQuery.OfResources(ResourceNames, log.Resource)
        && (TraceId is null || (log.TraceId?.Contains(TraceId, StringComparison.OrdinalIgnoreCase) ?? false))
        && (MinSeverity is null || log.Record.SeverityNumber >= MinSeverity);
}

/// <summary>How much of each signal is held now, and how many resources have reported.</summary>
/// <summary>
/// That something of <paramref name="Signal"/> was just stored for <paramref name="Resource"/>: for traces
/// <paramref name="Name"/> is the trace id (one change per trace an export touched), for metrics the instrument's name in
/// meter <paramref name="Meter"/> (one change per instrument), for logs empty (one change per resource). What a live page
/// follows to know when to show itself again.
/// </summary>
internal sealed record TelemetryChange(TelemetrySignal Signal, TelemetryResource Resource, string Name, string? Meter = null);

internal sealed record TelemetryCounts(int Logs, int Traces, int Spans, int MetricPoints, int Instruments, int Resources);
