using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Kiln.ServiceDefaults.Telemetry;

/// <summary>
/// Without OpenTelemetry.Extensions.Hosting nothing resolves the providers, and a provider that is
/// never built records nothing. Resolving them at start makes the SDK listen from the first request;
/// the container disposes (and so flushes) them when the host stops.
/// </summary>
internal sealed class TelemetryProvidersStarter(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetService<TracerProvider>();
        services.GetService<MeterProvider>();
        services.GetService<LoggerProvider>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
