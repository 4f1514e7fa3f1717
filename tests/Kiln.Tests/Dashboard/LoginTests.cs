using System.Net;
using Kiln.Dashboard.Authentication;
using Kiln.Dashboard.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kiln.Tests.Dashboard;

/// <summary>The browser token logs a browser in (a cookie); every page refuses anyone else by sending them to the login page.</summary>
public sealed class LoginTests : IAsyncLifetime
{
    private TestDashboard _dashboard = null!;

    public async Task InitializeAsync() => _dashboard = await TestDashboard.StartAsync();

    public async Task DisposeAsync() => await _dashboard.DisposeAsync();

    [Fact]
    public async Task The_login_url_sets_a_cookie_that_opens_the_pages_and_nothing_else_does()
    {
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = _dashboard.App.FrontendUrl };

        using (var signedOut = await browser.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
            Assert.StartsWith("/login", signedOut.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        }

        using (var page = await browser.GetAsync("/login"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("dashboard  http://…/login?t=…", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal); // where the URL is printed
        }

        using (var wrong = await browser.GetAsync($"/login?t={_dashboard.BrowserToken[..^1]}"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.Empty(cookies.GetCookies(_dashboard.App.FrontendUrl));
        }

        using (var login = await browser.GetAsync(_dashboard.App.LoginUrl.PathAndQuery))
        {
            Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
            Assert.Equal("/", login.Headers.Location!.OriginalString);
            var cookie = Assert.Single(cookies.GetCookies(_dashboard.App.FrontendUrl));
            Assert.Equal(DashboardPolicies.CookieName, cookie.Name);
            Assert.True(cookie.HttpOnly);
        }

        using (var home = await browser.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.OK, home.StatusCode);
            var html = await home.Content.ReadAsStringAsync();
            Assert.Contains("Kiln dashboard", html, StringComparison.Ordinal);
            Assert.Contains("href=\"/dashboard.css\"", html, StringComparison.Ordinal);
        }

        using (var css = await browser.GetAsync("/dashboard.css"))
        {
            Assert.Equal(HttpStatusCode.OK, css.StatusCode);
            Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
        }

        // The cookie is for pages: the HTTP API still wants its key.
        using var api = await browser.GetAsync("/api/telemetry/spans");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
    }

    [Fact]
    public void Settings_bind_loopback_only_and_generate_what_is_missing()
    {
        Assert.Throws<DashboardConfigurationException>(() => DashboardOptions.LoopbackEndpoint("ASPNETCORE_URLS", "http://0.0.0.0:18888"));
        Assert.Throws<DashboardConfigurationException>(() => DashboardOptions.LoopbackEndpoint("ASPNETCORE_URLS", "https://localhost:18888"));
        Assert.Equal(18888, DashboardOptions.LoopbackEndpoint("ASPNETCORE_URLS", "http://localhost:18888").Port);

        var defaults = DashboardOptions.Read(new ConfigurationBuilder().Build());
        Assert.Equal((18888, 18889, 18890), (defaults.FrontendEndpoint.Port, defaults.OtlpGrpcEndpoint.Port, defaults.OtlpHttpEndpoint.Port));
        Assert.All(new[] { defaults.OtlpAccess, defaults.FrontendAccess, defaults.ApiAccess }, access =>
        {
            Assert.True(access.Generated);
            Assert.Matches("^[A-Za-z0-9]{32}$", access.PrimaryKey);
        });

        var unsecured = DashboardOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Dashboard:Otlp:AuthMode"] = "Unsecured",
            ["Dashboard:Api:AuthMode"] = "ApiKey",
            ["Dashboard:Api:PrimaryApiKey"] = "given",
        }).Build());
        Assert.Equal(AuthMode.Unsecured, unsecured.OtlpAccess.Mode);
        Assert.Equal(["given"], unsecured.ApiAccess.Keys);
        Assert.False(unsecured.ApiAccess.Generated);
        Assert.Throws<DashboardConfigurationException>(() => DashboardOptions.Read(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Dashboard:Frontend:AuthMode"] = "ApiKey" }).Build()));
    }
}
