using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Kiln.Dashboard.Otlp.Proto.Trace;
using Kiln.Tests.Browser;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// The dashboard's telemetry pages in a real browser (Playwright driving Debian's Chromium) against the running platform:
/// the token login, an ingest's trace found in the list, its waterfall across the Api and the Worker, one of its logs,
/// the metrics page. Screenshots (<c>dashboard-*.png</c>) go to the test output folder's <c>screenshots/</c>.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class DashboardBrowserTests(PlatformFixture platform, ITestOutputHelper output)
{
    private static readonly string Screenshots = ChromiumBrowser.Screenshots;
    private static readonly TimeSpan ExportDeadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_ingest_trace_is_opened_as_a_waterfall_and_one_of_its_logs_is_opened_from_it()
    {
        const string sensor = "kiln8.dashboard.temp";
        var api = platform.Api;
        using (var put = await api.SendAsync(HttpMethod.Put, $"/api/v1/sensors/{sensor}", api.AdminKey,
            new { site = "kiln8", kind = "temperature", unit = "°C", rule = new { low = (double?)null, high = 100, hysteresis = 5 } }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        // A reading over the rule: the Worker logs the alert it raises while it processes the batch, inside the trace.
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using (var post = await api.SendAsync(HttpMethod.Post, "/api/v1/readings", api.IngestKey,
            new { readings = new[] { new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow, value = 500.0 } } },
            headers: [("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01")]))
        {
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        }

        using var telemetry = new DashboardTelemetry(platform.App);
        IReadOnlyList<TraceSpan> trace = [];
        await Eventually.TrueAsync(async () => TraceSpan.IsCompleteIngest(trace = await telemetry.TraceAsync(traceId)), ExportDeadline,
            "the ingest trace: the Api's request, the produce, the Worker's processing and its PostgreSQL write");
        var server = trace.Single(s => s.Service == "api" && s.Kind == Span.Types.SpanKind.Server);
        var consume = trace.First(s => s.Service == "worker" && s.Kind == Span.Types.SpanKind.Consumer);
        var write = trace.First(s => s.Service == "worker" && s.IsPostgres && s.ParentSpanId == consume.SpanId);

        await using var chromium = await ChromiumBrowser.LaunchAsync();
        var browser = chromium.Browser;
        var dashboard = platform.App.Dashboard;
        var page = await browser.NewPageAsync(new()
        {
            BaseURL = dashboard.FrontendUrl.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
        });

        // Without the cookie, the pages send the browser to the login page; the token URL logs it in.
        await page.GotoAsync("/traces");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/login"));
        await page.GotoAsync(dashboard.LoginUrl(platform.App.Secrets).PathAndQuery);
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/$"));

        await page.GotoAsync("/traces");
        await page.FillAsync("input[name=text]", traceId);
        await page.ClickAsync("form.filters button[type=submit]");
        var row = page.Locator($"tr[data-trace-id=\"{traceId}\"]");
        await Assertions.Expect(row).ToHaveCountAsync(1);
        await Assertions.Expect(row).ToContainTextAsync("api: POST /api/v1/readings");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-traces.png"), FullPage = true });

        // The waterfall: the Api's server span at the top, the PostgreSQL write nested under the Worker's consume.
        await row.GetByRole(AriaRole.Link).First.ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"/traces/detail/{traceId}$"));
        var rows = page.Locator("table.waterfall tbody tr");
        // Every span the API gave (more may have arrived since: the Worker's later calls), each once, each with its bar.
        var shown = await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.spanId)");
        Assert.Equal(shown.Length, shown.Distinct().Count());
        Assert.Superset(trace.Select(s => s.SpanId).ToHashSet(), shown.ToHashSet());
        Assert.Equal(shown.Length, await page.Locator("table.waterfall .bar").CountAsync());
        Assert.Equal(server.SpanId, await rows.First.GetAttributeAsync("data-span-id"));
        var writeRow = page.Locator($"tr[data-span-id=\"{write.SpanId}\"]");
        Assert.Equal(consume.SpanId, await writeRow.GetAttributeAsync("data-parent-span-id"));
        var consumeDepth = int.Parse((await page.Locator($"tr[data-span-id=\"{consume.SpanId}\"]").GetAttributeAsync("data-depth"))!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(consumeDepth + 1, int.Parse((await writeRow.GetAttributeAsync("data-depth"))!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(consumeDepth >= 2, "the consume span is nested under the Api's request and its produce");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-trace-waterfall.png"), FullPage = true });

        await writeRow.GetByRole(AriaRole.Link).ClickAsync();
        await Assertions.Expect(page.Locator("#span-detail")).ToContainTextAsync("postgresql");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-trace-span.png"), FullPage = true });

        // From the trace, its logs; then one of them.
        await Eventually.TrueAsync(async () =>
        {
            await page.ReloadAsync();
            return !(await page.Locator("#view-logs").TextContentAsync())!.Contains("(0)", StringComparison.Ordinal);
        }, ExportDeadline, "a log of the trace (the Worker's alert)");
        await page.ClickAsync("#view-logs");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"/structuredlogs\\?traceId={traceId}$"));
        var log = page.Locator("#log-rows tr", new() { HasText = sensor });
        await Assertions.Expect(log).ToHaveCountAsync(1, new() { Timeout = 10_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-structured-logs.png"), FullPage = true });
        await log.Locator("a.details").ClickAsync();
        var detail = page.Locator("#log-detail");
        await Assertions.Expect(detail).ToContainTextAsync(sensor);
        await Assertions.Expect(detail.Locator("a.trace-link")).ToHaveTextAsync(traceId);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-log-detail.png"), FullPage = true });

        // The log list is live: the alert closing (a reading back under the rule) appears on the open page, no reload.
        await page.GotoAsync($"/structuredlogs?text={sensor}");
        var sensorLogs = page.Locator("#log-rows tr");
        await Assertions.Expect(sensorLogs).ToHaveCountAsync(1);
        await page.EvaluateAsync("window.__notReloaded = true");
        using (var post = await api.SendAsync(HttpMethod.Post, "/api/v1/readings", api.IngestKey,
            new { readings = new[] { new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow, value = 20.0 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        }

        await Assertions.Expect(sensorLogs).ToHaveCountAsync(2, new() { Timeout = 30_000 });
        await Assertions.Expect(sensorLogs.First).ToContainTextAsync("Alert closed");
        Assert.True(await page.EvaluateAsync<bool>("window.__notReloaded === true"), "the page was reloaded");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-structured-logs-live.png"), FullPage = true });

        // The metrics page: the Api's meters, one instrument charted.
        await page.GotoAsync("/metrics?resource=api");
        await page.Locator("nav[aria-label=Meters] a").First.ClickAsync();
        await page.Locator("nav[aria-label=Instruments] a").First.ClickAsync();
        await Assertions.Expect(page.Locator("svg.chart")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("table.latest tbody tr").First).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-metrics.png"), FullPage = true });
        output.WriteLine($"screenshots in {Screenshots}");
    }
}
