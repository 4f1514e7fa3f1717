using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kiln.Tests.ServiceDefaults;

/// <summary>
/// An HttpClient from a service with ServiceDefaults reaches another service by name and rides out
/// transient failures, against a real Kestrel server on loopback.
/// </summary>
public sealed class HttpClientDefaultsTests : IAsyncLifetime
{
    private WebApplication _server = null!;
    private int _flakyCalls;
    private int _badCalls;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.MapGet("/flaky", (HttpContext context) =>
        {
            // Fails twice, asking for a short Retry-After, then answers.
            if (Interlocked.Increment(ref _flakyCalls) <= 2)
            {
                context.Response.Headers.RetryAfter = "0";
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }

            return Results.Text("ok");
        });
        _server.MapGet("/bad", () =>
        {
            Interlocked.Increment(ref _badCalls);
            return Results.BadRequest();
        });
        await _server.StartAsync();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private HttpClient ClientForService()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["services:backend:http:0"] = _server.Urls.Single();
        builder.AddServiceDefaults();
        builder.Services.AddHttpClient("backend", http => http.BaseAddress = new Uri("https+http://backend"));
        var host = builder.Build();
        return host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("backend");
    }

    [Fact]
    public async Task A_service_name_resolves_and_transient_failures_are_retried()
    {
        using var client = ClientForService();
        Assert.Equal("ok", await client.GetStringAsync("/flaky"));
        Assert.Equal(3, _flakyCalls);
    }

    [Fact]
    public async Task A_client_error_is_not_retried()
    {
        using var client = ClientForService();
        using var response = await client.GetAsync("/bad");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, _badCalls);
    }
}
