using System.Net;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Kiln.Dashboard.Api;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Proto.Metrics;
using Kiln.Dashboard.Otlp.Proto.Trace;
using Kiln.Dashboard.Persistence;
using Kiln.ResourceService.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// Runs kept on disk: a dashboard stopped and started again over the same storage folder still serves the telemetry and
/// console lines of its earlier runs (through the API with <c>runId</c> and through the pages after the run selector),
/// reopens its run when restarted within one AppHost run, keeps the last 10 runs each within the limits, and refuses a
/// bad or unknown run id with problem details.
/// </summary>
public sealed class TelemetryRunsTests : IDisposable
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _storage = Directory.CreateTempSubdirectory("kiln-dashboard-runs-");

    public void Dispose() => _storage.Delete(recursive: true);

    [Fact]
    public async Task A_past_runs_telemetry_is_served_after_the_dashboard_restarts_through_the_api_with_its_run_id_and_through_the_pages()
    {
        var export = OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "POST /api/v1/readings"), OtlpMessages.Span(OtlpMessages.TraceId(1), 1, "INSERT readings")]);
        var logs = TelemetryStoreTests.Logs("api", [1, 2, 3]);
        var metrics = OtlpMessages.Gauge("api", "kiln.readings.accepted", 3);
        string firstRun;
        await using (var first = await StartAsync())
        {
            Assert.Equal(HttpStatusCode.OK, (await first.PostOtlpAsync("traces", export)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await first.PostOtlpAsync("logs", logs)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await first.PostOtlpAsync("metrics", metrics)).StatusCode);
            firstRun = Runs(first).CurrentRunId;
        }

        // Stopped (the queue written out), and started again: a dashboard started alone begins a new run each start.
        await using var second = await StartAsync();
        using var api = second.ApiClient();
        Assert.NotEqual(firstRun, Runs(second).CurrentRunId);
        await AssertDataAsync(api, "/api/telemetry/spans", totalCount: 0);

        var spans = await AssertDataAsync(api, $"/api/telemetry/spans?runId={firstRun}", totalCount: 2);
        Assert.Equal(new TracesData { ResourceSpans = { export.ResourceSpans } }, Parser.Parse<TracesData>(OtlpJson.ToProtoJson(spans.GetRawText())));
        await AssertDataAsync(api, $"/api/telemetry/traces?runId={firstRun}", totalCount: 1);
        await AssertDataAsync(api, $"/api/telemetry/traces/{Convert.ToHexStringLower(OtlpMessages.TraceId(1))}?runId={firstRun}", totalCount: 2);
        var logsJson = await AssertDataAsync(api, $"/api/telemetry/logs?runId={firstRun}&resource=api", totalCount: 3);
        Assert.Equal(new LogsData { ResourceLogs = { logs.ResourceLogs } },
            Parser.Parse<Kiln.Dashboard.Otlp.Proto.Logs.LogsData>(OtlpJson.ToProtoJson(logsJson.GetRawText())));
        using (var resources = JsonDocument.Parse(await api.GetStringAsync($"/api/telemetry/resources?runId={firstRun}")))
        {
            var resource = Assert.Single(resources.RootElement.EnumerateArray());
            Assert.True(resource.GetProperty("hasTraces").GetBoolean() && resource.GetProperty("hasLogs").GetBoolean() && resource.GetProperty("hasMetrics").GetBoolean());
        }

        using (var runs = JsonDocument.Parse(await api.GetStringAsync("/api/runs")))
        {
            var listed = runs.RootElement.EnumerateArray().ToList();
            Assert.Equal([Runs(second).CurrentRunId, firstRun], listed.Select(r => r.GetProperty("runId").GetString()));
            Assert.Equal([true, false], listed.Select(r => r.GetProperty("current").GetBoolean()));
            Assert.Equal((2, 3, 3), (listed[1].GetProperty("spans").GetInt64(), listed[1].GetProperty("logs").GetInt64(), listed[1].GetProperty("metricPoints").GetInt64()));
        }

        // The pages, after the header's run selector chose the first run: its trace, logs and instrument, read-only.
        using var browser = await LoginAsync(second);
        using (var select = await browser.GetAsync($"/runs/select?runId={firstRun}&returnUrl=/traces"))
        {
            Assert.Equal(HttpStatusCode.Redirect, select.StatusCode);
            Assert.Equal("/traces", select.Headers.Location?.OriginalString);
        }

        var traces = await browser.GetStringAsync("/traces");
        Assert.Contains("POST /api/v1/readings", traces, StringComparison.Ordinal);
        Assert.Contains($"Showing run <span class=\"mono\">{firstRun}</span>", traces, StringComparison.Ordinal);
        Assert.Contains("data-signal-state=\"past\"", traces, StringComparison.Ordinal);
        Assert.Contains("INSERT readings", await browser.GetStringAsync($"/traces/detail/{Convert.ToHexStringLower(OtlpMessages.TraceId(1))}"), StringComparison.Ordinal);
        var structuredLogs = await browser.GetStringAsync("/structuredlogs");
        Assert.Contains("log 3", structuredLogs, StringComparison.Ordinal);
        Assert.DoesNotContain("data-stream=", structuredLogs, StringComparison.Ordinal); // no live updates for a past run
        Assert.Contains("kiln.readings.accepted", await browser.GetStringAsync("/metrics?resource=api-abcdefgh&meter=Kiln.Tests"), StringComparison.Ordinal);
        Assert.Contains(firstRun, await browser.GetStringAsync("/runs"), StringComparison.Ordinal);

        // Back to the current run: empty again.
        (await browser.GetAsync("/runs/select?runId=&returnUrl=/traces")).Dispose();
        Assert.DoesNotContain("POST /api/v1/readings", await browser.GetStringAsync("/traces"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dashboard_restarted_within_one_apphost_run_reopens_that_run_and_goes_on_adding_to_it()
    {
        var run = new Dictionary<string, string?> { ["Dashboard:Run:Id"] = "20261124-170000-abcdef", ["Dashboard:Run:StartedAt"] = "2026-11-24T17:00:00Z" };
        await using (var first = await StartAsync(run))
        {
            await first.PostOtlpAsync("traces", OtlpMessages.Traces("api", Enumerable.Range(0, 3).Select(i => OtlpMessages.Span(OtlpMessages.TraceId(i), 0, $"before {i}"))));
            await first.PostOtlpAsync("logs", TelemetryStoreTests.Logs("api", [1, 2]));
        }

        await using var second = await StartAsync(run);
        Assert.True(Runs(second).Reopened);
        using var api = second.ApiClient();
        await AssertDataAsync(api, "/api/telemetry/traces", totalCount: 3);
        await AssertDataAsync(api, "/api/telemetry/logs", totalCount: 2);
        await second.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(9), 0, "after")]));
        await AssertDataAsync(api, "/api/telemetry/traces?runId=20261124-170000-abcdef", totalCount: 4);
        await Runs(second).Writer!.FlushAsync();
        using var runs = JsonDocument.Parse(await api.GetStringAsync("/api/runs"));
        Assert.Equal(1, runs.RootElement.GetArrayLength()); // one run, not a second one
        Assert.Equal(DateTimeOffset.Parse("2026-11-24T17:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
            runs.RootElement[0].GetProperty("startedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task A_damaged_run_file_is_set_aside_and_the_run_goes_on_in_a_new_one()
    {
        var runs = Directory.CreateDirectory(Path.Combine(_storage.FullName, "runs"));
        await File.WriteAllTextAsync(Path.Combine(runs.FullName, "damaged-run.db"), "not a database, and long enough to be read as one: " + new string('x', 200));
        await using var dashboard = await StartAsync(new Dictionary<string, string?> { ["Dashboard:Run:Id"] = "damaged-run" });
        Assert.False(Runs(dashboard).Reopened);
        Assert.True(File.Exists(Path.Combine(runs.FullName, "damaged-run.db.damaged")));
        Assert.Equal(HttpStatusCode.OK, (await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "after")]))).StatusCode);
        await Runs(dashboard).Writer!.FlushAsync();
        using var api = dashboard.ApiClient();
        await AssertDataAsync(api, "/api/telemetry/spans", totalCount: 1);
    }

    [Fact]
    public async Task Only_the_last_10_runs_are_kept_and_each_stays_within_the_limits_oldest_out_first()
    {
        var limits = new Dictionary<string, string?>
        {
            ["Dashboard:TelemetryLimits:MaxTraceCount"] = "5",
            ["Dashboard:TelemetryLimits:MaxLogCount"] = "7",
            ["Dashboard:TelemetryLimits:MaxMetricsCount"] = "9",
        };
        var runIds = new List<string>();
        for (var run = 0; run < 12; run++)
        {
            await using var dashboard = await StartAsync(limits);
            runIds.Add(Runs(dashboard).CurrentRunId);
            for (var batch = 0; batch < 4; batch++)
            {
                await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", Enumerable.Range(batch * 5, 5).Select(t => OtlpMessages.Span(OtlpMessages.TraceId(t), 0, $"trace {t}"))));
                await dashboard.PostOtlpAsync("logs", TelemetryStoreTests.Logs("api", Enumerable.Range(batch * 5, 5)));
                await dashboard.PostOtlpAsync("metrics", OtlpMessages.Gauge("api", "kiln.m", 5, offset: batch * 5));
            }
        }

        await using var last = await StartAsync(limits);
        using var api = last.ApiClient();
        Assert.Equal(10, _storage.GetDirectories("runs").Single().GetFiles("*.db").Length);
        using var runs = JsonDocument.Parse(await api.GetStringAsync("/api/runs"));
        var listed = runs.RootElement.EnumerateArray().ToList();
        Assert.Equal([Runs(last).CurrentRunId, .. runIds.Skip(3).Reverse()], listed.Select(r => r.GetProperty("runId").GetString()));
        foreach (var past in listed.Skip(1))
        {
            Assert.Equal((5, 5, 7, 9), (past.GetProperty("traces").GetInt64(), past.GetProperty("spans").GetInt64(),
                past.GetProperty("logs").GetInt64(), past.GetProperty("metricPoints").GetInt64()));
        }

        // The newest items of a run are the ones kept.
        var spans = await AssertDataAsync(api, $"/api/telemetry/spans?runId={runIds[^1]}", totalCount: 5);
        Assert.Equal(Enumerable.Range(15, 5).Select(t => $"trace {t}"), SpanNames(spans));
        await OtlpReceiverTests.AssertProblemAsync(await api.GetAsync($"/api/telemetry/spans?runId={runIds[0]}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Damaged_and_unreadable_run_files_count_among_the_kept_runs_and_go_oldest_first()
    {
        string pastRun;
        await using (var first = await StartAsync())
        {
            pastRun = Runs(first).CurrentRunId;
        }

        // Ten files set aside as damaged (1 to 10 hours old) and one that is not a run file (half an hour old).
        var runs = _storage.GetDirectories("runs").Single();
        for (var hours = 1; hours <= 10; hours++)
        {
            var aside = Path.Combine(runs.FullName, $"aside-{hours}h.db{TelemetryRuns.DamagedSuffix}");
            await File.WriteAllTextAsync(aside, "not a database");
            File.SetLastWriteTimeUtc(aside, DateTime.UtcNow.AddHours(-hours));
        }

        var unreadable = Path.Combine(runs.FullName, "unreadable.db");
        await File.WriteAllTextAsync(unreadable, "not a database, and long enough to be read as one: " + new string('x', 200));
        File.SetLastWriteTimeUtc(unreadable, DateTime.UtcNow.AddMinutes(-30));

        // Ten kept: the new run, the past run, the unreadable file and the seven newest damaged ones.
        await using var dashboard = await StartAsync();
        Assert.True(File.Exists(unreadable));
        Assert.Equal(Enumerable.Range(1, 7).Select(h => $"aside-{h}h.db{TelemetryRuns.DamagedSuffix}"),
            runs.GetFiles("*" + TelemetryRuns.DamagedSuffix).Select(f => f.Name).Order(StringComparer.Ordinal).OrderBy(n => n.Length));
        using var api = dashboard.ApiClient();
        using var listed = JsonDocument.Parse(await api.GetStringAsync("/api/runs"));
        Assert.Equal([Runs(dashboard).CurrentRunId, pastRun], listed.RootElement.EnumerateArray().Select(r => r.GetProperty("runId").GetString()));
    }

    [Fact]
    public async Task Console_lines_of_every_resource_are_recorded_once_kept_with_the_run_and_served_by_the_console_logs_endpoint()
    {
        var script = new ConsoleScript();
        await using var service = await ServeAsync(script);
        var settings = new Dictionary<string, string?>
        {
            ["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = service.Urls.Single(),
            ["Dashboard:Run:Id"] = "console-run",
        };
        await using (var first = await StartAsync(settings))
        {
            using var api = first.ApiClient();
            // api-0's first watch ends after 3 lines and the second sends all 5 again: each line is kept once.
            await Eventually.TrueAsync(async () => (await ConsoleLogsAsync(api, "")).TotalCount == 6, Deadline, "the console lines of api-0 and pg");
            Assert.True(script.ApiWatches >= 2);
            var all = await ConsoleLogsAsync(api, "");
            Assert.Equal(["api-0:1", "api-0:2", "api-0:3", "api-0:4", "api-0:5", "pg:1"], all.Lines.Select(l => $"{l.Resource}:{l.Number}").Order());
            Assert.Equal(5, (await ConsoleLogsAsync(api, "?resource=api")).TotalCount); // by display name
            var newest = await ConsoleLogsAsync(api, "?resource=api-0&limit=2");
            Assert.Equal(5, newest.TotalCount);
            Assert.Equal([4L, 5L], newest.Lines.Select(l => l.Number));
            var search = await ConsoleLogsAsync(api, "?search=failed%20api");
            Assert.Equal(("api-0", 4L, true), (search.Lines.Single().Resource, search.Lines.Single().Number, search.Lines.Single().IsError));
            await OtlpReceiverTests.AssertProblemAsync(await api.GetAsync("/api/telemetry/console-logs?resource=nobody"), HttpStatusCode.NotFound);
            await OtlpReceiverTests.AssertProblemAsync(await api.GetAsync("/api/telemetry/console-logs?includeHidden=perhaps"), HttpStatusCode.BadRequest);
        }

        // A later run (alone, no AppHost): the first run's lines come from its file, through the API and the console page.
        await using var second = await StartAsync();
        using var later = second.ApiClient();
        Assert.Equal(0, (await ConsoleLogsAsync(later, "")).TotalCount);
        Assert.Equal(6, (await ConsoleLogsAsync(later, "?runId=console-run")).TotalCount);
        using var browser = await LoginAsync(second);
        (await browser.GetAsync("/runs/select?runId=console-run&returnUrl=/consolelogs")).Dispose();
        var page = await browser.GetStringAsync("/consolelogs/resource/api-0");
        Assert.Contains("request failed for api", page, StringComparison.Ordinal);
        Assert.Contains("data-n=\"5\"", page, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/telemetry/spans?runId=..%2Fsecrets", HttpStatusCode.BadRequest)]
    [InlineData("/api/telemetry/logs?runId=20200101-000000-nosuch", HttpStatusCode.NotFound)]
    [InlineData("/api/telemetry/console-logs?runId=20200101-000000-nosuch", HttpStatusCode.NotFound)]
    [InlineData("/api/telemetry/traces/0123456789abcdef0123456789abcdef?runId=nosuch", HttpStatusCode.NotFound)]
    [InlineData("/api/telemetry/console-logs?follow=true", HttpStatusCode.BadRequest)]
    [InlineData("/api/telemetry/console-logs?limit=none", HttpStatusCode.BadRequest)]
    public async Task A_bad_or_unknown_run_id_gets_problem_details_with_the_reason(string path, HttpStatusCode status)
    {
        await using var dashboard = await StartAsync();
        using var api = dashboard.ApiClient();
        await OtlpReceiverTests.AssertProblemAsync(await api.GetAsync(path), status);
    }

    [Fact]
    public async Task Following_a_past_run_is_refused_and_so_is_choosing_an_unknown_run_in_the_pages()
    {
        string firstRun;
        await using (var first = await StartAsync())
        {
            firstRun = Runs(first).CurrentRunId;
        }

        await using var second = await StartAsync();
        using var api = second.ApiClient();
        await OtlpReceiverTests.AssertProblemAsync(await api.GetAsync($"/api/telemetry/spans?runId={firstRun}&follow=true"), HttpStatusCode.BadRequest);
        await AssertDataAsync(api, $"/api/telemetry/spans?runId={Runs(second).CurrentRunId}", totalCount: 0); // the current run's own id
        using var browser = await LoginAsync(second);
        await OtlpReceiverTests.AssertProblemAsync(await browser.GetAsync("/runs/select?runId=nosuch"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_export_the_writer_has_no_room_for_is_refused_as_retryable_and_not_kept()
    {
        await using var dashboard = await StartAsync();
        var writer = Runs(dashboard).Writer!;
        writer.Reserve(writer.Capacity); // as if that much were queued
        using (var refused = await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "refused")])))
        {
            await OtlpReceiverTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable);
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        }

        Assert.Equal(0, dashboard.App.Store.GetCounts().Spans);
        writer.Release(writer.Capacity);
        Assert.Equal(HttpStatusCode.OK, (await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "kept")]))).StatusCode);
        Assert.Equal(1, dashboard.App.Store.GetCounts().Spans);
    }

    [Fact]
    public async Task A_past_run_read_into_memory_is_let_go_after_five_minutes_nobody_asked_for_it()
    {
        var limits = new Kiln.Dashboard.Configuration.TelemetryLimits();
        var log = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        var past = new Kiln.Dashboard.Configuration.RunSettings { StoragePath = _storage.FullName, RunId = "past", StartedAt = DateTimeOffset.UtcNow.AddHours(-1) };
        await using (var writing = TelemetryRuns.Open(past, limits, log))
        {
            await writing.Writer!.StartAsync(CancellationToken.None);
            writing.Current.AddTraces(OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "kept")]));
        }

        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var runs = TelemetryRuns.Open(past with { RunId = "now", StartedAt = DateTimeOffset.UtcNow }, limits, log, time);
        Assert.Equal(1, (await runs.OpenPastAsync("past", CancellationToken.None))!.Store.GetCounts().Spans);
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.True(runs.HasLoadedPastRun);
        await runs.OpenPastAsync("past", CancellationToken.None); // asked again: five more minutes
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.True(runs.HasLoadedPastRun);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.False(runs.HasLoadedPastRun);
        Assert.Equal(1, (await runs.OpenPastAsync("past", CancellationToken.None))!.Store.GetCounts().Spans); // read again when asked
    }

    private Task<TestDashboard> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?> { ["Dashboard:Storage:Path"] = _storage.FullName };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return TestDashboard.StartAsync(all);
    }

    private static TelemetryRuns Runs(TestDashboard dashboard) => dashboard.App.App.Services.GetRequiredService<TelemetryRuns>();

    private static async Task<HttpClient> LoginAsync(TestDashboard dashboard)
    {
        var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = dashboard.App.FrontendUrl,
        };
        using var login = await browser.GetAsync(dashboard.App.LoginUrl.PathAndQuery);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        return browser;
    }

    private static async Task<JsonElement> AssertDataAsync(HttpClient api, string path, int totalCount)
    {
        using var response = await api.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
        using var json = JsonDocument.Parse(body);
        Assert.Equal(totalCount, json.RootElement.GetProperty("totalCount").GetInt32());
        return json.RootElement.GetProperty("data").Clone();
    }

    private static IEnumerable<string> SpanNames(JsonElement data) =>
        data.GetProperty("resourceSpans").EnumerateArray().SelectMany(r => r.GetProperty("scopeSpans").EnumerateArray())
            .SelectMany(s => s.GetProperty("spans").EnumerateArray()).Select(s => s.GetProperty("name").GetString()!);

    private sealed record ConsoleLine(string Resource, long Number, string Content, bool IsError);

    private static async Task<(int TotalCount, IReadOnlyList<ConsoleLine> Lines)> ConsoleLogsAsync(HttpClient api, string query)
    {
        using var json = JsonDocument.Parse(await api.GetStringAsync("/api/telemetry/console-logs" + query));
        var lines = json.RootElement.GetProperty("logs").EnumerateArray().Select(l => new ConsoleLine(l.GetProperty("resourceName").GetString()!,
            l.GetProperty("lineNumber").GetInt64(), l.GetProperty("content").GetString()!, l.GetProperty("isError").GetBoolean())).ToList();
        return (json.RootElement.GetProperty("totalCount").GetInt32(), lines);
    }

    private static async Task<WebApplication> ServeAsync(ConsoleScript script)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(script);
        var app = builder.Build();
        app.MapGrpcService<ConsoleResourceService>();
        await app.StartAsync();
        return app;
    }

    internal sealed class ConsoleScript
    {
        private int _apiWatches;

        public int ApiWatches => Volatile.Read(ref _apiWatches);

        public int NextApiWatch() => Interlocked.Increment(ref _apiWatches);
    }

    /// <summary>Two resources; api-0's first console watch sends 3 lines and ends, as a dropped watch does; the next sends all 5 and stays.</summary>
    internal sealed class ConsoleResourceService(ConsoleScript script, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime)
        : Kiln.ResourceService.V1.ResourceService.ResourceServiceBase
    {
        public override async Task WatchResources(WatchResourcesRequest request, IServerStreamWriter<WatchResourcesUpdate> responseStream, ServerCallContext context)
        {
            var initial = new InitialResourceData();
            initial.Resources.Add(new Kiln.ResourceService.V1.Resource { Name = "api-0", DisplayName = "api", ResourceType = "Project", State = "Running" });
            initial.Resources.Add(new Kiln.ResourceService.V1.Resource { Name = "pg", DisplayName = "pg", ResourceType = "Executable", State = "Running" });
            await responseStream.WriteAsync(new WatchResourcesUpdate { InitialData = initial });
            await StayOpenAsync(context);
        }

        public override async Task WatchResourceConsoleLogs(WatchResourceConsoleLogsRequest request, IServerStreamWriter<WatchResourceConsoleLogsUpdate> responseStream,
            ServerCallContext context)
        {
            var update = new WatchResourceConsoleLogsUpdate();
            if (request.ResourceName == "pg")
            {
                update.LogLines.Add(new ConsoleLogLine { LineNumber = 1, Text = "database system is ready" });
                await responseStream.WriteAsync(update);
                await StayOpenAsync(context);
                return;
            }

            var watch = script.NextApiWatch();
            for (var n = 1; n <= (watch == 1 ? 3 : 5); n++)
            {
                update.LogLines.Add(new ConsoleLogLine { LineNumber = n, Text = n == 4 ? "request failed for api" : $"\u001b[32minfo\u001b[0m line {n}", IsStdErr = n == 4 });
            }

            await responseStream.WriteAsync(update);
            if (watch > 1)
            {
                await StayOpenAsync(context);
            }
        }

        private async Task StayOpenAsync(ServerCallContext context)
        {
            using var end = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
            await Task.Delay(Timeout.Infinite, end.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
