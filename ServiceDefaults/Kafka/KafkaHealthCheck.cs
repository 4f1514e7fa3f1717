using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// Asks the broker for cluster metadata over the client's own connections: cheap, and it fails within
/// <see cref="Timeout"/> when no broker answers.
/// </summary>
internal sealed class KafkaHealthCheck(Handle clientHandle) : IHealthCheck
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        // GetMetadata blocks for up to the timeout; keep that off the caller's thread.
        Task.Run(() => RequestMetadata(context.Registration.FailureStatus), cancellationToken);

    private HealthCheckResult RequestMetadata(HealthStatus failureStatus)
    {
        try
        {
            // A dependent admin client borrows the producer's or consumer's handle: no new connections.
            using var admin = new DependentAdminClientBuilder(clientHandle).Build();
            var metadata = admin.GetMetadata(Timeout);
            return metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s), {metadata.Topics.Count} topic(s)")
                : new HealthCheckResult(failureStatus, "The cluster reported no brokers.");
        }
        catch (KafkaException e)
        {
            return new HealthCheckResult(failureStatus, $"No metadata from the broker: {e.Error.Reason}", e);
        }
    }
}

internal static class KafkaHealthCheckRegistration
{
    /// <summary>
    /// Adds a "ready" check named <paramref name="connectionName"/> unless one exists: a service with both a
    /// producer and a consumer on the same connection has one broker to ask about, and duplicate names are an error.
    /// </summary>
    public static void AddOnce(IServiceCollection services, string connectionName, Func<IServiceProvider, Handle> clientHandle)
    {
        services.AddHealthChecks();
        services.Configure<HealthCheckServiceOptions>(options =>
        {
            if (options.Registrations.Any(registration => registration.Name == connectionName))
            {
                return;
            }

            options.Registrations.Add(new HealthCheckRegistration(
                connectionName,
                serviceProvider => new KafkaHealthCheck(clientHandle(serviceProvider)),
                failureStatus: null,
                tags: ["ready"],
                // A backstop only: the metadata request gives up on its own after KafkaHealthCheck.Timeout.
                timeout: KafkaHealthCheck.Timeout * 2));
        });
    }
}
