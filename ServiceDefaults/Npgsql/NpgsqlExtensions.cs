using HealthChecks.NpgSql;
using Kiln.ServiceDefaults.Npgsql;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>The PostgreSQL client registration, in the shape of Aspire.Npgsql.</summary>
public static class NpgsqlExtensions
{
    private const string DefaultConfigSectionName = "Aspire:Npgsql";

    /// <summary>
    /// Registers one pooled <see cref="NpgsqlDataSource"/> (Npgsql.DependencyInjection) for <c>ConnectionStrings:{connectionName}</c>,
    /// with a "ready" health check of that name and Npgsql's own spans and metrics.
    /// </summary>
    public static void AddNpgsqlDataSource(this IHostApplicationBuilder builder, string connectionName,
        Action<NpgsqlSettings>? configureSettings = null, Action<NpgsqlDataSourceBuilder>? configureDataSourceBuilder = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var settings = new NpgsqlSettings();
        settings.Bind(builder.Configuration, DefaultConfigSectionName, connectionName);
        configureSettings?.Invoke(settings);

        builder.Services.AddNpgsqlDataSource(settings.RequireConnectionString(connectionName),
            dataSource => configureDataSourceBuilder?.Invoke(dataSource));
        settings.AddHealthCheck(builder, connectionName, TimeSpan.FromSeconds(5), (services, context, cancellationToken) =>
            new NpgSqlHealthCheck(new NpgSqlHealthCheckOptions(services.GetRequiredService<NpgsqlDataSource>()))
                .CheckHealthAsync(context, cancellationToken));
        settings.AddTelemetry(builder, tracing => tracing.AddNpgsql(), metrics => metrics.AddNpgsqlInstrumentation());
    }
}
