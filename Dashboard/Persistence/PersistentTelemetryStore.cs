using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Persistence;

/// <summary>
/// The current run: the in-memory store answers every read (the fast live view), and what it keeps is queued for the
/// <see cref="RunWriter"/>. When the writer's queue is full an export is refused with
/// <see cref="TelemetryBackpressureException"/> before anything is kept, so the exporter sends it again later.
/// </summary>
internal sealed class PersistentTelemetryStore(TelemetryRepository memory, RunWriter writer) : ITelemetryStore
{
    public TelemetryLimits Limits => memory.Limits;

    public int AddTraces(ExportTraceServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var items = request.ResourceSpans.Sum(r => r.ScopeSpans.Sum(s => s.Spans.Count));
        Reserve(items);
        var kept = memory.AddTraces(request);
        Hand(kept, items, () => new RunWrite.Traces(request, items));
        return kept;
    }

    public int AddLogs(ExportLogsServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var items = request.ResourceLogs.Sum(r => r.ScopeLogs.Sum(s => s.LogRecords.Count));
        Reserve(items);
        var kept = memory.AddLogs(request);
        Hand(kept, items, () => new RunWrite.Logs(request, items));
        return kept;
    }

    public int AddMetrics(ExportMetricsServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var items = request.ResourceMetrics.Sum(r => r.ScopeMetrics.Sum(s => s.Metrics.Sum(m => MetricShell.Points(m).Count())));
        Reserve(items);
        var kept = memory.AddMetrics(request);
        Hand(kept, items, () => new RunWrite.Metrics(request, items));
        return kept;
    }

    private void Reserve(int items)
    {
        if (!writer.TryReserve(items))
        {
            throw new TelemetryBackpressureException(writer.Pending);
        }
    }

    /// <summary>What the memory kept goes to the file; a paused signal kept nothing, and its room is given back.</summary>
    private void Hand(int kept, int items, Func<RunWrite> write)
    {
        if (kept > 0)
        {
            writer.Enqueue(write());
        }
        else
        {
            writer.Release(items);
        }
    }

    public IReadOnlyList<TelemetryResource> GetResources() => memory.GetResources();

    public IReadOnlyList<TelemetryResource> FindResources(string nameOrDisplayName) => memory.FindResources(nameOrDisplayName);

    public IReadOnlyList<StoredSpan> GetSpans(SpanQuery query) => memory.GetSpans(query);

    public IReadOnlyList<StoredTrace> GetTraces(TraceQuery query) => memory.GetTraces(query);

    public TracePage GetTracePage(TraceQuery query, int offset, int count) => memory.GetTracePage(query, offset, count);

    public StoredTrace? GetTrace(string traceId) => memory.GetTrace(traceId);

    public IReadOnlyList<StoredLog> GetLogs(LogQuery query) => memory.GetLogs(query);

    public IReadOnlyList<MetricInstrumentSnapshot> GetInstruments(TelemetryResource? resource = null) => memory.GetInstruments(resource);

    public IAsyncEnumerable<StoredSpan> WatchSpansAsync(SpanQuery query, CancellationToken cancellationToken) => memory.WatchSpansAsync(query, cancellationToken);

    public IAsyncEnumerable<StoredLog> WatchLogsAsync(LogQuery query, CancellationToken cancellationToken) => memory.WatchLogsAsync(query, cancellationToken);

    public TelemetryCounts GetCounts() => memory.GetCounts();

    public bool IsPaused(TelemetrySignal signal) => memory.IsPaused(signal);

    public void SetPaused(TelemetrySignal signal, bool paused) => memory.SetPaused(signal, paused);

    public void Clear(TelemetrySignal signal)
    {
        memory.Clear(signal);
        writer.Enqueue(new RunWrite.Clear(signal));
    }
}

/// <summary>
/// An export refused because the run file's writer is that far behind: the receivers answer it as OTLP's retryable
/// throttling (gRPC UNAVAILABLE, HTTP 503 with Retry-After), and the exporter sends it again.
/// </summary>
internal sealed class TelemetryBackpressureException(long pending)
    : Exception($"The dashboard is writing {pending:N0} items to disk; send this export again in a moment.");
