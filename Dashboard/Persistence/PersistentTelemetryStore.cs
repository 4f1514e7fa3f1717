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
internal sealed class PersistentTelemetryStore(TelemetryRepository memory, RunWriter writer) : ForwardingTelemetryStore(memory)
{
    public override int AddTraces(ExportTraceServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Add(request.ResourceSpans.Sum(r => r.ScopeSpans.Sum(s => s.Spans.Count)), () => Memory.AddTraces(request),
            items => new RunWrite.Traces(request, items));
    }

    public override int AddLogs(ExportLogsServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Add(request.ResourceLogs.Sum(r => r.ScopeLogs.Sum(s => s.LogRecords.Count)), () => Memory.AddLogs(request),
            items => new RunWrite.Logs(request, items));
    }

    public override int AddMetrics(ExportMetricsServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Add(request.ResourceMetrics.Sum(r => r.ScopeMetrics.Sum(s => s.Metrics.Sum(m => MetricShell.Points(m).Count()))),
            () => Memory.AddMetrics(request), items => new RunWrite.Metrics(request, items));
    }

    /// <summary>
    /// Room for <paramref name="items"/> in the writer's queue first (or the export is refused); then what the memory
    /// kept goes to the file. A paused signal kept nothing, and its room is given back.
    /// </summary>
    private int Add(int items, Func<int> keep, Func<int, RunWrite> write)
    {
        if (!writer.TryReserve(items))
        {
            throw new TelemetryBackpressureException(writer.Pending);
        }

        var kept = keep();
        if (kept > 0)
        {
            writer.Enqueue(write(items));
        }
        else
        {
            writer.Release(items);
        }

        return kept;
    }

    public override void Clear(TelemetrySignal signal)
    {
        base.Clear(signal);
        writer.Enqueue(new RunWrite.Clear(signal));
    }
}

/// <summary>
/// An export refused because the run file's writer is that far behind: the receivers answer it as OTLP's retryable
/// throttling (gRPC UNAVAILABLE, HTTP 503 with Retry-After), and the exporter sends it again.
/// </summary>
internal sealed class TelemetryBackpressureException(long pending)
    : Exception($"The dashboard is writing {pending:N0} items to disk; send this export again in a moment.");
