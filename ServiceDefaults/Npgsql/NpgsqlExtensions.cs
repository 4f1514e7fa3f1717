using HealthChecks.NpgSql;
using Kiln.ServiceDefaults;
using Kiln.ServiceDefaults.Npgsql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>The PostgreSQL client registration, in the shape of Aspire.Npgsql.</summary>
public static class NpgsqlExtensions
{
    private const string DefaultConfigSectionName = "Aspire:Npgsql";

    /// <summary>
    /// Registers one pooled <see cref="NpgsqlDataSource"/> (Npgsql.DependencyInjection) for
    /// <c>ConnectionStrings:{connectionName}</c>, with a "ready" health check of that name and Npgsql's
    /// own spans and metrics.
    /// </summary>
    public static void AddNpgsqlDataSource(this IHostApplicationBuilder builder, string connectionName,
        Action<NpgsqlSettings>? configureSettings = null,
        Action<NpgsqlDataSourceBuilder>? configureDataSourceBuilder = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var settings = new NpgsqlSettings();
        builder.Configuration.GetSection(DefaultConfigSectionName).Bind(settings);
        builder.Configuration.GetSection($"{DefaultConfigSectionName}:{connectionName}").Bind(settings);
        if (builder.Configuration.GetConnectionString(connectionName) is { Length: > 0 } connectionString)
        {
            settings.ConnectionString = connectionString;
        }

        configureSettings?.Invoke(settings);
        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} is missing; set ConnectionStrings__{connectionName} or run through the AppHost.");
        }

        builder.Services.AddNpgsqlDataSource(settings.ConnectionString, dataSource => configureDataSourceBuilder?.Invoke(dataSource));

        if (!settings.DisableHealthChecks)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                connectionName,
                services => new NpgSqlHealthCheck(new NpgSqlHealthCheckOptions(services.GetRequiredService<NpgsqlDataSource>())),
                failureStatus: HealthStatus.Unhealthy,
                tags: [HealthEndpoints.ReadyTag],
                timeout: TimeSpan.FromSeconds(5)));
        }

        if (!settings.DisableTracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddNpgsql());
        }

        if (!settings.DisableMetrics)
        {
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddNpgsqlInstrumentation());
        }
    }
}
