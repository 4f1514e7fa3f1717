using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Components.Telemetry;

/// <summary>What a trace list row and a waterfall need of one trace: its extent, root, resources and spans as a tree.</summary>
internal sealed class TraceSummary
{
    public TraceSummary(StoredTrace trace)
    {
        Trace = trace;
        StartUnixNano = trace.Spans.Min(s => s.Span.StartTimeUnixNano);
        EndUnixNano = trace.Spans.Max(s => Math.Max(s.Span.EndTimeUnixNano, s.Span.StartTimeUnixNano));
        var ids = trace.Spans.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        // A span whose parent is not (or not yet) here is shown as a root, as the Aspire dashboard does.
        var roots = trace.Spans.Where(s => s.ParentSpanId is null || !ids.Contains(s.ParentSpanId)).OrderBy(s => s.Span.StartTimeUnixNano).ToList();
        Root = roots.FirstOrDefault(s => s.ParentSpanId is null) ?? roots.FirstOrDefault() ?? trace.Spans[0];
        Resources = [.. trace.Spans.Select(s => s.Resource).Distinct().OrderBy(r => r.Name, StringComparer.Ordinal)];
        ErrorCount = trace.Spans.Count(s => s.HasError);

        var children = trace.Spans.Where(s => s.ParentSpanId is not null && ids.Contains(s.ParentSpanId))
            .GroupBy(s => s.ParentSpanId!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(s => s.Span.StartTimeUnixNano).ToList(), StringComparer.Ordinal);
        var rows = new List<WaterfallRow>(trace.Spans.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in roots)
        {
            Walk(root, 0);
        }

        Rows = rows;

        void Walk(StoredSpan span, int depth)
        {
            if (!seen.Add(span.SpanId))
            {
                return; // a span id given twice, or a cycle of parents: shown once
            }

            rows.Add(new WaterfallRow(span, depth));
            if (children.TryGetValue(span.SpanId, out var kids))
            {
                foreach (var kid in kids)
                {
                    Walk(kid, depth + 1);
                }
            }
        }
    }

    public StoredTrace Trace { get; }

    public ulong StartUnixNano { get; }

    public ulong EndUnixNano { get; }

    public TimeSpan Duration => TimeSpan.FromTicks((long)(EndUnixNano - StartUnixNano) / 100);

    public StoredSpan Root { get; }

    public IReadOnlyList<TelemetryResource> Resources { get; }

    public int ErrorCount { get; }

    /// <summary>Every span once, parents before children, siblings by start time, with its depth in the tree.</summary>
    public IReadOnlyList<WaterfallRow> Rows { get; }

    /// <summary>Where a span's bar starts and how wide it is, as percentages of the trace's extent.</summary>
    public (double Left, double Width) Bar(StoredSpan span)
    {
        var total = Math.Max(1d, EndUnixNano - StartUnixNano);
        var left = (span.Span.StartTimeUnixNano - StartUnixNano) / total * 100;
        var width = (Math.Max(span.Span.EndTimeUnixNano, span.Span.StartTimeUnixNano) - span.Span.StartTimeUnixNano) / total * 100;
        return (Math.Round(left, 3), Math.Round(Math.Max(width, 0.2), 3));
    }
}

internal sealed record WaterfallRow(StoredSpan Span, int Depth);
