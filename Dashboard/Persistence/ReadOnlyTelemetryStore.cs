using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Persistence;

/// <summary>A past run as read back: every read of the store it wraps, and no way to add, follow, pause or clear.</summary>
internal sealed class ReadOnlyTelemetryStore(TelemetryRepository store) : ForwardingTelemetryStore(store)
{
    public override int AddTraces(ExportTraceServiceRequest request) => throw ReadOnly();

    public override int AddLogs(ExportLogsServiceRequest request) => throw ReadOnly();

    public override int AddMetrics(ExportMetricsServiceRequest request) => throw ReadOnly();

    public override IAsyncEnumerable<StoredSpan> WatchSpansAsync(SpanQuery query, CancellationToken cancellationToken) => throw ReadOnly();

    public override IAsyncEnumerable<StoredLog> WatchLogsAsync(LogQuery query, CancellationToken cancellationToken) => throw ReadOnly();

    public override IAsyncEnumerable<TelemetryChange> WatchChangesAsync(TelemetrySignal signal, CancellationToken cancellationToken) => throw ReadOnly();

    public override bool IsPaused(TelemetrySignal signal) => false;

    public override void SetPaused(TelemetrySignal signal, bool paused) => throw ReadOnly();

    public override void Clear(TelemetrySignal signal) => throw ReadOnly();

    private static InvalidOperationException ReadOnly() => new("A past run is read-only: only the current run receives, streams, pauses and clears.");
}
