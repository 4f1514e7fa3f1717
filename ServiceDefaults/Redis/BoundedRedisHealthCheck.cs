using HealthChecks.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// AspNetCore.HealthChecks.Redis's check (PING over the registered multiplexer), held to the
/// registration's timeout. Its PING takes no cancellation token, so against a server that is down
/// it would wait out the multiplexer's backlog timeout (5 s), and resolving the multiplexer the first
/// time waits out its connect timeout; the health check service reports a timeout as Unhealthy.
/// </summary>
internal sealed class BoundedRedisHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.Run(
            () => new RedisHealthCheck(services.GetRequiredService<IConnectionMultiplexer>()).CheckHealthAsync(context, cancellationToken),
            cancellationToken)
        .WaitAsync(cancellationToken);
}
