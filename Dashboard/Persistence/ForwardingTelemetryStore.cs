using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Persistence;

/// <summary>
/// A run's store in front of its in-memory <see cref="TelemetryRepository"/>: every member is answered by the memory
/// unless the run (current, written to its file; or past, read-only) says otherwise by overriding it.
/// </summary>
internal abstract class ForwardingTelemetryStore(TelemetryRepository memory) : ITelemetryStore
{
    protected TelemetryRepository Memory { get; } = memory;

    public TelemetryLimits Limits => Memory.Limits;

    public virtual int AddTraces(ExportTraceServiceRequest request) => Memory.AddTraces(request);

    public virtual int AddLogs(ExportLogsServiceRequest request) => Memory.AddLogs(request);

    public virtual int AddMetrics(ExportMetricsServiceRequest request) => Memory.AddMetrics(request);

    public IReadOnlyList<TelemetryResource> GetResources() => Memory.GetResources();

    public IReadOnlyList<TelemetryResource> FindResources(string nameOrDisplayName) => Memory.FindResources(nameOrDisplayName);

    public IReadOnlyList<StoredSpan> GetSpans(SpanQuery query) => Memory.GetSpans(query);

    public IReadOnlyList<StoredTrace> GetTraces(TraceQuery query) => Memory.GetTraces(query);

    public TracePage GetTracePage(TraceQuery query, int offset, int count) => Memory.GetTracePage(query, offset, count);

    public StoredTrace? GetTrace(string traceId) => Memory.GetTrace(traceId);

    public IReadOnlyList<StoredLog> GetLogs(LogQuery query) => Memory.GetLogs(query);

    public IReadOnlyList<MetricInstrumentSnapshot> GetInstruments(TelemetryResource? resource = null) => Memory.GetInstruments(resource);

    public virtual IAsyncEnumerable<StoredSpan> WatchSpansAsync(SpanQuery query, CancellationToken cancellationToken) =>
        Memory.WatchSpansAsync(query, cancellationToken);

    public virtual IAsyncEnumerable<StoredLog> WatchLogsAsync(LogQuery query, CancellationToken cancellationToken) =>
        Memory.WatchLogsAsync(query, cancellationToken);

    public virtual IAsyncEnumerable<TelemetryChange> WatchChangesAsync(TelemetrySignal signal, CancellationToken cancellationToken) =>
        Memory.WatchChangesAsync(signal, cancellationToken);

    public TelemetryCounts GetCounts() => Memory.GetCounts();

    public virtual bool IsPaused(TelemetrySignal signal) => Memory.IsPaused(signal);

    public virtual void SetPaused(TelemetrySignal signal, bool paused) => Memory.SetPaused(signal, paused);

    public virtual void Clear(TelemetrySignal signal) => Memory.Clear(signal);
}
