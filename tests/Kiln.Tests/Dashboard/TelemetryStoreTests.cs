using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Proto.Metrics;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The store holds at most Aspire's limits (10,000 logs, 10,000 traces, 50,000 metric points, 128 attributes per item),
/// dropping the oldest first, whatever arrives and from how many receivers at once; pause and clear act per signal.
/// </summary>
public sealed class TelemetryStoreTests
{
    [Fact]
    public void A_trace_page_is_newest_first_counts_every_match_and_copies_only_its_own_traces()
    {
        var store = new TelemetryRepository(new TelemetryLimits());
        for (var i = 0; i < 25; i++)
        {
            store.AddTraces(OtlpMessages.Traces(i % 2 == 0 ? "even" : "odd", [OtlpMessages.Span(OtlpMessages.TraceId(i), 0, $"work {i}", error: i % 5 == 0)]));
        }

        static string Id(int i) => Convert.ToHexStringLower(OtlpMessages.TraceId(i));
        var first = store.GetTracePage(new TraceQuery(), 0, 10);
        Assert.Equal(25, first.TotalCount);
        Assert.Equal(Enumerable.Range(15, 10).Reverse().Select(Id), first.Traces.Select(t => t.TraceId));
        var last = store.GetTracePage(new TraceQuery(), 20, 10);
        Assert.Equal(Enumerable.Range(0, 5).Reverse().Select(Id), last.Traces.Select(t => t.TraceId));
        Assert.Empty(store.GetTracePage(new TraceQuery(), 30, 10).Traces);

        var odd = store.GetTracePage(new TraceQuery(["odd"]), 0, 3);
        Assert.Equal(12, odd.TotalCount);
        Assert.Equal([Id(23), Id(21), Id(19)], odd.Traces.Select(t => t.TraceId));
        var errors = store.GetTracePage(new TraceQuery(HasError: true), 0, 100);
        Assert.Equal([Id(20), Id(15), Id(10), Id(5), Id(0)], errors.Traces.Select(t => t.TraceId));
        var named = store.GetTracePage(new TraceQuery(Text: "WORK 1"), 0, 100);
        Assert.Equal(11, named.TotalCount); // work 1, 10–19
        Assert.Equal(Id(7), Assert.Single(store.GetTracePage(new TraceQuery(Text: Id(7)[..18].ToUpperInvariant()), 0, 100).Traces).TraceId);
    }

    [Fact]
    public async Task A_flood_of_100000_spans_from_four_receivers_at_once_keeps_the_newest_10000_traces()
    {
        var store = new TelemetryRepository(new TelemetryLimits());
        const int SpansPerTrace = 5, Writers = 4, TracesPerWriter = 5_000; // 4 × 5,000 traces × 5 spans = 100,000 spans
        var maxSeen = 0;
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(writer => Task.Run(() =>
        {
            for (var t = 0; t < TracesPerWriter; t += 10)
            {
                // Ten traces an export, as a batching exporter sends them.
                var spans = Enumerable.Range(t, 10).SelectMany(i =>
                {
                    var traceId = OtlpMessages.TraceId((writer * TracesPerWriter) + i);
                    return Enumerable.Range(0, SpansPerTrace).Select(s => OtlpMessages.Span(traceId, s, $"span {s}"));
                });
                store.AddTraces(OtlpMessages.Traces($"service-{writer}", spans));
                var counts = store.GetCounts();
                Interlocked.Exchange(ref maxSeen, Math.Max(maxSeen, counts.Traces));
            }
        })));

