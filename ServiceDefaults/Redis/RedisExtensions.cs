using Kiln.ServiceDefaults;
using Kiln.ServiceDefaults.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
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

    // Readiness probes run every few seconds; a PING slower than this means Redis is not usable now.
    private static readonly TimeSpan HealthCheckTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Registers one <see cref="IConnectionMultiplexer"/> for <c>ConnectionStrings:{connectionName}</c>,
    /// shared by the whole process, with a "ready" health check of that name and spans and metrics
    /// for its commands.
    /// </summary>
    /// <param name="configureSettings">Runs after the settings are read from configuration.</param>
    /// <param name="configureOptions">Runs after StackExchange.Redis's options are read from the connection string and configuration.</param>
    /// <exception cref="InvalidOperationException">The connection string is missing or names no endpoint.</exception>
    public static void AddRedisClient(this IHostApplicationBuilder builder, string connectionName,
        Action<StackExchangeRedisSettings>? configureSettings = null,
        Action<ConfigurationOptions>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var section = builder.Configuration.GetSection(DefaultConfigSectionName);
        var namedSection = section.GetSection(connectionName);
        var settings = new StackExchangeRedisSettings();
        section.Bind(settings);
        namedSection.Bind(settings);
        if (builder.Configuration.GetConnectionString(connectionName) is { Length: > 0 } connectionString)
        {
            settings.ConnectionString = connectionString;
        }

        configureSettings?.Invoke(settings);

        // Read now, so a missing or unusable connection string stops startup rather than the first request.
        var options = ReadOptions(connectionName, settings, section, namedSection);
        configureOptions?.Invoke(options);
        if (options.EndPoints.Count == 0)
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} names no Redis endpoint; expected 'host:port,password=...'.");
        }

        var traced = !settings.DisableTracing;
        var measured = !settings.DisableMetrics;
        if (traced || measured)
        {
            builder.Services.AddKeyedSingleton(connectionName, (_, _) => new RedisCommandTelemetry(traced, measured));
        }

        builder.Services.AddSingleton<IConnectionMultiplexer>(services =>
        {
            options.LoggerFactory ??= services.GetService<ILoggerFactory>();
            var connection = ConnectionMultiplexer.Connect(options);
            services.GetKeyedService<RedisCommandTelemetry>(connectionName)?.Attach(connection);
            return connection;
        });

        if (!settings.DisableHealthChecks)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                connectionName,
                services => new BoundedRedisHealthCheck(services),
                failureStatus: HealthStatus.Unhealthy,
                tags: [HealthEndpoints.ReadyTag],
                timeout: HealthCheckTimeout));
        }

        if (traced)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource(RedisCommandTelemetry.ActivitySourceName));
        }

        if (measured)
        {
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(RedisCommandTelemetry.MeterName));
        }
    }

    private static ConfigurationOptions ReadOptions(string connectionName, StackExchangeRedisSettings settings,
        IConfigurationSection section, IConfigurationSection namedSection)
    {
        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} is missing; set ConnectionStrings__{connectionName} or run through the AppHost.");
        }

        var options = ConfigurationOptions.Parse(settings.ConnectionString);

        // Only the library's plain defaults are replaced: Azure endpoints keep the provider chosen for them.
        if (options.Defaults.GetType() == typeof(DefaultOptionsProvider))
        {
            options.Defaults = new KilnDefaultOptionsProvider();
        }

        section.GetSection("ConfigurationOptions").Bind(options);
        namedSection.GetSection("ConfigurationOptions").Bind(options);
        return options;
    }

    /// <summary>Aspire's defaults: connection-string keys still win over these.</summary>
    private sealed class KilnDefaultOptionsProvider : DefaultOptionsProvider
    {
        // Keep retrying in the background when Redis is not up yet (or is restarting) instead of failing startup.
        public override bool AbortOnConnectFail => false;
    }
}
