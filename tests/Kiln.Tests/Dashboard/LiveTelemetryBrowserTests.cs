using Kiln.Tests.Browser;
using Microsoft.Playwright;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The Traces and Metrics pages in Chromium follow what arrives without a reload: a new trace appears in the list (and
/// one of a resource the filter leaves out does not), a trace's new span updates its row, a trace sent while traces
/// are paused never appears, and a metric's new point reaches the chosen instrument's table. A marker set on the page's window survives, which a reload would lose.
/// Screenshots: <c>traces-live.png</c>, <c>metrics-live.png</c>.
/// </summary>
public sealed class LiveTelemetryBrowserTests
{
    [Fact]
    public async Task The_trace_list_shows_new_and_updated_traces_of_its_filter_without_a_reload()
    {
        await using var dashboard = await TestDashboard.StartAsync();
        await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "GET /before")]));
        await using var chromium = await ChromiumBrowser.LaunchAsync();
        var page = await OpenAsync(chromium, dashboard, "/traces?resource=api");
        await Assertions.Expect(page.Locator("table.traces tbody tr")).ToHaveCountAsync(1);

        // Another resource's trace is outside the filter; the api's new one comes after it, so once it is shown the
        // other would have been too.
        await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("worker", [OtlpMessages.Span(OtlpMessages.TraceId(2), 0, "consume readings")]));
        await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(3), 0, "POST /api/v1/readings")]));
        var live = page.Locator($"tr[data-trace-id='{Hex(3)}']");
        await Assertions.Expect(live).ToContainTextAsync("POST /api/v1/readings", new() { Timeout = 15_000 });
        await Assertions.Expect(page.Locator($"tr[data-trace-id='{Hex(2)}']")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("table.traces tbody tr").First).ToHaveAttributeAsync("data-trace-id", Hex(3)); // newest first
        await Assertions.Expect(page.Locator("table.traces tbody tr")).ToHaveCountAsync(2);

        // A second span of the same trace (from the api, so the filter keeps it) updates its row's span count.
        await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(3), 1, "INSERT readings", parent: BitConverter.GetBytes(1L))]));
        await Assertions.Expect(live.Locator("td").Nth(4)).ToHaveTextAsync("2", new() { Timeout = 15_000 });
        Assert.Equal(1, await page.EvaluateAsync<int>("window.kilnMarker"));
        await page.ScreenshotAsync(new() { Path = ChromiumBrowser.Screenshot("traces-live"), FullPage = true });

        // Paused, what arrives is dropped and the open list stays as it is; resumed, it follows again. The trace sent
        // after resuming is the sync point: once it is shown, the paused one would have been too.
        await page.GetByRole(AriaRole.Button, new() { Name = "Pause" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-signal-state='paused']")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#live-state")).ToHaveTextAsync("live");
        await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(4), 0, "while paused")]));
        await page.GetByRole(AriaRole.Button, new() { Name = "Resume" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-signal-state='receiving']")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#live-state")).ToHaveTextAsync("live");
        await dashboard.PostOtlpAsync("traces", OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(5), 0, "after resuming")]));
        await Assertions.Expect(page.Locator($"tr[data-trace-id='{Hex(5)}']")).ToContainTextAsync("after resuming", new() { Timeout = 15_000 });
        await Assertions.Expect(page.Locator($"tr[data-trace-id='{Hex(4)}']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task The_chosen_instrument_shows_its_new_points_without_a_reload()
    {
        await using var dashboard = await TestDashboard.StartAsync();
        await dashboard.PostOtlpAsync("metrics", OtlpMessages.Gauge("api", "kiln.readings.accepted", 3));
        await using var chromium = await ChromiumBrowser.LaunchAsync();
        var page = await OpenAsync(chromium, dashboard, "/metrics?resource=api-abcdefgh&meter=Kiln.Tests&instrument=kiln.readings.accepted");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("3 points held");

        await dashboard.PostOtlpAsync("metrics", OtlpMessages.Gauge("api", "kiln.readings.accepted", 1, offset: 41));
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("4 points held", new() { Timeout = 15_000 });
        await Assertions.Expect(page.Locator("table.latest tbody tr").First.Locator("td").Nth(3)).ToHaveTextAsync("41");
        Assert.Equal(1, await page.EvaluateAsync<int>("window.kilnMarker"));
        await page.ScreenshotAsync(new() { Path = ChromiumBrowser.Screenshot("metrics-live"), FullPage = true });
    }

    /// <summary>Logs in, opens <paramref name="path"/>, waits until its stream is open, and marks the window.</summary>
    private static async Task<IPage> OpenAsync(ChromiumBrowser chromium, TestDashboard dashboard, string path)
    {
        var page = await chromium.Browser.NewPageAsync(new() { BaseURL = dashboard.App.FrontendUrl.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await page.GotoAsync(dashboard.App.LoginUrl.PathAndQuery);
        await page.GotoAsync(path);
        await Assertions.Expect(page.Locator("#live-state")).ToHaveTextAsync("live");
        await page.EvaluateAsync("window.kilnMarker = 1");
        return page;
    }

    private static string Hex(int trace) => Convert.ToHexStringLower(OtlpMessages.TraceId(trace));
}
