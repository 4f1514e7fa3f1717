using System.Net;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// The operator UI in a real browser (Playwright driving Debian's Chromium, <c>/usr/bin/chromium</c>; <c>.ci/run</c>
/// installs it). Screenshots go to the test output folder's <c>screenshots/</c>.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class WebBrowserTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");
    private ApiDriver Api => platform.Api;

    [Fact]
    public async Task An_operator_signs_in_and_sees_a_posted_reading_on_the_open_overview_without_a_reload()
    {
        const string sensor = "kiln5.browser.temp";
        await Api.PutSensorAsync(sensor, "kiln5");
        await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 1, _ => 500));
        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(sensor)).Count == 1, TimeSpan.FromSeconds(30), "a first reading to be stored");

        await using var session = await BrowserSession.StartAsync(platform);
        var page = session.Page;
        await page.GotoAsync("/");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login"));
        await page.FillAsync("#password", "not the password");
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Wrong password.");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "login-refused.png") });

        await page.FillAsync("#password", platform.App.Secrets.OperatorPassword);
        await page.ClickAsync("button[type=submit]");
        var value = page.Locator($"tr[data-sensor=\"{sensor}\"] .latest");
        await Assertions.Expect(value).ToHaveTextAsync("500");
        await Assertions.Expect(page.Locator("#live-state")).ToHaveTextAsync("live"); // the /live stream is open

        await page.EvaluateAsync("window.__notReloaded = true");
        using (var response = await Api.PostReadingsAsync(new[] { new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow, value = 777.25 } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Assertions.Expect(value).ToHaveTextAsync("777.25", new() { Timeout = 3000 });
        Assert.True(await page.EvaluateAsync<bool>("window.__notReloaded === true"), "the page was reloaded");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "overview.png"), FullPage = true });
        output.WriteLine($"screenshots in {Screenshots}");
    }

    [Fact]
    public async Task An_alert_raised_by_a_breach_appears_on_the_open_alerts_page_and_is_acknowledged_with_its_button()
    {
        const string sensor = "kiln5.browser.pressure";
        using (var put = await Api.SendAsync(HttpMethod.Put, $"/api/v1/sensors/{sensor}", Api.AdminKey,
            new { site = "kiln5", kind = "pressure", unit = "mbar", rule = new { low = (double?)null, high = 100, hysteresis = 5 } }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 1, _ => 50));
        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(sensor)).Count == 1, TimeSpan.FromSeconds(30), "a first reading to be stored");

        await using var session = await BrowserSession.StartAsync(platform);
        var page = session.Page;
        await session.SignInAsync("/alerts");
        await Assertions.Expect(page.Locator("#live-state")).ToHaveTextAsync("live");
        await page.EvaluateAsync("window.__notReloaded = true");

        using (var response = await Api.PostReadingsAsync(new[] { new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow, value = 130.0 } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var row = page.Locator("section[data-state=open] tr[data-alert]", new() { HasText = sensor });
        await Assertions.Expect(row).ToHaveCountAsync(1, new() { Timeout = 5000 });
        Assert.True(await page.EvaluateAsync<bool>("window.__notReloaded === true"), "the page was reloaded");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "alerts-open.png"), FullPage = true });

        await row.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("acknowledged");
        await Assertions.Expect(page.Locator("section[data-state=acknowledged] tr[data-alert]", new() { HasText = sensor })).ToHaveCountAsync(1);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "alerts-acknowledged.png"), FullPage = true });
        var alert = (await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}")).GetProperty("items")[0];
        Assert.Equal("acknowledged", alert.GetProperty("state").GetString());
    }

    public void Dispose() => platform.WriteLogs(output);

    /// <summary>Chromium with one page on the Web's address.</summary>
    private sealed class BrowserSession(IPlaywright playwright, IBrowser browser, IPage page, PlatformFixture platform) : IAsyncDisposable
    {
        public IPage Page => page;

        public static async Task<BrowserSession> StartAsync(PlatformFixture platform)
        {
            Assert.True(File.Exists(Chromium), $"{Chromium} is missing; run: apt-get install -y chromium (.ci/run does)");
            Directory.CreateDirectory(Screenshots);
            var playwright = await Playwright.CreateAsync();
            var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = Chromium,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            });
            var page = await browser.NewPageAsync(new() { BaseURL = platform.App.Resource<Kiln.AppHost.Resources.ProjectResource>("web").Urls[0].ToString() });
            return new BrowserSession(playwright, browser, page, platform);
        }

        public async Task SignInAsync(string path)
        {
            await page.GotoAsync(path);
            await page.FillAsync("#password", platform.App.Secrets.OperatorPassword);
            await page.ClickAsync("button[type=submit]");
            await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape(path) + "$"));
        }

        public async ValueTask DisposeAsync()
        {
            await browser.DisposeAsync();
            playwright.Dispose();
        }
    }
}
