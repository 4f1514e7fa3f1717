using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>The operator UI over plain HTTP: sign-in, the overview, /live and acknowledging an alert.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class WebTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly WebDriver _web = new(platform.App);
    private ApiDriver Api => platform.Api;

    [Fact]
    public async Task Signed_out_pages_redirect_to_login_and_live_answers_401()
    {
        foreach (var page in new[] { "/", "/alerts" })
        {
            using var response = await _web.Http.GetAsync(page);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.StartsWith("/login", response.Headers.Location!.AbsolutePath, StringComparison.Ordinal);
        }

        using var live = await _web.Http.GetAsync("/live");
        Assert.Equal(HttpStatusCode.Unauthorized, live.StatusCode);
        var login = await _web.GetPageAsync("/login");
        Assert.Contains("Operator password", login, StringComparison.Ordinal);
        Assert.Contains("<title>Sign in · Kiln</title>", login, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_is_refused_slowly_with_a_message_and_the_right_one_signs_in_and_out()
    {
        using (var noToken = await _web.Http.PostAsync("/account/login", new FormUrlEncodedContent([KeyValuePair.Create("password", _web.OperatorPassword)])))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode); // no antiforgery token: not even looked at
        }

        var started = Stopwatch.GetTimestamp();
        using (var wrong = await _web.PostFormAsync("/login", "/account/login", ("password", _web.OperatorPassword + "x")))
        {
            Assert.True(Stopwatch.GetElapsedTime(started) >= TimeSpan.FromSeconds(0.95), $"refused after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms");
            Assert.Equal(HttpStatusCode.Redirect, wrong.StatusCode);
            Assert.False(_web.HasSessionCookie);
            Assert.Contains("Wrong password.", await _web.GetPageAsync(wrong.Headers.Location!.OriginalString), StringComparison.Ordinal);
        }

        await _web.SignInAsync();
        Assert.Contains("<h1>Overview</h1>", await _web.GetPageAsync("/"), StringComparison.Ordinal);

        using (var signOut = await _web.PostFormAsync("/", "/account/logout"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
        }

        using var after = await _web.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
    }

    [Fact]
    public async Task The_overview_lists_a_sensor_with_its_latest_value()
    {
        await Api.PutSensorAsync("kiln4.shell.temp", "kiln4");
        await Api.PostReadingsAsync(ApiDriver.Readings("kiln4.shell.temp", 3, i => 300.5 + i));
        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync("kiln4.shell.temp")).Count == 3, TimeSpan.FromSeconds(10), "the readings to be stored");

        await _web.SignInAsync();
        string row = "";
        await Eventually.TrueAsync(async () =>
        {
            var html = await _web.GetPageAsync("/");
            var at = html.IndexOf("data-sensor=\"kiln4.shell.temp\"", StringComparison.Ordinal);
            row = at < 0 ? "" : html[at..html.IndexOf("</tr>", at, StringComparison.Ordinal)];
            return row.Contains("302.5", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10), "the overview to show the latest value");
        Assert.Contains(">C<", row, StringComparison.Ordinal);
        Assert.Contains("state-ok", row, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Live_delivers_a_posted_readings_value_within_3_s()
    {
        const string sensor = "kiln4.live.temp";
        await Api.PutSensorAsync(sensor, "kiln4");
        // The 3 s are /live's, not the platform's first start: the Worker must hold its partitions already (on a platform
        // just started, its consumer group's first assignment alone can take seconds).
        var warmUp = Stopwatch.GetTimestamp();
        await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 1, _ => 1));
        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(sensor)).Count == 1, Deadline, "a first reading to be stored");
        output.WriteLine($"a first reading was stored {Stopwatch.GetElapsedTime(warmUp).TotalMilliseconds:0} ms after its POST");
        await _web.SignInAsync();

        using var stream = await _web.Http.GetAsync("/live", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var events = new SseReader(await stream.Content.ReadAsStreamAsync());
        using var deadline = new CancellationTokenSource(Deadline);
        Assert.Equal("ready", (await events.NextAsync(deadline.Token)).Event); // subscribed from here on

        var value = Math.Round(Random.Shared.NextDouble() * 1000, 3);
        var posted = Stopwatch.GetTimestamp();
        using (var response = await Api.PostReadingsAsync(new[] { new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow, value } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        using var within = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        within.CancelAfter(TimeSpan.FromSeconds(3));
        while (true)
        {
            var (name, data) = await events.NextAsync(within.Token);
            if (name != "reading")
            {
                continue;
            }

            var reading = JsonDocument.Parse(data).RootElement;
            if (reading.GetProperty("sensorId").GetString() == sensor)
            {
                Assert.Equal(value, reading.GetProperty("value").GetDouble());
                output.WriteLine($"/live delivered the value {Stopwatch.GetElapsedTime(posted).TotalMilliseconds:0} ms after the POST");
                return;
            }
        }
    }

    [Fact]
    public async Task An_open_alert_is_acknowledged_from_the_alerts_page()
    {
        const string sensor = "kiln4.ack.temp";
        using (var put = await Api.SendAsync(HttpMethod.Put, $"/api/v1/sensors/{sensor}", Api.AdminKey,
            new { site = "kiln4", kind = "temperature", unit = "C", rule = new { low = (double?)null, high = 100, hysteresis = 5 } }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        using (var response = await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 2, i => 90 + (20 * i))))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        long id = 0;
        await Eventually.TrueAsync(async () =>
        {
            var items = (await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}&state=open")).GetProperty("items");
            id = items.GetArrayLength() == 1 ? items[0].GetProperty("id").GetInt64() : 0;
            return id != 0;
        }, Deadline, "the alert to open");

        await _web.SignInAsync();
        var page = await _web.GetPageAsync("/alerts");
        Assert.Contains($"action=\"alerts/{id}/acknowledge\"", page, StringComparison.Ordinal);

        using (var forged = await _web.Http.PostAsync($"/alerts/{id}/acknowledge", new FormUrlEncodedContent([])))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode); // a form without the token changes nothing
        }

        using (var acknowledge = await _web.PostFormAsync("/alerts", $"/alerts/{id}/acknowledge"))
        {
            Assert.Equal(HttpStatusCode.Redirect, acknowledge.StatusCode);
            Assert.Equal($"/alerts?acknowledged={id}", acknowledge.Headers.Location?.OriginalString);
        }

        var alert = (await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}")).GetProperty("items")[0];
        Assert.Equal("acknowledged", alert.GetProperty("state").GetString());
        Assert.Equal("operator", alert.GetProperty("acknowledgedBy").GetString());
        var after = await _web.GetPageAsync($"/alerts?acknowledged={id}");
        Assert.Contains($"Alert {id} acknowledged.", after, StringComparison.Ordinal);
        Assert.DoesNotContain($"action=\"alerts/{id}/acknowledge\"", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sensor_page_draws_the_last_hour_with_its_rule_and_alert_history()
    {
        const string sensor = "kiln4.chart.temp";
        using (var put = await Api.SendAsync(HttpMethod.Put, $"/api/v1/sensors/{sensor}", Api.AdminKey,
            new { site = "kiln4", kind = "temperature", unit = "C", rule = new { low = (double?)null, high = 100, hysteresis = 5 } }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        using (var response = await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 120, i => i < 100 ? 50 + (i % 7) : 130)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await _web.SignInAsync();
        var html = "";
        await Eventually.TrueAsync(async () =>
        {
            html = await _web.GetPageAsync($"/sensors/{sensor}");
            return html.Contains("data-alert=", StringComparison.Ordinal) && PolylinePoints(html) >= 2;
        }, Deadline, "the chart to have its minutes and the history its alert");

        Assert.Contains("<svg class=\"chart\"", html, StringComparison.Ordinal);
        Assert.Contains("class=\"threshold\"", html, StringComparison.Ordinal); // the high threshold's line
        Assert.Contains("<dt>High</dt><dd>100</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<td data-label=\"State\">open</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_range_picker_draws_longer_ranges_from_hour_and_day_rollups()
    {
        const string sensor = "kiln4.range.temp";
        using (var put = await Api.PutSensorAsync(sensor, "kiln4"))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        // One reading every 30 minutes over three days: 1-hour buckets hold two each, 1-day buckets up to 48.
        var newest = DateTimeOffset.UtcNow.AddMinutes(-1);
        var readings = Enumerable.Range(0, 145).Select(i => new { sensorId = sensor, timestamp = newest.AddMinutes(-30 * i), value = 40.0 + (i % 5) }).ToArray();
        using (var response = await Api.PostReadingsAsync(readings))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(sensor)).Count == readings.Length, Deadline, "every reading to be stored");
        var hours = readings.Select(r => r.timestamp.UtcDateTime.Date.AddHours(r.timestamp.UtcDateTime.Hour)).Distinct().Count();
        var days = readings.Select(r => r.timestamp.UtcDateTime.Date).Distinct().Count();
        await _web.SignInAsync();

        foreach (var (range, points, title) in new[] { ("1h", 2, "Last hour"), ("24h", 48, "Last 24 hours"), ("7d", hours, "Last 7 days"), ("30d", days, "Last 30 days") })
        {
            var html = await _web.GetPageAsync($"/sensors/{sensor}?range={range}");
            Assert.Contains($"<h2 id=\"chart-title\">{title}", html, StringComparison.Ordinal);
            Assert.Contains($"href=\"sensors/{sensor}?range={range}\" aria-current=\"page\"", html, StringComparison.Ordinal);
            Assert.InRange(PolylinePoints(html), points - 1, points + 1); // the newest bucket may hold the range's edge or not
        }

        // A range the page does not offer is the last hour, not an error.
        Assert.Contains("<h2 id=\"chart-title\">Last hour", await _web.GetPageAsync($"/sensors/{sensor}?range=1y"), StringComparison.Ordinal);
    }

    private static int PolylinePoints(string page)
    {
        const string marker = "<polyline class=\"avg\" points=\"";
        var at = page.IndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? 0 : page[(at + marker.Length)..page.IndexOf('"', at + marker.Length)].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    [Fact]
    public async Task With_the_api_stopped_pages_render_a_banner_and_recover_when_it_is_back()
    {
        await _web.SignInAsync();
        await platform.App.StopResourceAsync("api");
        try
        {
            foreach (var page in new[] { "/", "/alerts" })
            {
                var started = Stopwatch.GetTimestamp();
                var html = await _web.GetPageAsync(page);
                output.WriteLine($"{page} with the Api stopped rendered in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms");
                Assert.Contains("data-api-down", html, StringComparison.Ordinal);
                Assert.Contains("The Api cannot be reached", html, StringComparison.Ordinal);
                Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(10), "the banner took longer than a page may");
            }
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("api", deadline.Token);
        }

        // The page needs nothing from the operator to recover: the next render (the banner reloads it) is whole again.
        await Eventually.TrueAsync(async () => !(await _web.GetPageAsync("/")).Contains("data-api-down", StringComparison.Ordinal),
            Deadline, "the overview to render without the banner");
        Assert.DoesNotContain("data-api-down", await _web.GetPageAsync("/alerts"), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _web.Dispose();
        platform.WriteLogs(output);
    }

    /// <summary>Server-Sent Events, one event at a time: its <c>event:</c> name and its <c>data:</c>.</summary>
    private sealed class SseReader(Stream stream) : IDisposable
    {
        private readonly StreamReader _reader = new(stream);

        public async Task<(string Event, string Data)> NextAsync(CancellationToken cancellationToken)
        {
            string name = "message", data = "";
            while (await _reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Length > 0)
                    {
                        return (name, data);
                    }

                    continue;
                }

                if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    name = line[6..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data += line[5..].TrimStart();
                }
            }

            throw new EndOfStreamException("the /live stream ended");
        }

        public void Dispose() => _reader.Dispose();
    }
}
