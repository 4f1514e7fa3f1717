using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Google.Protobuf;
using Kiln.Dashboard.Api;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Proto.Trace;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The telemetry HTTP API answers as the Aspire dashboard's: OTLP/JSON (hex ids, integer enums) that Google.Protobuf's
/// JSON parser reads back into the OTLP messages that were sent, in <c>{"data","totalCount","returnedCount"}</c>,
/// filtered and limited by its parameters, streamed as NDJSON with <c>follow=true</c>, and only for the X-API-Key.
/// </summary>
public sealed class TelemetryApiTests : IAsyncLifetime
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);
    private TestDashboard _dashboard = null!;
    private HttpClient _api = null!;

    public async Task InitializeAsync()
    {
        _dashboard = await TestDashboard.StartAsync();
        _api = _dashboard.ApiClient();
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _dashboard.DisposeAsync();
    }

    [Fact]
    public async Task Spans_and_logs_come_back_as_otlp_json_that_parses_into_the_messages_sent()
    {
        var traceId = OtlpMessages.TraceId(42);
        var root = OtlpMessages.Span(traceId, 0, "POST /api/v1/readings");
        var child = OtlpMessages.Span(traceId, 1, "kiln.readings publish", parent: root.SpanId.ToByteArray());
        child.Kind = Span.Types.SpanKind.Producer;
        child.Events.Add(new Span.Types.Event { Name = "retry", TimeUnixNano = root.StartTimeUnixNano + 5 });
        child.Links.Add(new Span.Types.Link { TraceId = ByteString.CopyFrom(OtlpMessages.TraceId(7)), SpanId = root.SpanId });
        var export = OtlpMessages.Traces("api", [root, child]);
        Assert.Equal(HttpStatusCode.OK, (await _dashboard.PostOtlpAsync("traces", export)).StatusCode);
        var logs = TelemetryStoreTests.Logs("api", [1, 2]);
        logs.ResourceLogs[0].ScopeLogs[0].LogRecords[1].TraceId = ByteString.CopyFrom(traceId);
        logs.ResourceLogs[0].ScopeLogs[0].LogRecords[1].SpanId = root.SpanId;
        Assert.Equal(HttpStatusCode.OK, (await _dashboard.PostOtlpAsync("logs", logs)).StatusCode);

        var spansJson = await GetDataAsync("/api/telemetry/spans", totalCount: 2, returnedCount: 2);
        var hexTraceId = Convert.ToHexStringLower(traceId);
        var firstSpan = spansJson.GetProperty("resourceSpans")[0].GetProperty("scopeSpans")[0].GetProperty("spans")[0];
        Assert.Equal(hexTraceId, firstSpan.GetProperty("traceId").GetString()); // OTLP/JSON: hex, not base64
        Assert.Equal(2, firstSpan.GetProperty("kind").GetInt32()); // OTLP/JSON: enums as integers
        var spans = Parser.Parse<TracesData>(OtlpJson.ToProtoJson(spansJson.GetRawText()));
        Assert.Equal(new TracesData { ResourceSpans = { export.ResourceSpans } }, spans);

        var logsJson = await GetDataAsync("/api/telemetry/logs", totalCount: 2, returnedCount: 2);
        Assert.Equal(new LogsData { ResourceLogs = { logs.ResourceLogs } }, Parser.Parse<LogsData>(OtlpJson.ToProtoJson(logsJson.GetRawText())));

        var trace = await GetDataAsync($"/api/telemetry/traces/{hexTraceId}", totalCount: 2, returnedCount: 2);
        Assert.Equal(new TracesData { ResourceSpans = { export.ResourceSpans } }, Parser.Parse<TracesData>(OtlpJson.ToProtoJson(trace.GetRawText())));
        var correlated = await GetDataAsync($"/api/telemetry/logs?traceId={hexTraceId}", totalCount: 1, returnedCount: 1);
        Assert.Equal("log 2", correlated.GetProperty("resourceLogs")[0].GetProperty("scopeLogs")[0].GetProperty("logRecords")[0]
            .GetProperty("body").GetProperty("stringValue").GetString());
    }

    [Fact]
    public async Task Traces_resources_and_filters_answer_as_aspires_api()
    {
        for (var i = 0; i < 5; i++)
        {
            var spans = new[] { OtlpMessages.Span(OtlpMessages.TraceId(i), 0, $"request {i}", error: i == 3), OtlpMessages.Span(OtlpMessages.TraceId(i), 1, "query") };
            await _dashboard.PostOtlpAsync("traces", OtlpMessages.Traces(i % 2 == 0 ? "api" : "worker", spans));
        }

        await _dashboard.PostOtlpAsync("logs", TelemetryStoreTests.Logs("worker", [1]));
        var warning = TelemetryStoreTests.Logs("worker", [2]);
        warning.ResourceLogs[0].ScopeLogs[0].LogRecords[0].SeverityNumber = SeverityNumber.Error2;
        await _dashboard.PostOtlpAsync("logs", warning);

        // The newest traces when limited, counted in traces; each with all its spans.
        var traces = await GetDataAsync("/api/telemetry/traces?limit=2", totalCount: 5, returnedCount: 2);
        Assert.Equal(["request 3", "query", "request 4", "query"], SpanNames(traces));
        Assert.Equal(["request 3", "query"], SpanNames(await GetDataAsync("/api/telemetry/traces?hasError=true", totalCount: 1, returnedCount: 1)));
        await GetDataAsync("/api/telemetry/traces?resource=worker", totalCount: 2, returnedCount: 2);
        await GetDataAsync("/api/telemetry/spans?resource=api&limit=3", totalCount: 6, returnedCount: 3);
        await GetDataAsync("/api/telemetry/spans?resource=api-abcdefgh&resource=worker", totalCount: 10, returnedCount: 10);
        await GetDataAsync("/api/telemetry/logs?severity=Error", totalCount: 1, returnedCount: 1);
        await GetDataAsync("/api/telemetry/logs?severity=information", totalCount: 2, returnedCount: 2);

        using var resources = JsonDocument.Parse(await _api.GetStringAsync("/api/telemetry/resources"));
        Assert.Equal(["api", "worker"], resources.RootElement.EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        var worker = resources.RootElement[1];
        Assert.Equal("worker-abcdefgh", worker.GetProperty("displayName").GetString());
        Assert.Equal("abcdefgh", worker.GetProperty("instanceId").GetString());
        Assert.True(worker.GetProperty("hasLogs").GetBoolean() && worker.GetProperty("hasTraces").GetBoolean());
        Assert.False(worker.GetProperty("hasMetrics").GetBoolean());

        // /api/resources is what the AppHost runs, not who sent telemetry: a dashboard started alone knows of none
        // (ResourcePagesTests covers it fed by a resource service).
        using var summary = JsonDocument.Parse(await _api.GetStringAsync("/api/resources"));
        Assert.Equal(0, summary.RootElement.GetArrayLength());
    }

    [Theory]
    [InlineData("/api/telemetry/spans?resource=nobody", HttpStatusCode.NotFound)]
    [InlineData("/api/telemetry/traces/0123456789abcdef0123456789abcdef", HttpStatusCode.NotFound)]
    [InlineData("/api/telemetry/logs?runId=yesterday", HttpStatusCode.NotFound)]
    [InlineData("/api/telemetry/logs?runId=yesterday&follow=true", HttpStatusCode.BadRequest)]
    [InlineData("/api/telemetry/spans?limit=0", HttpStatusCode.BadRequest)]
    [InlineData("/api/telemetry/spans?limit=many", HttpStatusCode.BadRequest)]
    [InlineData("/api/telemetry/spans?hasError=maybe", HttpStatusCode.BadRequest)]
    [InlineData("/api/telemetry/logs?severity=Loud", HttpStatusCode.BadRequest)]
    [InlineData("/api/telemetry/traces?follow=true", HttpStatusCode.BadRequest)]
    public async Task A_request_it_cannot_answer_gets_problem_details_with_the_reason(string path, HttpStatusCode status) =>
        await OtlpReceiverTests.AssertProblemAsync(await _api.GetAsync(path), status);

    [Fact]
    public async Task Follow_streams_stored_then_new_spans_and_logs_as_ndjson_one_per_line()
    {
        await _dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "stored before")]));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var spans = await _api.GetAsync("/api/telemetry/spans?follow=true&resource=api", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var logs = await _api.GetAsync("/api/telemetry/logs?follow=true", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("application/x-ndjson", spans.Content.Headers.ContentType?.MediaType);
        using var spanLines = new StreamReader(await spans.Content.ReadAsStreamAsync(timeout.Token));
        using var logLines = new StreamReader(await logs.Content.ReadAsStreamAsync(timeout.Token));

        Assert.Equal(["stored before"], SpanNames(JsonDocument.Parse((await spanLines.ReadLineAsync(timeout.Token))!).RootElement));
        await _dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("web", [OtlpMessages.Span(OtlpMessages.TraceId(2), 0, "another resource")]));
        await _dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(3), 0, "a"), OtlpMessages.Span(OtlpMessages.TraceId(3), 1, "b")]));
        await _dashboard.PostOtlpAsync("logs", TelemetryStoreTests.Logs("worker", [5]));

        foreach (var expected in new[] { "a", "b" })
        {
            var line = (await spanLines.ReadLineAsync(timeout.Token))!;
            Assert.Equal([expected], SpanNames(JsonDocument.Parse(line).RootElement));
            Parser.Parse<TracesData>(OtlpJson.ToProtoJson(line)); // each line is a whole OTLP/JSON message
        }

        var logLine = Parser.Parse<LogsData>(OtlpJson.ToProtoJson((await logLines.ReadLineAsync(timeout.Token))!));
        Assert.Equal("log 5", logLine.ResourceLogs[0].ScopeLogs[0].LogRecords[0].Body.StringValue);
    }

    [Fact]
    public async Task A_follow_ends_when_the_dashboard_stops_and_does_not_hold_up_its_stop()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var spans = await _api.GetAsync("/api/telemetry/spans?follow=true", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var lines = new StreamReader(await spans.Content.ReadAsStreamAsync(timeout.Token));
        var ended = lines.ReadToEndAsync(timeout.Token);

        var stopping = Stopwatch.StartNew();
        await _dashboard.App.StopAsync(timeout.Token);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s (the host's own limit is 30 s)");
        Assert.Equal("", await ended); // the stream ended, empty: nothing was stored
    }

    [Fact]
    public async Task Every_api_endpoint_refuses_a_missing_or_wrong_key()
    {
        using var anonymous = new HttpClient { BaseAddress = _dashboard.App.FrontendUrl };
        using var wrong = new HttpClient { BaseAddress = _dashboard.App.FrontendUrl };
        wrong.DefaultRequestHeaders.Add("X-API-Key", _dashboard.ApiKey + "x");
        foreach (var path in new[] { "/api/telemetry/resources", "/api/telemetry/spans", "/api/telemetry/logs", "/api/telemetry/traces",
            "/api/telemetry/traces/0123456789abcdef0123456789abcdef", "/api/resources" })
        {
            await OtlpReceiverTests.AssertProblemAsync(await anonymous.GetAsync(path), HttpStatusCode.Unauthorized);
            await OtlpReceiverTests.AssertProblemAsync(await wrong.GetAsync(path), HttpStatusCode.Unauthorized);
        }

        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/api/telemetry/spans")).StatusCode);
    }

    private async Task<JsonElement> GetDataAsync(string path, int totalCount, int returnedCount)
    {
        using var response = await _api.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
        using var document = JsonDocument.Parse(body);
        Assert.Equal((totalCount, returnedCount), (document.RootElement.GetProperty("totalCount").GetInt32(), document.RootElement.GetProperty("returnedCount").GetInt32()));
        return document.RootElement.GetProperty("data").Clone();
    }

    private static List<string?> SpanNames(JsonElement data) =>
        [.. data.GetProperty("resourceSpans").EnumerateArray().SelectMany(r => r.GetProperty("scopeSpans").EnumerateArray())
            .SelectMany(s => s.GetProperty("spans").EnumerateArray()).Select(s => s.GetProperty("name").GetString())];
}
