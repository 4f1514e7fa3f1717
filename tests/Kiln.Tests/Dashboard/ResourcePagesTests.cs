using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kiln.Dashboard.ResourceService;
using Kiln.Dashboard.ResourceService.V1;
using Microsoft.Extensions.DependencyInjection;
using Resource = Kiln.Dashboard.ResourceService.V1.Resource;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The Resources and Console logs pages and <c>/api/resources</c> over HTTP, with the catalog fed by hand the updates a
/// resource service sends (the platform tests feed it from the real AppHost). The dashboard is pointed at a resource
/// service that is not there, so that it shows the pages of a dashboard with an AppHost.
/// </summary>
public sealed class ResourcePagesTests : IAsyncLifetime
{
    private const string Secret = "s3cret-Password-value";
    private TestDashboard _dashboard = null!;

    public async Task InitializeAsync() =>
        _dashboard = await TestDashboard.StartAsync(new Dictionary<string, string?> { ["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = "http://127.0.0.1:9" });

    public async Task DisposeAsync() => await _dashboard.DisposeAsync();

    private ResourceCatalog Catalog => _dashboard.App.App.Services.GetRequiredService<ResourceCatalog>();

    [Fact]
    public async Task Api_resources_answers_what_the_resource_service_said_and_follows_its_changes()
    {
        Catalog.Apply(Snapshot());
        using var api = _dashboard.ApiClient();
        using (var document = JsonDocument.Parse(await api.GetStringAsync("/api/resources")))
        {
            var resources = document.RootElement.EnumerateArray().ToList();
            Assert.Equal(["pg", "web"], resources.Select(r => r.GetProperty("name").GetString()));
            Assert.Equal(["name", "type", "state", "health", "urls", "pid", "restarts"], resources[1].EnumerateObject().Select(p => p.Name));
            var web = resources[1];
            Assert.Equal(("Project", "Running", "Healthy", 4242, 1), (web.GetProperty("type").GetString(), web.GetProperty("state").GetString(),
                web.GetProperty("health").GetString(), web.GetProperty("pid").GetInt32(), web.GetProperty("restarts").GetInt32()));
            Assert.Equal(["http://localhost:5005"], web.GetProperty("urls").EnumerateArray().Select(u => u.GetString()));
        }

        // A change replaces the resource whole; a deletion removes it.
        var stopped = Web();
        stopped.State = "Exited";
        stopped.HealthStatus = HealthStatus.Unknown;
        stopped.ClearProcessId();
        var changes = new WatchResourcesChanges();
        changes.Value.Add(new WatchResourcesChange { Upsert = stopped });
        changes.Value.Add(new WatchResourcesChange { Delete = new ResourceDeletion { ResourceName = "pg" } });
        Catalog.Apply(new WatchResourcesUpdate { Changes = changes });
        using (var document = JsonDocument.Parse(await api.GetStringAsync("/api/resources")))
        {
            var web = Assert.Single(document.RootElement.EnumerateArray());
            Assert.Equal("Exited", web.GetProperty("state").GetString());
            Assert.Equal(JsonValueKind.Null, web.GetProperty("health").ValueKind);
            Assert.Equal(JsonValueKind.Null, web.GetProperty("pid").ValueKind);
        }
    }

    [Fact]
    public async Task The_pages_refuse_a_caller_without_the_login_cookie()
    {
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _dashboard.App.FrontendUrl };
        foreach (var path in new[] { "/", "/resources/web", "/consolelogs", "/consolelogs/resource/web", "/consolelogs/resource/web/stream", "/resources/events", "/js/live.js" })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location!.PathAndQuery.StartsWith("/login", StringComparison.Ordinal),
                $"{path} answered {(int)response.StatusCode} {response.Headers.Location}");
        }

        using var post = await anonymous.PostAsync("/resources/web/commands/stop", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
    }

    [Fact]
    public async Task The_resources_page_shows_state_with_health_endpoints_commands_and_the_graph_and_a_secret_only_on_request()
    {
        Catalog.Apply(Snapshot());
        using var browser = await LoggedInAsync();
        var home = await browser.GetStringAsync("/");
        Assert.Contains("data-resource=\"web\" data-state=\"Running\" data-health=\"Healthy\"", home, StringComparison.Ordinal);
        Assert.Contains("Waiting for pg", await browser.GetStringAsync("/"), StringComparison.Ordinal); // pg's state text, as sent
        Assert.Contains("<a href=\"http://localhost:5005\"", home, StringComparison.Ordinal);
        Assert.Contains("action=\"/resources/web/commands/stop\"", home, StringComparison.Ordinal);
        Assert.Matches(new Regex("<path class=\"edge waitfor\" data-from=\"web\" data-to=\"pg\""), home);
        Assert.DoesNotContain(Secret, home, StringComparison.Ordinal);

        var details = await browser.GetStringAsync("/resources/web");
        Assert.Contains("ConnectionStrings__kilndb", details, StringComparison.Ordinal);
        Assert.Contains("ASPNETCORE_ENVIRONMENT", details, StringComparison.Ordinal);
        Assert.Contains("Development", details, StringComparison.Ordinal); // not secret: shown
        Assert.DoesNotContain(Secret, details, StringComparison.Ordinal); // secret: not in the page until asked for
        Assert.Contains("database reachable", details, StringComparison.Ordinal); // a health report

        var revealed = await browser.GetStringAsync("/resources/web?reveal=ConnectionStrings__kilndb");
        Assert.Contains(Secret, revealed, StringComparison.Ordinal);
        Assert.Contains("id=\"hide-ConnectionStrings__kilndb\"", revealed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_without_the_antiforgery_token_is_refused_with_problem_details()
    {
        Catalog.Apply(Snapshot());
        using var browser = await LoggedInAsync();
        using var response = await browser.PostAsync("/resources/web/commands/stop", new FormUrlEncodedContent([new("returnUrl", "/")]));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("antiforgery", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);

        // With the page's token the command goes through to the AppHost (absent here), and its failure is shown on the page.
        var page = await browser.GetStringAsync("/resources/web");
        var token = Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(token);
        using var sent = await browser.PostAsync("/resources/web/commands/stop",
            new FormUrlEncodedContent([new("__RequestVerificationToken", token), new("returnUrl", "/resources/web")]));
        Assert.Equal(HttpStatusCode.Redirect, sent.StatusCode);
        Assert.StartsWith("/resources/web?result=failed&message=", sent.Headers.Location!.OriginalString, StringComparison.Ordinal);
        var shown = await browser.GetStringAsync(sent.Headers.Location!.OriginalString);
        Assert.Contains("role=\"status\" class=\"error command-result\">The AppHost did not run stop on web", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_standalone_dashboard_says_it_has_no_resources()
    {
        await using var alone = await TestDashboard.StartAsync();
        using var browser = await LoggedInAsync(alone);
        Assert.Contains("id=\"standalone\"", await browser.GetStringAsync("/"), StringComparison.Ordinal);
        var stream = await browser.GetStringAsync("/consolelogs/resource/web/stream");
        Assert.Contains("event: ended", stream, StringComparison.Ordinal);
    }

    private Task<HttpClient> LoggedInAsync() => LoggedInAsync(_dashboard);

    private static async Task<HttpClient> LoggedInAsync(TestDashboard dashboard)
    {
        var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = dashboard.App.FrontendUrl };
        using var login = await browser.GetAsync(dashboard.App.LoginUrl.PathAndQuery);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        return browser;
    }

    private static WatchResourcesUpdate Snapshot()
    {
        var pg = new Resource { Name = "pg", DisplayName = "pg", ResourceType = "Executable", State = "Waiting", StateText = "Waiting for pg", StateStyle = "info" };
        pg.Urls.Add(new Url { EndpointName = "tcp", FullUrl = "tcp://127.0.0.1:5432" });
        var initial = new InitialResourceData();
        initial.Resources.Add(Web());
        initial.Resources.Add(pg);
        return new WatchResourcesUpdate { InitialData = initial };
    }

    private static Resource Web()
    {
        var web = new Resource
        {
            Name = "web", DisplayName = "web", ResourceType = "Project", State = "Running", StateText = "Running", StateStyle = "success",
            HealthStatus = HealthStatus.Healthy, ProcessId = 4242, Restarts = 1,
            StartedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow),
        };
        web.Urls.Add(new Url { EndpointName = "http", FullUrl = "http://localhost:5005" });
        web.Environment.Add(new EnvironmentVariable { Name = "ASPNETCORE_ENVIRONMENT", Value = "Development" });
        web.Environment.Add(new EnvironmentVariable { Name = "ConnectionStrings__kilndb", Value = $"Host=127.0.0.1;Password={Secret}", IsSecret = true });
        web.HealthReports.Add(new HealthReport { Key = "postgres", Status = HealthStatus.Healthy, Description = "database reachable" });
        web.Relationships.Add(new ResourceRelationship { ResourceName = "pg", Type = "WaitFor" });
        web.Relationships.Add(new ResourceRelationship { ResourceName = "pg", Type = "Reference" });
        foreach (var (name, state) in new[] { ("start", ResourceCommandState.Disabled), ("stop", ResourceCommandState.Enabled), ("restart", ResourceCommandState.Enabled) })
        {
            web.Commands.Add(new ResourceCommand { Name = name, DisplayName = char.ToUpperInvariant(name[0]) + name[1..], State = state });
        }

        return web;
    }
}
