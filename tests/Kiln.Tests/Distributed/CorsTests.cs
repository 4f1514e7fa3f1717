using System.Net;
using Kiln.AppHost.Resources;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>CORS: the Web's origin, as the AppHost hands it to the Api, may call the Api from a browser; no other origin may.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class CorsTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private ApiDriver Api => platform.Api;

    private string WebOrigin => platform.App.Resource<ProjectResource>("web").Urls[0].ToString().TrimEnd('/');

    [Fact]
    public void The_api_is_handed_the_web_origin()
    {
        var api = platform.App.Resource<ProjectResource>("api");
        foreach (var replica in api.RunningReplicas)
        {
            Assert.Equal(WebOrigin, api.EnvironmentFor(replica, platform.App.Context)["Kiln__Cors__Origins__0"]);
        }
    }

    [Theory]
    [InlineData("GET", "/api/v1/sensors")]
    [InlineData("POST", "/api/v1/readings")]
    [InlineData("PUT", "/api/v1/sensors/kiln1.burner.temp")]
    [InlineData("DELETE", "/api/v1/keys/00000000-0000-0000-0000-000000000000")]
    public async Task A_preflight_from_the_web_origin_is_allowed_on_every_replica_without_a_key(string method, string path)
    {
        foreach (var replica in Api.Replicas)
        {
            using var response = await PreflightAsync(path, WebOrigin, method, "x-api-key,content-type", replica);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Equal(WebOrigin, Header(response, "Access-Control-Allow-Origin"));
            Assert.Contains(method, Header(response, "Access-Control-Allow-Methods"), StringComparison.Ordinal);
            var allowedHeaders = Header(response, "Access-Control-Allow-Headers")!.ToLowerInvariant();
            Assert.Contains("x-api-key", allowedHeaders, StringComparison.Ordinal);
            Assert.Contains("content-type", allowedHeaders, StringComparison.Ordinal);
            Assert.Null(Header(response, "Access-Control-Allow-Credentials"));
            Assert.Equal("600", Header(response, "Access-Control-Max-Age"));
            // Answered before authentication and rate limiting: neither a 401 nor a rate-limit count.
            Assert.Null(Header(response, "RateLimit-Limit"));
        }
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData("http://localhost")] // the Web's host on another port is another origin
    [InlineData("null")]
    public async Task Another_origin_gets_no_cors_headers(string origin)
    {
        using (var preflight = await PreflightAsync("/api/v1/sensors", origin, "GET", "x-api-key"))
        {
            Assert.Null(Header(preflight, "Access-Control-Allow-Origin"));
            Assert.Null(Header(preflight, "Access-Control-Allow-Headers"));
        }

        using var response = await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors", Api.ReadKey, headers: [("Origin", origin)]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // CORS is the browser's to enforce; the Api only withholds the permission
        Assert.Null(Header(response, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task A_preflight_asking_for_a_header_the_api_does_not_read_gets_no_permission_for_it()
    {
        // The browser compares what it asked for with Access-Control-Allow-Headers and refuses the call when one is missing.
        using var response = await PreflightAsync("/api/v1/sensors", WebOrigin, "GET", "x-api-key,authorization");
        Assert.DoesNotContain("authorization", Header(response, "Access-Control-Allow-Headers") ?? "", StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Answers_to_the_web_origin_expose_the_rate_limit_and_retry_headers_errors_included()
    {
        using (var ok = await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors?limit=1", Api.ReadKey, headers: [("Origin", WebOrigin)]))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal(WebOrigin, Header(ok, "Access-Control-Allow-Origin"));
            var exposed = Header(ok, "Access-Control-Expose-Headers")!.Split(',', StringSplitOptions.TrimEntries);
            Assert.Subset(new HashSet<string>(exposed, StringComparer.OrdinalIgnoreCase),
                new HashSet<string>(["Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"], StringComparer.OrdinalIgnoreCase));
        }

        // A 401 is answered by authentication, after CORS: the page can read why it was refused.
        using var refused = await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors", key: null, headers: [("Origin", WebOrigin)]);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(WebOrigin, Header(refused, "Access-Control-Allow-Origin"));
    }

    private async Task<HttpResponseMessage> PreflightAsync(string path, string origin, string method, string headers, Uri? replica = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, replica is null ? new Uri(path, UriKind.Relative) : new Uri(replica, path));
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return await Api.SendAsync(request, TimeSpan.FromSeconds(20));
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    public void Dispose() => platform.WriteLogs(output);
}
