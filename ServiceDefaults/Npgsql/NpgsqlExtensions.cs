using Kiln.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>The PostgreSQL client registration, in the shape of Aspire.Npgsql.</summary>
public static class NpgsqlExtensions
{
    /// <summary>
    /// Registers one pooled <see cref="NpgsqlDataSource"/> for <c>ConnectionStrings:{connectionName}</c>,
    /// with a health check of that name. Npgsql emits its spans and metrics natively.
    /// </summary>
    public static IHostApplicationBuilder AddNpgsqlDataSource(this IHostApplicationBuilder builder, string connectionName,
        Action<NpgsqlDataSourceBuilder>? configure = null)
    {
        var connectionString = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} is missing; set ConnectionStrings__{connectionName} or run through the AppHost.");
        }

        builder.Services.AddSingleton(services =>
        {
            var dataSource = new NpgsqlDataSourceBuilder(connectionString);
            dataSource.UseLoggerFactory(services.GetService<Microsoft.Extensions.Logging.ILoggerFactory>());
            configure?.Invoke(dataSource);
            return dataSource.Build();
        });

        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            services => new NpgsqlHealthCheck(services.GetRequiredService<NpgsqlDataSource>()),
            HealthStatus.Unhealthy,
            [HealthEndpoints.ReadyTag],
            TimeSpan.FromSeconds(5)));
        return builder;
    }

    private sealed class NpgsqlHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var command = dataSource.CreateCommand("SELECT 1");
                await command.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                return HealthCheckResult.Unhealthy($"PostgreSQL did not answer: {ex.Message}");
            }
        }
    }
}
