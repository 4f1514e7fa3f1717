using HealthChecks.Redis;
using Kiln.ServiceDefaults;
using Kiln.ServiceDefaults.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using StackExchange.Redis;
using StackExchange.Redis.Configuration;

namespace Microsoft.Extensions.Hosting;

/// <summary>The Redis client registration, in the shape of Aspire.StackExchange.Redis.</summary>
public static class RedisExtensions
{
    private const string DefaultConfigSectionName = "Aspire:StackExchange:Redis";

    /// <summary>
    /// Registers one <see cref="IConnectionMultiplexer"/> for <c>ConnectionStrings:{connectionName}</c>, shared by the
    /// whole process, with a "ready" health check of that name and spans and metrics for its commands.
    /// </summary>
    /// <param name="configureSettings">Runs after the settings are read from configuration.</param>
    /// <param name="configureOptions">Runs after StackExchange.Redis's options are read from the connection string and configuration.</param>
    /// <exception cref="InvalidOperationException">The connection string is missing or names no endpoint.</exception>
    public static void AddRedisClient(this IHostApplicationBuilder builder, string connectionName,
        Action<StackExchangeRedisSettings>? configureSettings = null, Action<ConfigurationOptions>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var settings = new StackExchangeRedisSettings();
        settings.Bind(builder.Configuration, DefaultConfigSectionName, connectionName);
        configureSettings?.Invoke(settings);

        // Read now, so a missing or unusable connection string stops startup rather than the first request.
        var options = ConfigurationOptions.Parse(settings.RequireConnectionString(connectionName));
        // Only the library's plain defaults are replaced: Azure endpoints keep the provider chosen for them.
        if (options.Defaults.GetType() == typeof(DefaultOptionsProvider))
        {
            options.Defaults = new KilnDefaultOptionsProvider();
        }

        ClientSettings.BindSections(builder.Configuration, DefaultConfigSectionName, connectionName, options, ":ConfigurationOptions");
        configureOptions?.Invoke(options);
        if (options.EndPoints.Count == 0)
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} names no Redis endpoint; expected 'host:port,password=...'.");
        }

        builder.Services.AddSingleton<IConnectionMultiplexer>(services =>
        {
            options.LoggerFactory ??= services.GetService<ILoggerFactory>();
            var connection = ConnectionMultiplexer.Connect(options);
            RedisCommandTelemetry.Attach(connection);
            return connection;
        });

        // Readiness probes run every few seconds; a PING slower than 3 s means Redis is not usable now. The check's PING
        // takes no cancellation: without the bound it would wait out the multiplexer's backlog timeout (5 s).
        settings.AddHealthCheck(builder, connectionName, TimeSpan.FromSeconds(3), (services, context, cancellationToken) =>
            new RedisHealthCheck(services.GetRequiredService<IConnectionMultiplexer>()).CheckHealthAsync(context, cancellationToken));
        settings.AddTelemetry(builder,
            tracing => tracing.AddSource(RedisCommandTelemetry.ActivitySourceName),
            metrics => metrics.AddMeter(RedisCommandTelemetry.MeterName));
    }

    /// <summary>Aspire's defaults: connection-string keys still win over these.</summary>
    private sealed class KilnDefaultOptionsProvider : DefaultOptionsProvider
    {
        // Keep retrying in the background when Redis is not up yet (or is restarting) instead of failing startup.
        public override bool AbortOnConnectFail => false;
    }
}
