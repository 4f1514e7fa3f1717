using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Kiln.Tests.ServiceDefaults;

/// <summary>
/// A service with ServiceDefaults exports traces, metrics and logs over OTLP/HTTP when the AppHost's
/// OTEL variables say where, to a real receiver on loopback. The receiver keeps raw protobuf bodies;
/// names are UTF-8 strings inside them, which is all these checks need.
/// </summary>
public sealed class TelemetryExportTests : IAsyncLifetime
{
    private const string ApiKey = "test-otlp-key";
    private readonly ConcurrentQueue<(string Path, string? Key, string ContentType, byte[] Body)> _received = new();
    private WebApplication _receiver = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _receiver = builder.Build();
        _receiver.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            _received.Enqueue((context.Request.Path, context.Request.Headers["x-otlp-api-key"].ToString(), context.Request.ContentType ?? "", body.ToArray()));
            return Results.Ok();
        });
        await _receiver.StartAsync();
    }

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    [Fact]
    public async Task Traces_metrics_and_logs_reach_the_otlp_endpoint_and_health_probes_are_left_out()
    {
        await using var app = ServiceExportingHere(
            ("OTEL_EXPORTER_OTLP_HEADERS", $"x-otlp-api-key={ApiKey}"),
            ("OTEL_SERVICE_NAME", "otel-probe-service"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"));
        app.MapDefaultEndpoints();
        app.MapGet("/ping/{id}", (string id, ILoggerFactory logs) =>
        {
            logs.CreateLogger("Probe").LogWarning("ping {Id} answered", id);
            return "pong";
        });
        await app.StartAsync();

        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
        await http.GetStringAsync("/health");
        await http.GetStringAsync("/ping/7");

        // Export now rather than when the SDK's timers next fire: those run on threads of their own that a
        // busy test process may not schedule within any fixed deadline (this test once waited 15 s for a
        // metric on a loaded CI machine). What is under test is where and how the data goes, not when.
        // The server span ends just after the response is sent, and each signal's export is received on its own
        // request: flush until all three are there (CI once found the span but not yet the log record).
        await Eventually.TrueAsync(() => Flush(app.Services) && Contains("/v1/traces", "GET /ping/{id}"), TimeSpan.FromSeconds(15), "the request's span to be exported");
        await Eventually.TrueAsync(() => Flush(app.Services) && Contains("/v1/logs", "answered"), TimeSpan.FromSeconds(15), "the log record to be exported");
        await Eventually.TrueAsync(() => Flush(app.Services) && Contains("/v1/metrics", "http.server.request.duration"), TimeSpan.FromSeconds(15),
            "the request metric to be exported");

        Assert.All(_received, r => Assert.Equal(ApiKey, r.Key));
        Assert.All(_received, r => Assert.Equal("application/x-protobuf", r.ContentType));
        Assert.True(Contains("/v1/traces", "otel-probe-service"), "spans carry the service name");
        Assert.False(Contains("/v1/traces", "GET /health"), "health probes are not traced");
        await app.StopAsync();
    }

    [Fact]
    public async Task A_service_stops_promptly_and_its_last_log_record_still_arrives()
    {
        var app = ServiceExportingHere(("OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY", "in_memory"));
        await app.StartAsync();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Probe");

        // A first export makes the exporter create its HttpClient while the service runs, as the AppHost's
        // one-second batch delay does; the final flush at disposal then goes through that same client.
        log.LogWarning("first words");
        Assert.True(app.Services.GetRequiredService<LoggerProvider>().ForceFlush(5_000), "the first log record is exported");
        log.LogWarning("last words");

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await app.DisposeAsync();

        // Disposal once waited out the provider's 5 s shutdown timeout retrying into a disposed pipeline.
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(2), $"stopped in {stopping.Elapsed}");
        Assert.True(Contains("/v1/logs", "last words"), "the record logged just before shutdown is exported");
    }

    /// <summary>A service with ServiceDefaults, told by the OTEL variables to export to this test's receiver over OTLP/HTTP.</summary>
    private WebApplication ServiceExportingHere(params (string Name, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = _receiver.Urls.Single();
        builder.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        foreach (var (name, value) in settings)
        {
            builder.Configuration[name] = value;
        }

        builder.AddServiceDefaults();
        return builder.Build();
    }

    /// <summary>Collects and exports every signal synchronously; true when all three exports succeeded.</summary>
    private static bool Flush(IServiceProvider services) =>
        services.GetRequiredService<TracerProvider>().ForceFlush(5_000)
        & services.GetRequiredService<MeterProvider>().ForceFlush(5_000)
        & services.GetRequiredService<LoggerProvider>().ForceFlush(5_000);

    private bool Contains(string path, string text)
    {
        var needle = Encoding.UTF8.GetBytes(text);
        return _received.Any(r => r.Path == path && r.Body.AsSpan().IndexOf(needle) >= 0);
    }
}
