using Kiln.ServiceDefaults;
using Kiln.Shared;
using Kiln.Worker.Ingestion;

namespace Kiln.Worker.Extensions;

internal static class LatestValueExtensions
{
    /// <summary>
    /// Redis for latest values, as derived state that never holds up storage: the client without its usual health
    /// check (Unhealthy when Redis is down), and instead one of the same name that says Degraded while latest values
    /// wait for repair; the repair loop; the metrics of both.
    /// </summary>
    public static void AddLatestValueCache(this IHostApplicationBuilder builder)
    {
        builder.AddRedisClient(Topology.Resources.Cache, settings => settings.DisableHealthChecks = true);

        var options = LatestValueOptions.From(builder.Configuration);
        builder.Services.AddSingleton(options);
        // A replica that starts does not know what it skipped before it stopped: it checks every sensor once.
        builder.Services.AddSingleton(new StaleSensors(options.StaleSensorCapacity, everySensor: true));
        builder.Services.AddSingleton<LatestValueWriter>();
        builder.Services.AddSingleton<LatestReadings>();
        builder.Services.AddSingleton<LatestValueMetrics>();
        builder.Services.AddSingleton<LatestValueCache>();
        builder.Services.AddHostedService<LatestValueRepair>();
        builder.Services.AddHealthChecks().AddCheck<LatestValueCache>(Topology.Resources.Cache, tags: [HealthEndpoints.ReadyTag]);
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(LatestValueMetrics.MeterName));
    }
}
