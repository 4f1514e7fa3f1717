using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>Ready when Redis answers a PING; the registration's timeout keeps the probe short.</summary>
internal sealed class RedisHealthCheck(RedisClient client) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var latency = await client.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy($"PING answered in {latency.TotalMilliseconds:0.0} ms.");
        }
        catch (Exception ex)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Redis at {client.Endpoint} did not answer PING: {ex.Message}", ex);
        }
    }
}
