using Google.Protobuf;
using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Metrics;
using OtlpResource = Kiln.Dashboard.Otlp.Proto.Resource.Resource;

namespace Kiln.Dashboard.Otlp.Storage;

/// <summary>
/// The in-memory <see cref="ITelemetryStore"/>: one lock per signal (a receiver of logs never waits for one of spans),
/// each signal bounded by <see cref="TelemetryLimits"/> with the oldest dropped first. Received messages are trimmed to
/// the attribute limit as they are stored and never changed afterwards.
/// </summary>
internal sealed class TelemetryRepository(TelemetryLimits limits) : ITelemetryStore
{
    private static readonly InstrumentationScope NoScope = new();

    private readonly Lock _resourceGate = new();
    private readonly Dictionary<(string Name, string? InstanceId), TelemetryResource> _resources = [];

    private readonly Lock _traceGate = new();
    private readonly Dictionary<string, TraceEntry> _traces = new(StringComparer.Ordinal);
    private readonly Queue<TraceEntry> _traceOrder = new();
    private int _spanCount;

    private readonly Lock _logGate = new();
    private readonly Queue<StoredLog> _logs = new();
    private long _logSequence;

    private readonly Lock _metricGate = new();
    private readonly Dictionary<(TelemetryResource Resource, string Scope, string Name), InstrumentEntry> _instruments = [];
    private readonly Queue<InstrumentEntry> _pointOwners = new();

    private readonly Watchers<StoredSpan> _spanWatchers = new();
    private readonly Watchers<StoredLog> _logWatchers = new();
    private readonly Watchers<TelemetryChange> _changeWatchers = new();

    private volatile bool _tracesPaused;
    private volatile bool _logsPaused;
    private volatile bool _metricsPaused;

    public TelemetryLimits Limits { get; } = limits;

    public int AddTraces(ExportTraceServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_tracesPaused)
        {
            return 0;
        }

