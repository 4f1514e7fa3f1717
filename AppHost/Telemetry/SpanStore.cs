namespace Kiln.AppHost.Telemetry;

/// <summary>
/// The most recent spans received, oldest dropped first once <see cref="Capacity"/> is reached, so a
/// long run cannot grow the AppHost without bound. Browsing them is the dashboard's work; the AppHost
/// keeps them for its tests and diagnostics.
/// </summary>
internal sealed class SpanStore
{
    public const int Capacity = 20_000;

    private readonly Queue<ReceivedSpan> _spans = new();
    private readonly Lock _gate = new();

    public void Add(IEnumerable<ReceivedSpan> spans)
    {
        lock (_gate)
        {
            foreach (var span in spans)
            {
                if (_spans.Count == Capacity)
                {
                    _spans.Dequeue();
                }

                _spans.Enqueue(span);
            }
        }
    }

    public IReadOnlyList<ReceivedSpan> Snapshot()
    {
        lock (_gate)
        {
            return [.. _spans];
        }
    }

    /// <summary>Every kept span of one trace.</summary>
    public IReadOnlyList<ReceivedSpan> Trace(string traceId)
    {
        lock (_gate)
        {
            return [.. _spans.Where(s => s.TraceId == traceId)];
        }
    }
}
