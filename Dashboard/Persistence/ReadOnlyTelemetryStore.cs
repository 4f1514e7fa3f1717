using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Persistence;

/// <summary>A past run as read back: every read of the store it wraps, and no way to add, pause or clear.</summary>
internal sealed class ReadOnlyTelemetryStore(TelemetryRepository store) : ITelemetryStore
{
    public TelemetryLimits Limits => store.Limits;

    public int AddTraces(ExportTraceServiceRequest request) => throw ReadOnly();

    public int AddLogs(ExportLogsServiceRequest request) => throw ReadOnly();

    public int AddMetrics(ExportMetricsServiceRequest request) => throw ReadOnly();

    public IReadOnlyList<TelemetryResource> GetResources() => store.GetResources();

    public IReadOnlyList<TelemetryResource> FindResources(string nameOrDisplayName) => store.FindResources(nameOrDisplayName);

    public IReadOnlyList<StoredSpan> GetSpans(SpanQuery query) => store.GetSpans(query);

    public IReadOnlyList<StoredTrace> GetTraces(TraceQuery query) => store.GetTraces(query);

    public TracePage GetTracePage(TraceQuery query, int offset, int count) => store.GetTracePage(query, offset, count);

    public StoredTrace? GetTrace(string traceId) => store.GetTrace(traceId);

    public IReadOnlyList<StoredLog> GetLogs(LogQuery query) => store.GetLogs(query);

    public IReadOnlyList<MetricInstrumentSnapshot> GetInstruments(TelemetryResource? resource = null) => store.GetInstruments(resource);

    public IAsyncEnumerable<StoredSpan> WatchSpansAsync(SpanQuery query, CancellationToken cancellationToken) => throw ReadOnly();

    public IAsyncEnumerable<StoredLog> WatchLogsAsync(LogQuery query, CancellationToken cancellationToken) => throw ReadOnly();

    public TelemetryCounts GetCounts() => store.GetCounts();

    public bool IsPaused(TelemetrySignal signal) => false;

    public void SetPaused(TelemetrySignal signal, bool paused) => throw ReadOnly();

    public void Clear(TelemetrySignal signal) => throw ReadOnly();

    private static InvalidOperationException ReadOnly() => new("A past run is read-only: only the current run receives, streams, pauses and clears.");
}
