using System.Net;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Google.Protobuf;
using Kiln.Dashboard.Components.Telemetry;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Proto.Metrics;
using Kiln.Dashboard.Otlp.Proto.Trace;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The Structured logs, Traces (with the waterfall) and Metrics pages, rendered over HTTP by a dashboard whose store is
/// fed directly (exact ids, levels and times): filters select what they say, the waterfall nests and places its bars,
/// pause drops and clear empties, and nobody without the login cookie gets a page.
/// </summary>
public sealed class TelemetryPagesTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);
    private TestDashboard _dashboard = null!;
    private HttpClient _browser = null!;

    private ITelemetryStore Store => _dashboard.App.Store;

    public async Task InitializeAsync()
    {
        _dashboard = await TestDashboard.StartAsync();
        _browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = _dashboard.App.FrontendUrl,
        };
        using var login = await _browser.GetAsync(_dashboard.App.LoginUrl.PathAndQuery);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
    }

    public async Task DisposeAsync()
    {
        _browser.Dispose();
        await _dashboard.DisposeAsync();
    }

    [Fact]
    public async Task Structured_logs_are_newest_first_and_each_filter_selects_what_it_says()
    {
        var trace = OtlpMessages.TraceId(1);
        Store.AddLogs(Logs("api", (SeverityNumber.Info, "reading accepted", trace), (SeverityNumber.Warn, "slow insert", null)));
        Store.AddLogs(Logs("worker", (SeverityNumber.Debug, "polled", null), (SeverityNumber.Error, "insert failed", trace)));

        Assert.Equal(["insert failed", "polled", "slow insert", "reading accepted"], Messages(await PageAsync("/structuredlogs")));
        Assert.Equal(["slow insert", "reading accepted"], Messages(await PageAsync("/structuredlogs?resource=api")));
        Assert.Equal(["slow insert", "reading accepted"], Messages(await PageAsync("/structuredlogs?resource=api-abcdefgh")));
        Assert.Equal(["insert failed", "slow insert"], Messages(await PageAsync("/structuredlogs?level=Warning")));
        Assert.Equal(["insert failed", "slow insert"], Messages(await PageAsync("/structuredlogs?text=INSERT")));
        Assert.Equal(["insert failed", "reading accepted"], Messages(await PageAsync($"/structuredlogs?traceId={Convert.ToHexStringLower(trace)}")));
        Assert.Equal(["insert failed"], Messages(await PageAsync("/structuredlogs?resource=worker&level=Information&text=insert")));

        var row = (await PageAsync("/structuredlogs")).QuerySelectorAll("#log-rows tr")[0];
        Assert.Equal(["worker-abcdefgh", "Error"], row.QuerySelectorAll("td").Skip(1).Take(2).Select(td => td.TextContent.Trim()));

        // The detail: attributes, and the trace id as a link to the trace.
        var detailUrl = row.QuerySelector("a.details")!.GetAttribute("href")!;
        var detail = (await PageAsync(detailUrl)).QuerySelector("#log-detail")!;
        Assert.Contains("insert failed", detail.TextContent, StringComparison.Ordinal);
        Assert.Contains(detail.QuerySelectorAll("tr"), tr => tr.TextContent.Contains("kiln.sensor") && tr.TextContent.Contains("kiln5.temp"));
        Assert.Equal($"/traces/detail/{Convert.ToHexStringLower(trace)}", detail.QuerySelector("a.trace-link")!.GetAttribute("href"));

        using var badLevel = await _browser.GetAsync("/structuredlogs?level=Loud");
        Assert.Equal(HttpStatusCode.BadRequest, badLevel.StatusCode);
        Assert.Contains("not one of Trace, Debug", await badLevel.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_log_reaches_the_open_page_over_its_event_stream()
    {
        Store.AddLogs(Logs("api", (SeverityNumber.Info, "before the page", null)));
        var page = await PageAsync("/structuredlogs?resource=api");
        var rows = page.QuerySelector("#log-rows")!;
        var stream = rows.GetAttribute("data-stream")!;
        Assert.StartsWith("/structuredlogs/stream?resource=api", stream, StringComparison.Ordinal);

        using var timeout = new CancellationTokenSource(Deadline);
        using var response = await _browser.GetAsync($"{stream}&after={rows.GetAttribute("data-after")}", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));

        Store.AddLogs(Logs("worker", (SeverityNumber.Info, "another resource's log", null)));
        Store.AddLogs(Logs("api", (SeverityNumber.Warn, "after the page", null)));
        string? data = null;
        while (data is null && await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            data = line.StartsWith("data: ", StringComparison.Ordinal) ? line[6..] : null;
        }

        // The first event is the new api log: not the one the page already shows, not the other resource's.
        Assert.NotNull(data);
        Assert.Contains("\"message\":\"after the page\"", data, StringComparison.Ordinal);
        Assert.Contains("\"level\":\"Warning\"", data, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_open_log_stream_ends_when_the_dashboard_stops_and_does_not_hold_up_its_stop()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await _browser.GetAsync("/structuredlogs/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var ended = reader.ReadToEndAsync(timeout.Token);

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await _dashboard.App.StopAsync(timeout.Token);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s (the host's own limit is 30 s)");
        Assert.Equal("", await ended); // ended, empty: nothing was stored
    }

    [Fact]
    public async Task The_trace_list_filters_by_resource_and_text_and_counts_spans_and_errors()
    {
        var (ingest, _) = SendIngestTrace(2);
        var other = OtlpMessages.TraceId(3);
        Store.AddTraces(OtlpMessages.Traces("web", [OtlpMessages.Span(other, 0, "GET /overview")]));

        var all = (await PageAsync("/traces")).QuerySelectorAll("tr[data-trace-id]");
        Assert.Equal([Convert.ToHexStringLower(other), ingest], all.Select(r => r.GetAttribute("data-trace-id")));
        var cells = all[1].QuerySelectorAll("td").Select(td => td.TextContent.Trim()).ToList();
        Assert.Contains("api-abcdefgh", cells[1], StringComparison.Ordinal);
        Assert.Contains("worker-abcdefgh", cells[1], StringComparison.Ordinal);
        Assert.StartsWith("api: POST /api/v1/readings", cells[2], StringComparison.Ordinal);
        Assert.Equal("100 ms", cells[3]);
        Assert.Equal(("4", "1"), (cells[4], cells[5]));

        Assert.Equal([ingest], TraceIds(await PageAsync("/traces?resource=worker")));
        Assert.Equal([Convert.ToHexStringLower(other)], TraceIds(await PageAsync("/traces?resource=web")));
        Assert.Equal([ingest], TraceIds(await PageAsync("/traces?text=readings%20process")));
        Assert.Equal([ingest], TraceIds(await PageAsync($"/traces?text={ingest[..18].ToUpperInvariant()}")));
        Assert.Empty(TraceIds(await PageAsync("/traces?resource=web&text=readings")));
    }

    [Fact]
    public async Task The_waterfall_has_one_bar_per_span_nested_by_parent_on_one_time_axis()
    {
        var (traceId, spanIds) = SendIngestTrace(4);
        Store.AddLogs(Logs("worker", (SeverityNumber.Error, "insert failed", Convert.FromHexString(traceId))));
        var page = await PageAsync($"/traces/detail/{traceId}");

        var rows = page.QuerySelectorAll("table.waterfall tbody tr");
        Assert.Equal(spanIds, rows.Select(r => r.GetAttribute("data-span-id")));
        Assert.Equal(["0", "1", "2", "3"], rows.Select(r => r.GetAttribute("data-depth")));
        Assert.Equal(["", spanIds[0], spanIds[1], spanIds[2]], rows.Select(r => r.GetAttribute("data-parent-span-id") ?? ""));
        var bars = page.QuerySelectorAll("table.waterfall .bar");
        Assert.Equal(4, bars.Length);
        // Starts at 0, 10, 20, 30 ms and lasts 100, 5, 40, 20 ms of a 100 ms trace.
        Assert.Equal(["left:0%;width:100%", "left:10%;width:5%", "left:20%;width:40%", "left:30%;width:20%"],
            bars.Select(b => b.GetAttribute("style")![..b.GetAttribute("style")!.IndexOf(";background", StringComparison.Ordinal)]));
        Assert.NotEqual(TelemetryView.Colour("api"), TelemetryView.Colour("worker"));
        Assert.Equal([TelemetryView.Colour("api"), TelemetryView.Colour("api"), TelemetryView.Colour("worker"), TelemetryView.Colour("worker")],
            bars.Select(b => b.GetAttribute("style")![(b.GetAttribute("style")!.IndexOf("background:", StringComparison.Ordinal) + 11)..]));
        Assert.Equal([false, false, false, true], bars.Select(b => b.ClassList.Contains("error")));

        // Selecting a span shows its attributes, events and links.
        var detail = (await PageAsync(rows[3].QuerySelector("a")!.GetAttribute("href")!)).QuerySelector("#span-detail")!;
        Assert.Contains("INSERT readings", detail.TextContent, StringComparison.Ordinal);
        Assert.Contains("retrying", detail.QuerySelector("table.events")!.TextContent, StringComparison.Ordinal);
        Assert.Equal($"/traces/detail/{Convert.ToHexStringLower(OtlpMessages.TraceId(99))}", detail.QuerySelector("table.links a")!.GetAttribute("href"));

        // From the trace, its logs.
        var viewLogs = page.QuerySelector("#view-logs")!;
        Assert.Equal("View logs (1)", viewLogs.TextContent);
        Assert.Equal(["insert failed"], Messages(await PageAsync(viewLogs.GetAttribute("href")!)));

        using var missing = await _browser.GetAsync($"/traces/detail/{new string('0', 32)}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task The_metrics_page_charts_an_instrument_per_attribute_set_and_tables_its_latest_values()
    {
        var t = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000UL;
        var sum = new Metric { Name = "kiln.readings.accepted", Unit = "{reading}", Sum = new Sum { IsMonotonic = true } };
        sum.Sum.DataPoints.Add(Number(t, 3, "site", "kiln5"));
        sum.Sum.DataPoints.Add(Number(t + 1_000_000_000, 7, "site", "kiln5"));
        sum.Sum.DataPoints.Add(Number(t, 1, "site", "kiln6"));
        var histogram = new Metric { Name = "kiln.ingest.duration", Unit = "ms", Histogram = new Histogram() };
        histogram.Histogram.DataPoints.Add(new HistogramDataPoint { TimeUnixNano = t, Count = 4, Sum = 10 });
        Store.AddMetrics(Metrics("api", sum, histogram));

        var resource = await PageAsync("/metrics?resource=api-abcdefgh");
        Assert.Equal(["Kiln.Tests"], resource.QuerySelectorAll("nav[aria-label=Meters] a").Select(a => a.TextContent));
        var meter = await PageAsync(resource.QuerySelector("nav[aria-label=Meters] a")!.GetAttribute("href")!);
        Assert.Equal(["kiln.ingest.duration", "kiln.readings.accepted"], meter.QuerySelectorAll("nav[aria-label=Instruments] a").Select(a => a.TextContent));

        var counter = await PageAsync("/metrics?resource=api-abcdefgh&meter=Kiln.Tests&instrument=kiln.readings.accepted");
        Assert.Equal(2, counter.QuerySelectorAll("svg.chart polyline.series").Length);
        Assert.Equal(2, counter.QuerySelector("svg.chart polyline[data-series='0']")!.GetAttribute("points")!.Split(' ').Length);
        var latest = counter.QuerySelectorAll("table.latest tbody tr").Select(r => r.QuerySelectorAll("td").Select(td => td.TextContent.Trim()).ToList()).ToList();
        Assert.Equal([("site=kiln5", "7"), ("site=kiln6", "1")], latest.Select(r => (r[1], r[3])));

        var durations = await PageAsync("/metrics?resource=api-abcdefgh&meter=Kiln.Tests&instrument=kiln.ingest.duration");
        var row = durations.QuerySelector("table.latest tbody tr")!.QuerySelectorAll("td").Select(td => td.TextContent.Trim()).ToList();
        Assert.Equal(["(none)", "2.5", "4", "10"], [row[1], row[3], row[4], row[5]]);

        using var unknown = await _browser.GetAsync("/metrics?resource=nobody");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Theory]
    [InlineData("logs", "/structuredlogs")]
    [InlineData("traces", "/traces")]
    [InlineData("metrics", "/metrics")]
    public async Task Pause_drops_what_arrives_and_clear_empties_the_signal(string signal, string path)
    {
        Feed();
        var before = Store.GetCounts();
        var page = await PageAsync(path);
        Assert.NotNull(page.QuerySelector("[data-signal-state=receiving]"));

        using (var paused = await SubmitAsync(page, $"/signals/{signal}/pause"))
        {
            Assert.Equal(HttpStatusCode.Redirect, paused.StatusCode);
            Assert.Equal(path, paused.Headers.Location!.OriginalString);
        }

        var pausedPage = await PageAsync(path);
        Assert.NotNull(pausedPage.QuerySelector("[data-signal-state=paused]"));
        Feed();
        Assert.Equal(before, Store.GetCounts()); // Feed sends only this signal: all of it was dropped
        using (var resumed = await SubmitAsync(pausedPage, $"/signals/{signal}/pause"))
        {
            Assert.Equal(HttpStatusCode.Redirect, resumed.StatusCode);
        }

        Assert.False(Store.IsPaused(Enum.Parse<TelemetrySignal>(signal, ignoreCase: true)));
        using (var cleared = await SubmitAsync(await PageAsync(path), $"/signals/{signal}/clear"))
        {
            Assert.Equal(HttpStatusCode.Redirect, cleared.StatusCode);
        }

        var counts = Store.GetCounts();
        Assert.Equal(0, signal switch { "logs" => counts.Logs, "traces" => counts.Spans, _ => counts.MetricPoints });

        void Feed()
        {
            // Only the signal under test, so the counts before and after a paused feed compare whole.
            switch (signal)
            {
                case "logs": Store.AddLogs(Logs("api", (SeverityNumber.Info, "fed", null))); break;
                case "traces": Store.AddTraces(OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(Random.Shared.Next()), 0, "fed")])); break;
                default:
                    var gauge = new Metric { Name = "kiln.fed", Gauge = new Gauge() };
                    gauge.Gauge.DataPoints.Add(Number((ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000UL, 1));
                    Store.AddMetrics(Metrics("api", gauge));
                    break;
            }
        }
    }

    [Fact]
    public async Task A_form_without_its_antiforgery_token_or_an_unknown_signal_changes_nothing()
    {
        using var noToken = await _browser.PostAsync("/signals/logs/pause", new FormUrlEncodedContent([new("paused", "true")]));
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        Assert.False(Store.IsPaused(TelemetrySignal.Logs));

        var page = await PageAsync("/structuredlogs");
        using var unknown = await SubmitAsync(page, "/signals/logs/pause", action: "/signals/spans/pause");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        Assert.False(Store.IsPaused(TelemetrySignal.Logs));
    }

    [Theory]
    [InlineData("/structuredlogs")]
    [InlineData("/structuredlogs/stream")]
    [InlineData("/traces")]
    [InlineData("/traces/detail/abababababababababababababababab")]
    [InlineData("/metrics")]
    public async Task A_page_refuses_a_caller_without_the_login_cookie(string path)
    {
        using var stranger = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _dashboard.App.FrontendUrl };
        using var response = await stranger.GetAsync(path);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/login", response.Headers.Location!.PathAndQuery, StringComparison.Ordinal);

        using var pause = await stranger.PostAsync("/signals/logs/pause", new FormUrlEncodedContent([new("paused", "true")]));
        Assert.Equal(HttpStatusCode.Redirect, pause.StatusCode);
        Assert.StartsWith("/login", pause.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        Assert.False(Store.IsPaused(TelemetrySignal.Logs));
    }

    /// <summary>
    /// The ingest trace's shape: the Api's server span → its Kafka produce → the Worker's consume → the PostgreSQL
    /// write (an error), sent worker first so nesting cannot lean on arrival order. Returns the trace and span ids in tree order.
    /// </summary>
    private (string TraceId, string[] SpanIds) SendIngestTrace(int index)
    {
        var traceId = OtlpMessages.TraceId(index);
        var t = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000UL;
        const ulong ms = 1_000_000;
        var server = Timed(OtlpMessages.Span(traceId, 0, "POST /api/v1/readings"), t, t + (100 * ms));
        var produce = Timed(OtlpMessages.Span(traceId, 1, "readings publish", parent: server.SpanId.ToByteArray()), t + (10 * ms), t + (15 * ms));
        produce.Kind = Span.Types.SpanKind.Producer;
        var consume = Timed(OtlpMessages.Span(traceId, 2, "readings process", parent: produce.SpanId.ToByteArray()), t + (20 * ms), t + (60 * ms));
        consume.Kind = Span.Types.SpanKind.Consumer;
        var write = Timed(OtlpMessages.Span(traceId, 3, "INSERT readings", error: true, parent: consume.SpanId.ToByteArray()), t + (30 * ms), t + (50 * ms));
        write.Kind = Span.Types.SpanKind.Client;
        write.Events.Add(new Span.Types.Event { Name = "retrying", TimeUnixNano = t + (40 * ms) });
        write.Links.Add(new Span.Types.Link { TraceId = ByteString.CopyFrom(OtlpMessages.TraceId(99)), SpanId = ByteString.CopyFrom(new byte[8] { 1, 2, 3, 4, 5, 6, 7, 8 }) });
        Store.AddTraces(OtlpMessages.Traces("worker", [write, consume]));
        Store.AddTraces(OtlpMessages.Traces("api", [produce, server]));
        return (Convert.ToHexStringLower(traceId), [.. new[] { server, produce, consume, write }.Select(s => Convert.ToHexStringLower(s.SpanId.Span))]);

        static Span Timed(Span span, ulong start, ulong end)
        {
            span.StartTimeUnixNano = start;
            span.EndTimeUnixNano = end;
            return span;
        }
    }

    private async Task<IDocument> PageAsync(string path)
    {
        using var response = await _browser.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {html}");
        return new HtmlParser().ParseDocument(html);
    }

    /// <summary>Submits the page's form posting to <paramref name="formAction"/> with its fields (the antiforgery token among them).</summary>
    private async Task<HttpResponseMessage> SubmitAsync(IDocument page, string formAction, string? action = null)
    {
        var form = page.QuerySelector($"form[action='{formAction}']");
        Assert.NotNull(form);
        var fields = form.QuerySelectorAll("input[name]").Select(i => new KeyValuePair<string, string>(i.GetAttribute("name")!, i.GetAttribute("value") ?? ""));
        return await _browser.PostAsync(action ?? formAction, new FormUrlEncodedContent(fields));
    }

    private static List<string> Messages(IDocument page) =>
        [.. page.QuerySelectorAll("#log-rows tr").Select(r => r.QuerySelectorAll("td")[3].TextContent)];

    private static List<string?> TraceIds(IDocument page) => [.. page.QuerySelectorAll("tr[data-trace-id]").Select(r => r.GetAttribute("data-trace-id"))];

    private static ExportLogsServiceRequest Logs(string service, params (SeverityNumber Level, string Message, byte[]? TraceId)[] logs)
    {
        var scope = new ScopeLogs { Scope = new InstrumentationScope { Name = "Kiln.Tests" } };
        var now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000UL;
        foreach (var (level, message, traceId) in logs)
        {
            var record = new LogRecord { TimeUnixNano = now, SeverityNumber = level, Body = new AnyValue { StringValue = message } };
            record.Attributes.Add(OtlpMessages.Attribute("kiln.sensor", "kiln5.temp"));
            if (traceId is not null)
            {
                record.TraceId = ByteString.CopyFrom(traceId);
                record.SpanId = ByteString.CopyFrom(new byte[8] { 9, 9, 9, 9, 9, 9, 9, 9 });
            }

            scope.LogRecords.Add(record);
        }

        var resourceLogs = new ResourceLogs { Resource = OtlpMessages.Resource(service, "abcdefgh") };
        resourceLogs.ScopeLogs.Add(scope);
        var request = new ExportLogsServiceRequest();
        request.ResourceLogs.Add(resourceLogs);
        return request;
    }

    private static NumberDataPoint Number(ulong time, long value, string? key = null, string? attribute = null)
    {
        var point = new NumberDataPoint { TimeUnixNano = time, AsInt = value };
        if (key is not null)
        {
            point.Attributes.Add(OtlpMessages.Attribute(key, attribute!));
        }

        return point;
    }

    private static ExportMetricsServiceRequest Metrics(string service, params Metric[] metrics)
    {
        var scope = new ScopeMetrics { Scope = new InstrumentationScope { Name = "Kiln.Tests" } };
        scope.Metrics.AddRange(metrics);
        var resourceMetrics = new ResourceMetrics { Resource = OtlpMessages.Resource(service, "abcdefgh") };
        resourceMetrics.ScopeMetrics.Add(scope);
        var request = new ExportMetricsServiceRequest();
        request.ResourceMetrics.Add(resourceMetrics);
        return request;
    }
}
