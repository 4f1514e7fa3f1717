using System.Net;
using System.Text.Json;
using Kiln.Tests.Browser;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// The dashboard's Resources and Console logs pages on the running platform: over HTTP with the AppHost's keys, and in a
/// real browser (Playwright driving Debian's Chromium, as <see cref="WebBrowserTests"/>). Screenshots go to the test
/// output folder's <c>screenshots/</c>, named <c>dashboard-*.png</c>.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class DashboardResourcesBrowserTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private static readonly string Screenshots = ChromiumBrowser.Screenshots;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Api_resources_lists_every_resource_running_and_healthy_and_the_pages_want_the_login()
    {
        using var api = new HttpClient { BaseAddress = platform.App.Dashboard.FrontendUrl };
        api.DefaultRequestHeaders.Add("X-API-Key", platform.App.Secrets.DashboardApiKey);
        // Every resource of the model but the dashboard, which does not list itself (as Aspire's does not).
        var expected = platform.App.Resources.Where(r => r is not Kiln.AppHost.Dashboard.DashboardResource).Select(r => r.Name).ToHashSet();
        string last = "";
        var listed = Eventually.TrueAsync(async () =>
        {
            last = await api.GetStringAsync("/api/resources");
            using var document = JsonDocument.Parse(last);
            var resources = document.RootElement.EnumerateArray().ToList();
            var names = resources.Select(r => r.GetProperty("name").GetString()!).ToList();
            // Replicas are resources of their own (api-0, api-1): each model resource is there by name or as replicas.
            return expected.All(name => names.Any(n => n == name || n.StartsWith(name + "-", StringComparison.Ordinal)))
                && resources.All(r => r.GetProperty("state").GetString() == "Running" && r.GetProperty("health").GetString() == "Healthy");
        }, Settle, "every resource Running and Healthy in /api/resources");
        await listed.ContinueWith(_ => output.WriteLine(last), TaskScheduler.Default);
        await listed;

        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = platform.App.Dashboard.FrontendUrl };
        foreach (var path in new[] { "/", "/resources/web", "/consolelogs/resource/web" })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.StartsWith("/login", response.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        }

        using var post = await anonymous.PostAsync("/resources/web/commands/stop", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
        Assert.Equal("Running", (await StateOfAsync(api, "web")).State); // nothing was stopped
    }

    [Fact]
    public async Task A_user_logs_in_sees_every_resource_healthy_reads_a_console_and_stops_and_starts_web_from_the_ui()
    {
        await using var chromium = await ChromiumBrowser.LaunchAsync();
        var browser = chromium.Browser;
        await using var context = await browser.NewContextAsync(new()
        {
            BaseURL = platform.App.Dashboard.FrontendUrl.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
        });
        var page = await context.NewPageAsync();

        await page.GotoAsync("/");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login"));
        await page.GotoAsync(platform.App.Dashboard.LoginUrl(platform.App.Secrets).PathAndQuery);
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/$"));
        await Assertions.Expect(page.Locator("#live-state")).ToHaveTextAsync("live");

        // Every resource Running and Healthy: no row says otherwise, and the web's row is there.
        var rows = page.Locator("tr[data-resource]");
        await Assertions.Expect(page.Locator("tr[data-resource]:not([data-state=Running][data-health=Healthy])")).ToHaveCountAsync(0, new() { Timeout = 60_000 });
        var modelled = platform.App.Resources.Count(r => r is not Kiln.AppHost.Dashboard.DashboardResource);
        Assert.True(await rows.CountAsync() >= modelled, $"{await rows.CountAsync()} rows for {modelled} resources");
        await Assertions.Expect(page.Locator("tr[data-resource=web] td.state")).ToHaveTextAsync("Running");
        await Assertions.Expect(page.Locator("svg path.edge[data-from=web]")).Not.ToHaveCountAsync(0); // the graph: web references the api
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-resources.png"), FullPage = true });

        // The details: a secret is masked until its Show button is pressed (from the keyboard).
        await page.GotoAsync("/resources/web");
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync("web");
        var show = page.Locator("table.environment button").First;
        if (await show.CountAsync() > 0)
        {
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-resource-details.png"), FullPage = true });
            await show.FocusAsync();
            await page.Keyboard.PressAsync("Enter");
            await Assertions.Expect(page.Locator(".secret-revealed")).ToHaveCountAsync(1);
        }
        else
        {
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-resource-details.png"), FullPage = true });
        }

        // The console: the kept lines arrive.
        await page.GotoAsync("/consolelogs/resource/web");
        await Assertions.Expect(page.Locator("#console .line").First).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-console-logs.png"), FullPage = true });

        // Stop web from the UI while a second page watches the list: that one changes without a reload.
        var watcher = await context.NewPageAsync();
        await watcher.GotoAsync("/");
        await Assertions.Expect(watcher.Locator("#live-state")).ToHaveTextAsync("live");
        await watcher.EvaluateAsync("window.__notReloaded = true");
        try
        {
            await page.GotoAsync("/resources/web");
            await page.GetByRole(AriaRole.Button, new() { Name = "Stop web", Exact = true }).ClickAsync(new() { Timeout = 60_000 });
            await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToBeVisibleAsync(new() { Timeout = 60_000 });
            await Assertions.Expect(watcher.Locator("tr[data-resource=web]")).ToHaveAttributeAsync("data-state", "Exited", new() { Timeout = 60_000 });
            Assert.True(await watcher.EvaluateAsync<bool>("window.__notReloaded === true"), "the watching page was reloaded");
            await watcher.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-resources-web-exited.png"), FullPage = true });

            await page.GetByRole(AriaRole.Button, new() { Name = "Start web", Exact = true }).ClickAsync(new() { Timeout = 60_000 });
            await Assertions.Expect(watcher.Locator("tr[data-resource=web]")).ToHaveAttributeAsync("data-state", "Running", new() { Timeout = 90_000 });
            await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bok\b"), new() { Timeout = 90_000 });
            await watcher.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-resources-web-running-again.png"), FullPage = true });
        }
        finally
        {
            using var api = new HttpClient { BaseAddress = platform.App.Dashboard.FrontendUrl };
            api.DefaultRequestHeaders.Add("X-API-Key", platform.App.Secrets.DashboardApiKey);
            if ((await StateOfAsync(api, "web")).State != "Running")
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
                await platform.App.StartResourceAsync("web", deadline.Token);
            }
        }

        output.WriteLine($"screenshots in {Screenshots}");
    }

    public void Dispose() => platform.WriteLogs(output);

    private static async Task<(string? State, string? Health)> StateOfAsync(HttpClient api, string name)
    {
        using var document = JsonDocument.Parse(await api.GetStringAsync("/api/resources"));
        var resource = document.RootElement.EnumerateArray().Single(r => r.GetProperty("name").GetString() == name);
        return (resource.GetProperty("state").GetString(), resource.GetProperty("health").GetString());
    }
}
