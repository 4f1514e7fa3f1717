using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;

namespace Kiln.Dashboard.Otlp.Storage;

/// <summary>
/// The one telemetry store: every way in (the OTLP/gRPC and OTLP/HTTP receivers) writes to it, every way out (the
/// telemetry HTTP API, its streams, the pages) reads from it. It is bounded by <see cref="Limits"/> (oldest out first),
/// thread-safe, and each signal can be paused (what arrives meanwhile is dropped) and cleared.
/// <para>
/// Everything it hands out is a snapshot: lists are copies, and the OTLP messages inside are never changed after they
/// were stored, so a reader may keep them while new telemetry arrives. Items come oldest first. The in-memory
/// <see cref="TelemetryRepository"/> is the only implementation today; a persistent one (SQLite, past runs) goes behind
/// this same interface.
/// </para>
/// </summary>
internal interface ITelemetryStore
{
    TelemetryLimits Limits { get; }

    /// <summary>Stores an export's spans (grouped into traces); returns how many were kept (0 while traces are paused).</summary>
    int AddTraces(ExportTraceServiceRequest request);

    /// <summary>Stores an export's log records; returns how many were kept.</summary>
    int AddLogs(ExportLogsServiceRequest request);

    /// <summary>Stores an export's metric data points; returns how many were kept.</summary>
    int AddMetrics(ExportMetricsServiceRequest request);

    /// <summary>Every resource that sent anything since the store started (clearing a signal does not forget resources).</summary>
    IReadOnlyList<TelemetryResource> GetResources();

    /// <summary>The resources <paramref name="nameOrDisplayName"/> selects: every replica of <c>api</c>, or the one <c>api-abcdefgh</c>.</summary>
    IReadOnlyList<TelemetryResource> FindResources(string nameOrDisplayName);

    /// <summary>Every stored span the query selects, oldest trace first, spans of a trace in arrival order.</summary>
    IReadOnlyList<StoredSpan> GetSpans(SpanQuery query);

    /// <summary>Every stored trace the query selects, oldest first (by when its first span arrived).</summary>
    IReadOnlyList<StoredTrace> GetTraces(TraceQuery query);

    /// <summary>
    /// One page of the traces the query selects, newest first (by when the first span arrived), skipping
    /// <paramref name="offset"/>: only the page's traces are copied, so a list stays cheap however much is stored.
    /// </summary>
    TracePage GetTracePage(TraceQuery query, int offset, int count);

    /// <summary>One trace by its id (32 hex digits, any case), or null when it is not (or no longer) stored.</summary>
    StoredTrace? GetTrace(string traceId);

    /// <summary>Every stored log record the query selects, oldest first.</summary>
    IReadOnlyList<StoredLog> GetLogs(LogQuery query);

    /// <summary>Every instrument (of one resource, or of all) with its stored points, oldest first.</summary>
    IReadOnlyList<MetricInstrumentSnapshot> GetInstruments(TelemetryResource? resource = null);

    /// <summary>
    /// The spans the query selects: those stored now, then each new one as it is stored, until cancelled. A watcher
    /// that falls 1,000 spans behind loses its oldest, so a slow reader never holds memory or slows the receivers.
    /// </summary>
    IAsyncEnumerable<StoredSpan> WatchSpansAsync(SpanQuery query, CancellationToken cancellationToken);

    /// <summary>Like <see cref="WatchSpansAsync"/>, for log records.</summary>
    IAsyncEnumerable<StoredLog> WatchLogsAsync(LogQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// What is stored of <paramref name="signal"/> from now on, as changes (nothing of what is stored already): a trace,
    /// an instrument or a resource's logs that just received something. Bounded like the other watchers; a page that
    /// follows it renders itself again rather than reading the items from it.
    /// </summary>
    IAsyncEnumerable<TelemetryChange> WatchChangesAsync(TelemetrySignal signal, CancellationToken cancellationToken);

    TelemetryCounts GetCounts();

    bool IsPaused(TelemetrySignal signal);

    /// <summary>While paused, what arrives of that signal is acknowledged to the exporter and dropped.</summary>
    void SetPaused(TelemetrySignal signal, bool paused);

    /// <summary>Forgets everything stored of one signal.</summary>
    void Clear(TelemetrySignal signal);
}
