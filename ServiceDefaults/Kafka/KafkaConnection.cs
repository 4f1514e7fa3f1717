using Microsoft.Extensions.Configuration;

namespace Kiln.ServiceDefaults.Kafka;

internal static class KafkaConnection
{
    /// <summary>
    /// The bootstrap list the AppHost hands over as <c>ConnectionStrings__{name}</c>, e.g.
    /// <c>127.0.0.1:40123</c> or a comma-separated list of brokers.
    /// </summary>
    public static string GetBootstrapServers(IConfiguration configuration, string connectionName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var bootstrapServers = configuration.GetConnectionString(connectionName);
        return string.IsNullOrWhiteSpace(bootstrapServers)
            ? throw new InvalidOperationException(
                $"Kafka connection '{connectionName}' has no bootstrap servers: set ConnectionStrings__{connectionName} " +
                "(the AppHost does this for a resource reference).")
            : bootstrapServers;
    }
}