        var held = store.GetCounts();
        Assert.Equal(10_000, held.Traces);
        Assert.Equal(10_000 * SpansPerTrace, held.Spans);
        Assert.True(maxSeen <= 10_000, $"at most 10,000 traces at any time; saw {maxSeen}");
        Assert.Equal(held.Spans, store.GetSpans(new SpanQuery()).Count);
        Assert.All(store.GetTraces(new TraceQuery()), t => Assert.Equal(SpansPerTrace, t.Spans.Count));
        // Oldest out first: of each writer's traces, those kept are its newest (a suffix of what it sent; none if the
        // thread pool ran it before the others had sent 10,000).
        for (var writer = 0; writer < Writers; writer++)
        {
            var kept = Enumerable.Range(0, TracesPerWriter)
                .Select(i => store.GetTrace(Convert.ToHexStringLower(OtlpMessages.TraceId((writer * TracesPerWriter) + i))) is not null)
                .ToList();
            Assert.True(kept.SkipWhile(k => !k).All(k => k), $"writer {writer}: the traces kept are its newest ones");
        }
    }

    [Fact]
    public void Logs_and_metric_points_keep_the_newest_up_to_their_limits()
    {
        var store = new TelemetryRepository(new TelemetryLimits());
        for (var batch = 0; batch < 100; batch++)
        {
            store.AddLogs(Logs("api", Enumerable.Range(batch * 1_000, 1_000)));
            store.AddMetrics(Metrics("api", "kiln.requests", Enumerable.Range(batch * 1_000, 1_000)));
        }

        var counts = store.GetCounts();
        Assert.Equal(10_000, counts.Logs);
        Assert.Equal(50_000, counts.MetricPoints);
        var logs = store.GetLogs(new LogQuery());
        Assert.Equal("log 90000", logs[0].Record.Body.StringValue);
        Assert.Equal("log 99999", logs[^1].Record.Body.StringValue);
        var points = Assert.Single(store.GetInstruments()).Points;
        Assert.Equal(50_000UL, points[0].TimeUnixNano);
        Assert.Equal(99_999UL, points[^1].TimeUnixNano);
    }

    [Fact]
    public void Items_keep_128_attributes_and_count_the_rest_as_dropped()
    {
        var store = new TelemetryRepository(new TelemetryLimits());
        var span = OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "wide");
        span.Attributes.Clear();
        span.Attributes.AddRange(Enumerable.Range(0, 200).Select(i => OtlpMessages.Attribute($"a{i}", "v")));
        store.AddTraces(OtlpMessages.Traces("api", [span]));
        var logs = Logs("api", [1]);
        logs.ResourceLogs[0].ScopeLogs[0].LogRecords[0].Attributes.AddRange(Enumerable.Range(0, 130).Select(i => OtlpMessages.Attribute($"b{i}", "v")));
        store.AddLogs(logs);

        var stored = Assert.Single(store.GetSpans(new SpanQuery())).Span;
        Assert.Equal(128, stored.Attributes.Count);
        Assert.Equal("a127", stored.Attributes[^1].Key);
        Assert.Equal(72u, stored.DroppedAttributesCount);
        var record = Assert.Single(store.GetLogs(new LogQuery())).Record;
        Assert.Equal(128, record.Attributes.Count);
        Assert.Equal(2u, record.DroppedAttributesCount);
    }

    [Fact]
    public void A_paused_signal_drops_what_arrives_and_clearing_one_signal_leaves_the_others()
    {
        var store = new TelemetryRepository(new TelemetryLimits());
        store.SetPaused(TelemetrySignal.Traces, true);
        Assert.Equal(0, store.AddTraces(OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "dropped")])));
        Assert.Equal(1, store.AddLogs(Logs("api", [1])));
        Assert.True(store.IsPaused(TelemetrySignal.Traces));
        Assert.False(store.IsPaused(TelemetrySignal.Logs));
        Assert.Equal(0, store.GetCounts().Spans);

        store.SetPaused(TelemetrySignal.Traces, false);
        Assert.Equal(1, store.AddTraces(OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(2), 0, "kept")])));
        store.AddMetrics(Metrics("api", "m", [1]));
        store.Clear(TelemetrySignal.Logs);
        var counts = store.GetCounts();
        Assert.Equal((0, 1, 1), (counts.Logs, counts.Spans, counts.MetricPoints));
        Assert.Equal(["api-abcdefgh"], store.GetResources().Select(r => r.DisplayName)); // resources are not forgotten
    }

    [Fact]
    public void Resources_are_told_apart_by_service_name_and_instance_id_and_found_by_either_name()
    {
        var store = new TelemetryRepository(new TelemetryLimits());
        foreach (var instance in new[] { "aaaaaaaa", "bbbbbbbb" })
        {
            var export = OtlpMessages.Traces("worker", [OtlpMessages.Span(OtlpMessages.TraceId(instance[0]), 0, "x")]);
            export.ResourceSpans[0].Resource = OtlpMessages.Resource("worker", instance);
            store.AddTraces(export);
        }

        store.AddLogs(new ExportLogsServiceRequest { ResourceLogs = { new ResourceLogs { ScopeLogs = { new ScopeLogs { LogRecords = { new LogRecord() } } } } } });
        Assert.Equal(["unknown_service", "worker-aaaaaaaa", "worker-bbbbbbbb"], store.GetResources().Select(r => r.DisplayName));
        Assert.Equal(2, store.FindResources("worker").Count);
        Assert.Single(store.FindResources("worker-bbbbbbbb"));
        Assert.Empty(store.FindResources("work"));
        Assert.Single(store.GetSpans(new SpanQuery(["worker-aaaaaaaa"])));
    }

    [Fact]
    public async Task A_watch_gives_what_is_stored_then_what_arrives_each_once()
    {
        var store = new TelemetryRepository(new TelemetryLimits());
        store.AddTraces(OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "before")]));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var seen = new List<string>();
        await foreach (var span in store.WatchSpansAsync(new SpanQuery(["api"]), cancel.Token))
        {
            seen.Add(span.Span.Name);
            if (seen.Count == 1)
            {
                store.AddTraces(OtlpMessages.Traces("web", [OtlpMessages.Span(OtlpMessages.TraceId(2), 0, "other resource")]));
                store.AddTraces(OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(3), 0, "after")]));
            }
            else
            {
                break;
            }
        }

        Assert.Equal(["before", "after"], seen);
    }

    internal static ExportLogsServiceRequest Logs(string service, IEnumerable<int> numbers)
    {
        var scope = new ScopeLogs { Scope = new InstrumentationScope { Name = "Kiln.Tests" } };
        scope.LogRecords.AddRange(numbers.Select(n => new LogRecord
        {
            TimeUnixNano = (ulong)n,
            SeverityNumber = SeverityNumber.Info,
            SeverityText = "Information",
            Body = new AnyValue { StringValue = $"log {n}" },
        }));
        return new ExportLogsServiceRequest { ResourceLogs = { new ResourceLogs { Resource = OtlpMessages.Resource(service, "abcdefgh"), ScopeLogs = { scope } } } };
    }

    private static ExportMetricsServiceRequest Metrics(string service, string name, IEnumerable<int> times)
    {
        var gauge = new Gauge();
        gauge.DataPoints.AddRange(times.Select(t => new NumberDataPoint { TimeUnixNano = (ulong)t, AsDouble = t }));
        var scope = new ScopeMetrics { Scope = new InstrumentationScope { Name = "Kiln.Tests" }, Metrics = { new Metric { Name = name, Gauge = gauge } } };
        return new ExportMetricsServiceRequest { ResourceMetrics = { new ResourceMetrics { Resource = OtlpMessages.Resource(service, "abcdefgh"), ScopeMetrics = { scope } } } };
    }
}
