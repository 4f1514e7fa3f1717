using Confluent.Kafka;
using Microsoft.Extensions.Configuration;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>How a client's settings are read, in Aspire.Confluent.Kafka's order.</summary>
internal static class KafkaConnection
{
    public const string ProducerSection = "Aspire:Confluent:Kafka:Producer";
    public const string ConsumerSection = "Aspire:Confluent:Kafka:Consumer";

    /// <summary>
    /// Binds <paramref name="sectionName"/>, then its <c>{connectionName}</c> subsection, onto the settings and
    /// their <c>Config</c> (bound by hand: the binder does not fill a Confluent config, which is a key/value list).
    /// </summary>
    /// <returns><c>ConnectionStrings:{connectionName}</c>, the bootstrap list the AppHost hands over: it wins over the section's.</returns>
    public static string? Bind(IConfiguration configuration, string sectionName, string connectionName, object settings, ClientConfig config)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var section = configuration.GetSection(sectionName);
        var named = section.GetSection(connectionName);
        section.Bind(settings);
        named.Bind(settings);
        section.GetSection("Config").Bind(config);
        named.GetSection("Config").Bind(config);
        return configuration.GetConnectionString(connectionName);
    }

    /// <summary>Copies the connection string into the config, and refuses a client with nowhere to connect.</summary>
    public static void Consolidate(ClientConfig config, string? connectionString, string connectionName, string sectionName)
    {
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            config.BootstrapServers = connectionString;
        }

        if (string.IsNullOrWhiteSpace(config.BootstrapServers))
        {
            throw new InvalidOperationException(
                $"Kafka connection '{connectionName}' has no bootstrap servers: set ConnectionStrings__{connectionName} " +
                $"(the AppHost does this for a resource reference) or {sectionName}:Config:BootstrapServers.");
        }
    }
}
