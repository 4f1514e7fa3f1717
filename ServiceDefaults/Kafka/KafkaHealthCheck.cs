using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// Asks the broker for cluster metadata over a client's own handle: the producer's or consumer's own settings
/// and connections, so it checks exactly what that client can reach. Cheap, and it fails within
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
            // A dependent admin client borrows the client's handle: no new connections, no settings of its own.
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

    /// <summary>
    /// Adds a "ready" check for one client unless a check of that name exists (as Aspire's TryAddHealthCheck:
    /// a second producer on the same connection asks the same broker).
    /// </summary>
    public static void TryAdd(IServiceCollection services, string name, Func<IServiceProvider, Handle> clientHandle)
    {
        services.AddHealthChecks();
        services.Configure<HealthCheckServiceOptions>(options =>
        {
            if (options.Registrations.Any(registration => registration.Name == name))
            {
                return;
            }

            options.Registrations.Add(new HealthCheckRegistration(
                name,
                serviceProvider => new KafkaHealthCheck(clientHandle(serviceProvider)),
                failureStatus: null,
                tags: [HealthEndpoints.ReadyTag],
                // A backstop only: the metadata request gives up on its own after Timeout.
                timeout: Timeout * 2));
        });
    }
}
