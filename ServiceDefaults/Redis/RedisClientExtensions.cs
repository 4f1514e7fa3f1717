using Kiln.ServiceDefaults.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>Registers Kiln's <see cref="RedisClient"/> the way Aspire's client integrations do.</summary>
public static class RedisClientExtensions
{
    // Readiness probes run often; a PING that takes longer than this means Redis is not usable.
    private static readonly TimeSpan HealthCheckTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Adds a singleton <see cref="RedisClient"/> for <c>ConnectionStrings:{connectionName}</c> and a
    /// health check of that name, tagged "ready". Add <see cref="RedisTelemetry.SourceName"/> and
    /// <see cref="RedisTelemetry.MeterName"/> to OpenTelemetry to export its spans and metrics.
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection string is missing.</exception>
    /// <exception cref="FormatException">The connection string is malformed.</exception>
    public static IHostApplicationBuilder AddRedisClient(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<RedisClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} is missing; set ConnectionStrings__{connectionName} or run through the AppHost.");
        }

        // Parsed now so a bad connection string stops startup instead of the first request.
        var options = RedisClientOptions.Parse(connectionString);
        configure?.Invoke(options);

        builder.Services.AddSingleton(services => new RedisClient(options, services.GetService<ILogger<RedisClient>>()));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            services => new RedisHealthCheck(services.GetRequiredService<RedisClient>()),
            failureStatus: null,
            tags: ["ready"],
            timeout: HealthCheckTimeout));

        return builder;
    }
}
