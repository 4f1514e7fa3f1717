using System.Net;
using System.Text.Json;
using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Provisioning;
using Kiln.AppHost.Resources;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>The OpenAPI document (always) and its browsable reference page (Development only), from the running Api.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class OpenApiTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    /// <summary>Every endpoint the Api answers at, with the key scope it needs.</summary>
    public static TheoryData<string, string, string> Endpoints => new()
    {
        { "put", "/api/v1/sensors/{id}", "sensors" },
        { "get", "/api/v1/sensors", "read" },
        { "get", "/api/v1/sensors/{id}", "read" },
        { "get", "/api/v1/sensors/{id}/latest", "read" },
        { "get", "/api/v1/sensors/{id}/readings", "read" },
        { "get", "/api/v1/sensors/{id}/rollups", "read" },
        { "post", "/api/v1/readings", "ingest" },
        { "post", "/api/v1/keys", "admin" },
        { "get", "/api/v1/keys", "admin" },
        { "get", "/api/v1/keys/{id}", "admin" },
        { "delete", "/api/v1/keys/{id}", "admin" },
        { "get", "/api/v1/alerts", "read" },
        { "get", "/api/v1/alerts/{id}", "read" },
        { "post", "/api/v1/alerts/{id}/acknowledge", "admin" },
    };

    private static readonly string[] EveryKeyedEndpointMayAnswer = ["401", "403", "429", "503"];

    private ApiDriver Api => platform.Api;

    [Fact]
    public async Task The_document_describes_the_key_scheme()
    {
        var document = await DocumentAsync();
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("apiKey", scheme.GetProperty("type").GetString());
        Assert.Equal("header", scheme.GetProperty("in").GetString());
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());
    }

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task The_document_lists_each_endpoint_with_its_scope_and_problem_answers(string method, string path, string scope)
    {
        var document = await DocumentAsync();
        Assert.True(document.GetProperty("paths").TryGetProperty(path, out var item), $"{path} is not in the document");
        Assert.True(item.TryGetProperty(method, out var operation), $"{method.ToUpperInvariant()} {path} is not in the document");

        var requirement = Assert.Single(operation.GetProperty("security").EnumerateArray());
        Assert.Equal([scope], requirement.GetProperty("ApiKey").EnumerateArray().Select(s => s.GetString()));

        var responses = operation.GetProperty("responses");
        Assert.Contains(responses.EnumerateObject(), r => r.Name.StartsWith('2'));
        foreach (var status in EveryKeyedEndpointMayAnswer.Concat(method is "get" && path.Contains('{', StringComparison.Ordinal) ? ["404"] : []))
        {
            Assert.True(responses.TryGetProperty(status, out var problem), $"{method.ToUpperInvariant()} {path} does not list {status}");
            Assert.True(problem.GetProperty("content").TryGetProperty("application/problem+json", out _), $"{status} of {path} is not problem details");
        }
    }

    [Fact]
    public async Task Every_documented_operation_under_the_api_needs_a_key()
    {
        foreach (var path in (await DocumentAsync()).GetProperty("paths").EnumerateObject().Where(p => p.Name.StartsWith("/api/", StringComparison.Ordinal)))
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                Assert.True(operation.Value.TryGetProperty("security", out _), $"{operation.Name.ToUpperInvariant()} {path.Name} names no key scheme");
                Assert.True(operation.Value.GetProperty("responses").TryGetProperty("401", out _), $"{operation.Name.ToUpperInvariant()} {path.Name} does not list 401");
            }
        }
    }

    [Fact]
    public async Task In_development_the_reference_page_is_served_from_the_api_itself_with_a_policy_for_its_path_only()
    {
        using var http = new HttpClient { BaseAddress = Api.BaseAddress };
        using var page = await http.GetAsync("/scalar/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();

        // Every script the page loads comes from the Api, not a CDN: the page works without the internet.
        var scripts = System.Text.RegularExpressions.Regex.Matches(html, "<script[^>]*src=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(scripts);
        foreach (var script in scripts)
        {
            Assert.False(Uri.TryCreate(script, UriKind.Absolute, out _), $"the page loads {script} from elsewhere");
            using var asset = await http.GetAsync(new Uri(page.RequestMessage!.RequestUri!, script));
            Assert.True(asset.StatusCode == HttpStatusCode.OK, $"{script} answered {(int)asset.StatusCode}");
        }

        Assert.Contains("\"withDefaultFonts\":false", html, StringComparison.Ordinal); // the fonts would come from a CDN
        Assert.Contains("\"telemetry\":false", html, StringComparison.Ordinal);
        Assert.Contains("openapi/v1.json", html, StringComparison.Ordinal);

        // Its policy lets our scripts and its one inline script run, and nothing from elsewhere; frames and the rest stay refused.
        var policy = Assert.Single(page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Matches("script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)", policy);
        Assert.DoesNotContain("unsafe-eval", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("http", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(page.Headers.GetValues("X-Content-Type-Options")));

        // Everywhere else the Api's own policy holds.
        using var other = await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors?limit=1", Api.ReadKey);
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", Assert.Single(other.Headers.GetValues("Content-Security-Policy")));
    }

    [Fact]
    public async Task Outside_development_the_document_is_served_and_the_reference_page_is_not()
    {
        // One more Api process beside the platform's, as the AppHost would start a replica but with ASPNETCORE_ENVIRONMENT=Production.
        var project = platform.App.Resource<ProjectResource>("api");
        var url = new Uri($"http://localhost:{PortAllocator.Next()}");
        var environment = project.EnvironmentFor(project.RunningReplicas[0], platform.App.Context);
        environment["ASPNETCORE_URLS"] = url.ToString().TrimEnd('/');
        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        environment.Remove("DOTNET_LAUNCH_PROFILE");
        var spec = new ProcessSpec(DotnetHost.Path, ["exec", project.AssemblyPath])
        {
            Environment = environment,
            NotInherited = ProjectResource.NotInherited,
            WorkingDirectory = Path.GetDirectoryName(project.AssemblyPath),
        };
        var log = platform.App.Context.LogFor("api-production");
        var process = await ChildProcess.StartAsync(spec, log, platform.App.Context.Processes);
        try
        {
            await HealthProbe.WaitForHttpHealthyAsync("api-production", new Uri(url, "/health"), process.Exited, TimeSpan.FromSeconds(60), CancellationToken.None);
            await Eventually.TrueAsync(() => log.Snapshot().Any(line => line.Contains("Hosting environment: Production", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(10), "the Api to say it runs as Production");

            using var http = new HttpClient { BaseAddress = url };
            using (var document = await http.GetAsync("/openapi/v1.json"))
            {
                Assert.Equal(HttpStatusCode.OK, document.StatusCode);
            }

            foreach (var path in new[] { "/scalar", "/scalar/", "/scalar/scalar.js" })
            {
                using var response = await http.GetAsync(path);
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path} answered {(int)response.StatusCode} in Production");
                Assert.Equal("default-src 'none'; frame-ancestors 'none'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
            }
        }
        finally
        {
            await process.StopAsync(TimeSpan.FromSeconds(15));
        }
    }

    private async Task<JsonElement> DocumentAsync()
    {
        using var http = new HttpClient { BaseAddress = Api.BaseAddress };
        using var response = await http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public void Dispose() => platform.WriteLogs(output);
}