        var received = new List<StoredSpan>();
        foreach (var resourceSpans in request.ResourceSpans)
        {
            var resource = Resolve(resourceSpans.Resource);
            resource.HasTraces = true;
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                var scope = scopeSpans.Scope ?? NoScope;
                foreach (var span in scopeSpans.Spans)
                {
                    span.DroppedAttributesCount += AttributeLimit.Trim(span.Attributes, Limits.MaxAttributeCount);
                    foreach (var spanEvent in span.Events)
                    {
                        spanEvent.DroppedAttributesCount += AttributeLimit.Trim(spanEvent.Attributes, Limits.MaxAttributeCount);
                    }

                    foreach (var link in span.Links)
                    {
                        link.DroppedAttributesCount += AttributeLimit.Trim(link.Attributes, Limits.MaxAttributeCount);
                    }

                    received.Add(new StoredSpan(resource, scope, span));
                }
            }
        }

        lock (_traceGate)
        {
            foreach (var span in received)
            {
                if (!_traces.TryGetValue(span.TraceId, out var trace))
                {
                    trace = new TraceEntry(span.TraceId);
                    _traces.Add(span.TraceId, trace);
                    _traceOrder.Enqueue(trace);
                }

                trace.Spans.Add(span);
                _spanCount++;
            }

            while (_traces.Count > Limits.MaxTraceCount)
            {
                var oldest = _traceOrder.Dequeue();
                _traces.Remove(oldest.Id);
                _spanCount -= oldest.Spans.Count;
            }
        }

        _spanWatchers.Publish(received);
        PublishChanges(received, s => new TelemetryChange(TelemetrySignal.Traces, s.Resource, s.TraceId));
        return received.Count;
    }

    public int AddLogs(ExportLogsServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_logsPaused)
        {
            return 0;
        }

        var received = new List<StoredLog>();
        lock (_logGate)
        {
            foreach (var resourceLogs in request.ResourceLogs)
            {
                var resource = Resolve(resourceLogs.Resource);
                resource.HasLogs = true;
                foreach (var scopeLogs in resourceLogs.ScopeLogs)
                {
                    var scope = scopeLogs.Scope ?? NoScope;
                    foreach (var record in scopeLogs.LogRecords)
                    {
                        record.DroppedAttributesCount += AttributeLimit.Trim(record.Attributes, Limits.MaxAttributeCount);
                        var log = new StoredLog(++_logSequence, resource, scope, record);
                        _logs.Enqueue(log);
                        received.Add(log);
                    }
                }
            }

            while (_logs.Count > Limits.MaxLogCount)
            {
                _logs.Dequeue();
            }
        }

        _logWatchers.Publish(received);
        PublishChanges(received, l => new TelemetryChange(TelemetrySignal.Logs, l.Resource, ""));
        return received.Count;
    }

    public int AddMetrics(ExportMetricsServiceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_metricsPaused)
        {
            return 0;
        }

        var kept = 0;
        var changed = new List<TelemetryChange>();
        foreach (var resourceMetrics in request.ResourceMetrics)
        {
            var resource = Resolve(resourceMetrics.Resource);
            resource.HasMetrics = true;
            lock (_metricGate)
            {
                foreach (var scopeMetrics in resourceMetrics.ScopeMetrics)
                {
                    var scope = scopeMetrics.Scope ?? NoScope;
                    foreach (var metric in scopeMetrics.Metrics)
                    {
                        var key = (resource, scope.Name, metric.Name);
                        if (!_instruments.TryGetValue(key, out var instrument))
                        {
                            instrument = new InstrumentEntry(resource, scope, metric.Name, metric.Description, metric.Unit, metric.DataCase);
                            _instruments.Add(key, instrument);
                        }

                        foreach (var point in DataPoints(metric))
                        {
                            instrument.Points.Enqueue(point);
                            _pointOwners.Enqueue(instrument);
                            kept++;
                        }

                        changed.Add(new TelemetryChange(TelemetrySignal.Metrics, resource, metric.Name, scope.Name));
                    }
                }

                while (_pointOwners.Count > Limits.MaxMetricsCount)
                {
                    // Points enter an instrument's queue in the same order as the shared one: its oldest is the one to drop.
                    _pointOwners.Dequeue().Points.Dequeue();
                }
            }
        }

        PublishChanges(changed, c => c);
        return kept;
    }

    /// <summary>One change per distinct trace, instrument or resource of an export, and only while someone follows.</summary>
    private void PublishChanges<T>(IReadOnlyList<T> stored, Func<T, TelemetryChange> change)
    {
        if (stored.Count > 0 && _changeWatchers.Any)
        {
            _changeWatchers.Publish([.. stored.Select(change).Distinct()]);
        }
    }

    /// <summary>A metric's data points, each trimmed to the attribute limit (OTLP data points count no dropped attributes).</summary>
    private IEnumerable<MetricPoint> DataPoints(Metric metric)
    {
        var max = Limits.MaxAttributeCount;
        return metric.DataCase switch
        {
            Metric.DataOneofCase.Gauge => metric.Gauge.DataPoints.Select(p => Point(p.Attributes, p.TimeUnixNano, p)),
            Metric.DataOneofCase.Sum => metric.Sum.DataPoints.Select(p => Point(p.Attributes, p.TimeUnixNano, p)),
            Metric.DataOneofCase.Histogram => metric.Histogram.DataPoints.Select(p => Point(p.Attributes, p.TimeUnixNano, p)),
            Metric.DataOneofCase.ExponentialHistogram => metric.ExponentialHistogram.DataPoints.Select(p => Point(p.Attributes, p.TimeUnixNano, p)),
            Metric.DataOneofCase.Summary => metric.Summary.DataPoints.Select(p => Point(p.Attributes, p.TimeUnixNano, p)),
            _ => [],
        };

        MetricPoint Point(Google.Protobuf.Collections.RepeatedField<KeyValue> attributes, ulong time, IMessage point)
        {
            AttributeLimit.Trim(attributes, max);
            return new MetricPoint(time, point);
        }
    }

    private TelemetryResource Resolve(OtlpResource? resource)
    {
        resource ??= new OtlpResource();
        var key = TelemetryResourceKey.Of(resource);
        lock (_resourceGate)
        {
            if (!_resources.TryGetValue(key, out var known))
            {
                resource.DroppedAttributesCount += AttributeLimit.Trim(resource.Attributes, Limits.MaxAttributeCount);
                known = new TelemetryResource(key.Item1, key.Item2, resource);
                _resources.Add(key, known);
            }

            return known;
        }
    }

    public IReadOnlyList<TelemetryResource> GetResources()
    {
        lock (_resourceGate)
        {
            return [.. _resources.Values.OrderBy(r => r.Name, StringComparer.Ordinal).ThenBy(r => r.InstanceId, StringComparer.Ordinal)];
        }
    }

    public IReadOnlyList<TelemetryResource> FindResources(string nameOrDisplayName) =>
        [.. GetResources().Where(r => r.Matches(nameOrDisplayName))];

    public IReadOnlyList<StoredSpan> GetSpans(SpanQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_traceGate)
        {
            if (query.TraceId is { } traceId)
            {
                return _traces.TryGetValue(traceId.ToLowerInvariant(), out var trace) ? [.. trace.Spans.Where(query.Selects)] : [];
            }

            return [.. _traceOrder.SelectMany(t => t.Spans).Where(query.Selects)];
        }
    }

    public IReadOnlyList<StoredTrace> GetTraces(TraceQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_traceGate)
        {
            return [.. _traceOrder.Select(t => t.Snapshot()).Where(query.Selects)];
        }
    }

    public TracePage GetTracePage(TraceQuery query, int offset, int count)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var page = new List<StoredTrace>(Math.Min(count, 1_000));
        var total = 0;
        lock (_traceGate)
        {
            // Newest first without copying the queue's order: the entries are walked from an array of references only.
            var entries = _traceOrder.ToArray();
            for (var i = entries.Length - 1; i >= 0; i--)
            {
                var entry = entries[i];
                if (!query.Selects(entry.Id, entry.Spans))
                {
                    continue;
                }

                if (total >= offset && page.Count < count)
                {
                    page.Add(entry.Snapshot());
                }

                total++;
            }
        }

        return new TracePage(page, total);
    }

    public StoredTrace? GetTrace(string traceId)
    {
        ArgumentNullException.ThrowIfNull(traceId);
        lock (_traceGate)
        {
            return _traces.TryGetValue(traceId.ToLowerInvariant(), out var trace) ? trace.Snapshot() : null;
        }
    }

    public IReadOnlyList<StoredLog> GetLogs(LogQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_logGate)
        {
            return [.. _logs.Where(query.Selects)];
        }
    }

    public IReadOnlyList<MetricInstrumentSnapshot> GetInstruments(TelemetryResource? resource = null)
    {
        lock (_metricGate)
        {
            return [.. _instruments.Values
                .Where(i => resource is null || i.Resource == resource)
                .Select(i => new MetricInstrumentSnapshot(i.Resource, i.Scope, i.Name, i.Description, i.Unit, i.Kind, [.. i.Points]))];
        }
    }

    public IAsyncEnumerable<StoredSpan> WatchSpansAsync(SpanQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return _spanWatchers.WatchAsync(query.Selects, () => GetSpans(query), cancellationToken);
    }

    public IAsyncEnumerable<StoredLog> WatchLogsAsync(LogQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return _logWatchers.WatchAsync(query.Selects, () => GetLogs(query), cancellationToken);
    }

    public IAsyncEnumerable<TelemetryChange> WatchChangesAsync(TelemetrySignal signal, CancellationToken cancellationToken) =>
        _changeWatchers.WatchAsync(c => c.Signal == signal, snapshot: null, cancellationToken);

    public TelemetryCounts GetCounts()
    {
        int logs, traces, spans, points, instruments, resources;
        lock (_logGate)
        {
            logs = _logs.Count;
        }

        lock (_traceGate)
        {
            traces = _traces.Count;
            spans = _spanCount;
        }

        lock (_metricGate)
        {
            points = _pointOwners.Count;
            instruments = _instruments.Count;
        }

        lock (_resourceGate)
        {
            resources = _resources.Count;
        }

        return new TelemetryCounts(logs, traces, spans, points, instruments, resources);
    }

    public bool IsPaused(TelemetrySignal signal) => signal switch
    {
        TelemetrySignal.Logs => _logsPaused,
        TelemetrySignal.Traces => _tracesPaused,
        TelemetrySignal.Metrics => _metricsPaused,
        _ => throw new ArgumentOutOfRangeException(nameof(signal)),
    };

    public void SetPaused(TelemetrySignal signal, bool paused)
    {
        switch (signal)
        {
            case TelemetrySignal.Logs: _logsPaused = paused; break;
            case TelemetrySignal.Traces: _tracesPaused = paused; break;
            case TelemetrySignal.Metrics: _metricsPaused = paused; break;
            default: throw new ArgumentOutOfRangeException(nameof(signal));
        }
    }

    public void Clear(TelemetrySignal signal)
    {
        switch (signal)
        {
            case TelemetrySignal.Logs:
                lock (_logGate)
                {
                    _logs.Clear();
                }

                break;
            case TelemetrySignal.Traces:
                lock (_traceGate)
                {
                    _traces.Clear();
                    _traceOrder.Clear();
                    _spanCount = 0;
                }

                break;
            case TelemetrySignal.Metrics:
                lock (_metricGate)
                {
                    _instruments.Clear();
                    _pointOwners.Clear();
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(signal));
        }
    }

    private sealed class TraceEntry(string id)
    {
        public string Id { get; } = id;

        public List<StoredSpan> Spans { get; } = [];

        public StoredTrace Snapshot() => new(Id, [.. Spans]);
    }

    private sealed class InstrumentEntry(TelemetryResource resource, InstrumentationScope scope, string name, string description, string unit,
        Metric.DataOneofCase kind)
    {
        public TelemetryResource Resource { get; } = resource;
        public InstrumentationScope Scope { get; } = scope;
        public string Name { get; } = name;
        public string Description { get; } = description;
        public string Unit { get; } = unit;
        public Metric.DataOneofCase Kind { get; } = kind;
        public Queue<MetricPoint> Points { get; } = new();
    }
}
