using Kiln.Api.Security;
using Kiln.Shared.Schema;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.Api.Extensions;

/// <summary>
/// At start: applies the schema migrations (under their advisory lock) and stores the AppHost's
/// bootstrap keys, given as hashes in <c>Kiln:BootstrapKeys:{Admin,Ingest,Read,Web,Simulator}</c> (the Web's key is admin-scoped, to acknowledge
/// alerts, but its own; the simulator's may ingest and declare its plant's sensors, nothing else). Retries while
/// the database is not reachable yet; the service reports ready only once this has succeeded.
/// </summary>
internal sealed class DatabaseInitializer(
    SchemaMigrator migrator, ApiKeyStore keys, DatabaseReadiness readiness, IConfiguration configuration, ILogger<DatabaseInitializer> logger)
    : BackgroundService
{
    private static readonly (string Name, string Label, string[] Scopes)[] BootstrapKeys =
    [
        ("Admin", "admin", [ApiKeyScopes.Admin]),
        ("Ingest", "ingest", [ApiKeyScopes.Ingest]),
        ("Read", "read", [ApiKeyScopes.Read]),
        ("Web", "web", [ApiKeyScopes.Admin]),
        ("Simulator", "simulator", [ApiKeyScopes.Ingest, ApiKeyScopes.Sensors]),
    ];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await migrator.MigrateAsync(stoppingToken);
                foreach (var (name, label, scopes) in BootstrapKeys)
                {
                    if (configuration[$"Kiln:BootstrapKeys:{name}"] is { Length: > 0 } hash)
                    {
                        await keys.EnsureAsync($"apphost-{label}", hash, scopes, stoppingToken);
                    }
                }

                readiness.MarkReady();
                return;
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
            {
                logger.LogWarning("Database not ready ({Reason}); retrying in {Delay} ms", ex.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }
}

/// <summary>Unhealthy until the schema is in place, so "healthy" means requests will succeed.</summary>
internal sealed class DatabaseReadiness : IHealthCheck
{
    private volatile bool _ready;

    public void MarkReady() => _ready = true;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_ready ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("schema migrations have not completed yet"));
}
