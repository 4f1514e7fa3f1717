using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Kiln.ServiceDefaults;

/// <summary>
/// What the settings of every client registration (<c>AddNpgsqlDataSource</c>, <c>AddRedisClient</c>,
/// <c>AddKafkaProducer</c>, <c>AddKafkaConsumer</c>) hold, as Aspire's integrations name them, and what they switch on.
/// </summary>
public abstract class ClientSettings
{
    /// <summary>Taken from <c>ConnectionStrings:{connectionName}</c> when that is set.</summary>
    public string? ConnectionString { get; set; }

    public bool DisableHealthChecks { get; set; }

    public bool DisableTracing { get; set; }

    public bool DisableMetrics { get; set; }

    /// <summary>Binds <paramref name="sectionName"/>, then its <c>{connectionName}</c> subsection; the connection string wins over both.</summary>
    internal void Bind(IConfiguration configuration, string sectionName, string connectionName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);
        BindSections(configuration, sectionName, connectionName, this);
        if (configuration.GetConnectionString(connectionName) is { Length: > 0 } connectionString)
        {
            ConnectionString = connectionString;
        }
    }

    /// <summary>Binds <c>{sectionName}{key}</c>, then <c>{sectionName}:{connectionName}{key}</c>, onto <paramref name="target"/>.</summary>
    internal static void BindSections(IConfiguration configuration, string sectionName, string connectionName, object target, string key = "")
    {
        configuration.GetSection(sectionName + key).Bind(target);
        configuration.GetSection($"{sectionName}:{connectionName}{key}").Bind(target);
    }

    internal string RequireConnectionString(string connectionName) =>
        string.IsNullOrWhiteSpace(ConnectionString)
            ? throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} is missing; set ConnectionStrings__{connectionName} or run through the AppHost.")
            : ConnectionString;

    /// <summary>
    /// Adds a "ready" check unless the settings turn it off or one of that name was added here before (as Aspire's
    /// TryAddHealthCheck: a second client on one connection asks the same server). The check runs off the caller's
    /// thread (resolving a client may block) and is held to <paramref name="timeout"/> even where it takes no cancellation.
    /// </summary>
    internal void AddHealthCheck(IHostApplicationBuilder builder, string name, TimeSpan timeout, HealthCheck check)
    {
        if (!DisableHealthChecks && builder.Properties.TryAdd($"{typeof(ClientSettings).FullName}.HealthCheck.{name}", name))
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                name, services => new BoundedHealthCheck(services, check), HealthStatus.Unhealthy, [HealthEndpoints.ReadyTag], timeout));
        }
    }

    /// <summary>Subscribes OpenTelemetry to the client's spans and metrics, unless the settings turn them off.</summary>
    internal void AddTelemetry(IHostApplicationBuilder builder, Action<TracerProviderBuilder> tracing, Action<MeterProviderBuilder> metrics)
    {
        if (!DisableTracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing);
        }

        if (!DisableMetrics)
        {
            builder.Services.AddOpenTelemetry().WithMetrics(metrics);
        }
    }

    internal delegate Task<HealthCheckResult> HealthCheck(IServiceProvider services, HealthCheckContext context, CancellationToken cancellationToken);

    // The health check service reports a check that outlives its timeout (and so its token) as Unhealthy.
    private sealed class BoundedHealthCheck(IServiceProvider services, HealthCheck check) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.Run(() => check(services, context, cancellationToken), cancellationToken).WaitAsync(cancellationToken);
    }
}
