using Kiln.Dashboard.Persistence;
using Kiln.Tests.Browser;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The header's run selector in Chromium: after a restart, choosing the previous run shows its trace (list and
/// waterfall) under the past-run banner, without pause or clear; going back shows the current run again.
/// Screenshots: <c>run-selector-past.png</c>, <c>run-selector-past-trace.png</c>, <c>runs.png</c>.
/// </summary>
public sealed class RunSelectorBrowserTests : IDisposable
{
    private readonly DirectoryInfo _storage = Directory.CreateTempSubdirectory("kiln-dashboard-selector-");

    public void Dispose() => _storage.Delete(recursive: true);

    [Fact]
    public async Task Choosing_a_past_run_in_the_header_shows_its_traces_read_only_and_going_back_shows_the_current_run()
    {
        var settings = new Dictionary<string, string?> { ["Dashboard:Storage:Path"] = _storage.FullName };
        var traceId = Convert.ToHexStringLower(OtlpMessages.TraceId(7));
        string pastRun;
        await using (var first = await TestDashboard.StartAsync(settings))
        {
            await first.PostOtlpAsync("traces", OtlpMessages.Traces("api", [
                OtlpMessages.Span(OtlpMessages.TraceId(7), 0, "POST /api/v1/readings"),
                OtlpMessages.Span(OtlpMessages.TraceId(7), 1, "INSERT readings", parent: BitConverter.GetBytes(1L)),
            ]));
            pastRun = first.App.App.Services.GetRequiredService<TelemetryRuns>().CurrentRunId;
        }

        await using var dashboard = await TestDashboard.StartAsync(settings);
        await using var chromium = await ChromiumBrowser.LaunchAsync();
        var page = await chromium.Browser.NewPageAsync(new() { BaseURL = dashboard.App.FrontendUrl.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await page.GotoAsync(dashboard.App.LoginUrl.PathAndQuery);
        await page.GotoAsync("/traces");
        await Assertions.Expect(page.Locator($"tr[data-trace-id='{traceId}']")).ToHaveCountAsync(0);

        await page.Locator("#run-select").SelectOptionAsync(pastRun);
        await page.Locator(".run-selector button").ClickAsync();
        await page.WaitForURLAsync("**/traces");
        await Assertions.Expect(page.Locator("#past-run")).ToContainTextAsync(pastRun);
        await Assertions.Expect(page.Locator($"tr[data-trace-id='{traceId}']")).ToContainTextAsync("POST /api/v1/readings");
        await Assertions.Expect(page.Locator("[data-signal-state='past']")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Clear traces" })).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new() { Path = ChromiumBrowser.Screenshot("run-selector-past"), FullPage = true });

        await page.Locator($"tr[data-trace-id='{traceId}'] a").First.ClickAsync();
        await Assertions.Expect(page.Locator("table.waterfall")).ToContainTextAsync("INSERT readings");
        await Assertions.Expect(page.Locator("#past-run")).ToBeVisibleAsync(); // the choice follows to every page
        await page.ScreenshotAsync(new() { Path = ChromiumBrowser.Screenshot("run-selector-past-trace"), FullPage = true });

        await page.GotoAsync("/runs");
        await Assertions.Expect(page.Locator($"tr[data-run-id='{pastRun}']")).ToContainTextAsync("shown");
        await page.ScreenshotAsync(new() { Path = ChromiumBrowser.Screenshot("runs"), FullPage = true });

        await page.GotoAsync("/traces");
        await page.GetByRole(AriaRole.Link, new() { Name = "Back to the current run" }).ClickAsync();
        await page.WaitForURLAsync("**/traces");
        await Assertions.Expect(page.Locator("#past-run")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator($"tr[data-trace-id='{traceId}']")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-signal-state='receiving']")).ToBeVisibleAsync();
    }
}
