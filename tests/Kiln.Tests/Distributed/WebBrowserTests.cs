using System.Net;
using Kiln.AppHost.Testing;
using Kiln.Shared;
using Kiln.Tests.Browser;
using Microsoft.Playwright;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// The operator UI in a real browser (Playwright driving Debian's Chromium, <c>/usr/bin/chromium</c>; <c>.ci/run</c>
/// installs it). Screenshots go to the test output folder's <c>screenshots/</c>.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class WebBrowserTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private static readonly string Screenshots = ChromiumBrowser.Screenshots;
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

        // "Within a second of the reading being stored": the Worker announces a stored reading on kiln:live right after
        // storing it, and the test hears that same announcement; the page notes the moment the value shows. One clock.
        await using var cache = await ConnectionMultiplexer.ConnectAsync(await platform.App.GetConnectionStringAsync("cache")
            ?? throw new InvalidOperationException("cache has no connection string"));
        var announced = new TaskCompletionSource<DateTimeOffset>(TaskCreationOptions.RunContinuationsAsynchronously);
        await cache.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Topology.Cache.LiveChannel), (_, message) =>
        {
            if (message.ToString() is var text && text.Contains(sensor, StringComparison.Ordinal) && text.Contains("777.25", StringComparison.Ordinal))
            {
                announced.TrySetResult(DateTimeOffset.UtcNow);
            }
        });
        await page.EvaluateAsync("""
            sensor => new MutationObserver((_, observer) => {
                if (document.querySelector(`tr[data-sensor="${sensor}"] .latest`)?.textContent.trim() === '777.25') {
                    window.__shownAt = performance.timeOrigin + performance.now();
                    observer.disconnect();
                }
            }).observe(document.body, { childList: true, characterData: true, subtree: true })
            """, sensor);

        using (var response = await Api.PostReadingsAsync(new[] { new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow, value = 777.25 } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Assertions.Expect(value).ToHaveTextAsync("777.25", new() { Timeout = 3000 });
        Assert.True(await page.EvaluateAsync<bool>("window.__notReloaded === true"), "the page was reloaded");
        var stored = await announced.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var shown = DateTimeOffset.FromUnixTimeMilliseconds((long)await page.EvaluateAsync<double>("window.__shownAt"));
        output.WriteLine($"stored → shown on the open overview: {(shown - stored).TotalMilliseconds:0} ms");
        Assert.True(shown - stored < TimeSpan.FromSeconds(1), $"the value reached the open page {(shown - stored).TotalMilliseconds:0} ms after it was stored");
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

    [Fact]
    public async Task The_sensor_page_draws_its_chart_and_the_range_picker_works_from_the_keyboard()
    {
        const string sensor = "kiln5.browser.chart";
        using (var put = await Api.SendAsync(HttpMethod.Put, $"/api/v1/sensors/{sensor}", Api.AdminKey,
            new { site = "kiln5", kind = "temperature", unit = "°C", rule = new { low = (double?)null, high = 100, hysteresis = 5 } }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        // Three minutes of readings, the last of them over the rule: a line of every reading, a threshold and an alert.
        using (var response = await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 180, i => i < 170 ? 60 + (10 * Math.Sin(i / 10.0)) : 120)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(sensor)).Count == 180, TimeSpan.FromSeconds(30), "the readings to be stored");

        await using var session = await BrowserSession.StartAsync(platform);
        var page = session.Page;
        await session.SignInAsync($"/sensors/{sensor}");
        var average = page.Locator("svg.chart polyline.avg");
        await Assertions.Expect(page.Locator("#chart-title")).ToContainTextAsync("every reading");
        await Assertions.Expect(page.Locator("svg.chart")).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex(": 180 readings$"));
        var drawn = await average.BoundingBoxAsync();
        Assert.True(drawn is { Width: > 10, Height: > 1 }, $"the line of readings is not drawn: {drawn?.Width} × {drawn?.Height}");
        await Assertions.Expect(page.Locator("svg.chart line.threshold")).ToHaveCountAsync(1);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "sensor.png"), FullPage = true });

        // Keyboard only: Tab to the "7 d" range and press Enter.
        await TabToAsync(page, "el => el.matches('nav.ranges a') && el.textContent.trim() === '7 d'");
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"\?range=7d$"));
        await Assertions.Expect(page.Locator("nav.ranges a[aria-current=page]")).ToHaveTextAsync("7 d");
        await Assertions.Expect(page.Locator("#chart-title")).ToContainTextAsync("Last 7 days");
        await Assertions.Expect(average).ToHaveAttributeAsync("points", new System.Text.RegularExpressions.Regex(@"\S")); // the hour of these readings
        Assert.True(await page.Locator("svg.chart polygon.band").BoundingBoxAsync() is { Width: >= 0 }, "the hourly rollups' min–max band is not drawn");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "sensor-7d.png"), FullPage = true });
    }

    [Fact]
    public async Task With_the_api_stopped_the_open_overview_shows_the_banner_and_recovers_by_itself()
    {
        await using var session = await BrowserSession.StartAsync(platform);
        var page = session.Page;
        await session.SignInAsync("/");
        var banner = page.Locator("[data-api-down]");
        await Assertions.Expect(banner).ToHaveCountAsync(0);

        await platform.App.StopResourceAsync("api");
        try
        {
            await page.ReloadAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("The Api cannot be reached right now");
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "banner.png"), FullPage = true });
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("api", deadline.Token);
        }

        // Nobody touches the page: it reloads itself until the Api answers, and then renders whole.
        await Assertions.Expect(banner).ToHaveCountAsync(0, new() { Timeout = 60_000 });
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Overview");
        Assert.True(await page.Locator("p.summary, main p").CountAsync() > 0, "the recovered overview has no content");
    }

    [Fact]
    public async Task Every_page_fits_a_phone_without_sideways_scrolling_and_is_screenshotted()
    {
        const string sensor = "kiln5.browser.a-rather-long-sensor-name.temperature";
        using (var put = await Api.PutSensorAsync(sensor, "kiln5"))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        // The last reading breaches the rule, so that the alerts page and the sensor's history have a row to fit too.
        await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 60, i => i < 59 ? 1234.5 + i : ApiDriver.SensorRuleHigh + 100));
        await Eventually.TrueAsync(async () => (await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}")).GetProperty("items").GetArrayLength() == 1,
            TimeSpan.FromSeconds(30), "the breach's alert to open");

        await using var session = await BrowserSession.StartAsync(platform, new ViewportSize { Width = 390, Height = 844 });
        var page = session.Page;
        await page.GotoAsync("/login");
        await AssertNoSidewaysScrollAsync(page, "login");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "phone-login.png"), FullPage = true });
        await session.SignInAsync("/");
        foreach (var (path, name) in new[] { ("/", "overview"), ("/alerts", "alerts"), ($"/sensors/{sensor}", "sensor") })
        {
            await page.GotoAsync(path);
            await Assertions.Expect(page.Locator("h1")).ToBeVisibleAsync();
            await AssertNoSidewaysScrollAsync(page, name);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, $"phone-{name}.png"), FullPage = true });
        }

        // The wide desktop pages too, so that every page has a screenshot of its own.
        await page.SetViewportSizeAsync(1280, 900);
        foreach (var (path, name) in new[] { ("/alerts", "alerts") })
        {
            await page.GotoAsync(path);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, $"{name}.png"), FullPage = true });
        }
    }

    [Fact]
    public async Task Signing_in_and_acknowledging_work_from_the_keyboard_alone()
    {
        const string sensor = "kiln5.browser.keyboard";
        using (var put = await Api.SendAsync(HttpMethod.Put, $"/api/v1/sensors/{sensor}", Api.AdminKey,
            new { site = "kiln5", kind = "pressure", unit = "mbar", rule = new { low = (double?)null, high = 100, hysteresis = 5 } }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 2, i => i == 0 ? 50 : 150));
        await Eventually.TrueAsync(async () => (await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}&state=open")).GetProperty("items").GetArrayLength() == 1,
            TimeSpan.FromSeconds(30), "the breach's alert to open");

        await using var session = await BrowserSession.StartAsync(platform);
        var page = session.Page;
        await page.GotoAsync("/alerts");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "login.png") });
        // The password field has the focus as the page opens; type, Tab to the button, Enter.
        Assert.True(await page.EvaluateAsync<bool>("document.activeElement?.id === 'password'"), "the password field does not have the focus");
        await page.Keyboard.TypeAsync(platform.App.Secrets.OperatorPassword);
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("Sign in", await page.EvaluateAsync<string>("document.activeElement?.textContent?.trim()"));
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/alerts$"));

        var js = $"el => el.tagName === 'BUTTON' && el.textContent.trim() === 'Acknowledge' && el.closest('tr')?.textContent.includes('{sensor}')";
        await TabToAsync(page, js);
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("acknowledged");
        await Assertions.Expect(page.Locator("section[data-state=acknowledged] tr[data-alert]", new() { HasText = sensor })).ToHaveCountAsync(1);
        Assert.Equal("acknowledged", (await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}")).GetProperty("items")[0].GetProperty("state").GetString());
    }

    /// <summary>Presses Tab until the focused element satisfies <paramref name="predicate"/> (a JavaScript function of it); fails after 100 presses.</summary>
    private static async Task TabToAsync(IPage page, string predicate)
    {
        for (var presses = 0; presses < 100; presses++)
        {
            if (await page.EvaluateAsync<bool>($"({predicate})(document.activeElement)"))
            {
                return;
            }

            await page.Keyboard.PressAsync("Tab");
        }

        Assert.Fail($"Tab never reached the element: {predicate}");
    }

    private static async Task AssertNoSidewaysScrollAsync(IPage page, string name)
    {
        var (scroll, width) = (await page.EvaluateAsync<int>("document.documentElement.scrollWidth"), await page.EvaluateAsync<int>("window.innerWidth"));
        Assert.True(scroll <= width, $"{name} scrolls sideways on a phone: {scroll} px of content in {width} px");
    }

    public void Dispose() => platform.WriteLogs(output);

    /// <summary>Chromium with one page on the Web's address.</summary>
    private sealed class BrowserSession(ChromiumBrowser chromium, IPage page, PlatformFixture platform) : IAsyncDisposable
    {
        public IPage Page => page;

        public static async Task<BrowserSession> StartAsync(PlatformFixture platform, ViewportSize? viewport = null)
        {
            var chromium = await ChromiumBrowser.LaunchAsync();
            var page = await chromium.Browser.NewPageAsync(new()
            {
                BaseURL = platform.App.Resource<Kiln.AppHost.Resources.ProjectResource>("web").Urls[0].ToString(),
                ViewportSize = viewport ?? new ViewportSize { Width = 1280, Height = 900 },
            });
            return new BrowserSession(chromium, page, platform);
        }

        public async Task SignInAsync(string path)
        {
            await page.GotoAsync(path);
            await page.FillAsync("#password", platform.App.Secrets.OperatorPassword);
            await page.ClickAsync("button[type=submit]");
            await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape(path) + "$"));
        }

        public ValueTask DisposeAsync() => chromium.DisposeAsync();
    }
}
