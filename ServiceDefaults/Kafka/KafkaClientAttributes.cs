using System.Globalization;
using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// What the messaging conventions want to know about a client but its messages do not say: the broker it was
/// pointed at (<c>server.address</c>, <c>server.port</c>: the first bootstrap server), its <c>messaging.client.id</c>
/// and, for a consumer, its group.
/// </summary>
internal sealed record KafkaClientAttributes(string? ServerAddress, int? ServerPort, string? ClientId, string? ConsumerGroup)
{
    public static KafkaClientAttributes From(ClientConfig config, string clientName, string? consumerGroup)
    {
        var (address, port) = FirstBootstrapServer(config.BootstrapServers);
        return new KafkaClientAttributes(address, port, clientName, consumerGroup);
    }

    /// <summary><c>host:port</c>, <c>[v6]:port</c> or a bare host, from a comma-separated bootstrap list.</summary>
    internal static (string? Address, int? Port) FirstBootstrapServer(string? bootstrapServers)
    {
        var first = bootstrapServers?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (string.IsNullOrEmpty(first))
        {
            return (null, null);
        }

        var colon = first.LastIndexOf(':');
        var closingBracket = first.LastIndexOf(']');
        if (colon <= closingBracket || !int.TryParse(first[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return (first.Trim('[', ']'), null);
        }

        return (first[..colon].Trim('[', ']'), port);
    }

    public void AddTo(ICollection<KeyValuePair<string, object?>> tags, bool withClientId)
    {
        if (ServerAddress is not null)
        {
            tags.Add(new("server.address", ServerAddress));
        }

        if (ServerPort is { } port)
        {
            tags.Add(new("server.port", port));
        }

        if (ConsumerGroup is not null)
        {
            tags.Add(new("messaging.consumer.group.name", ConsumerGroup));
        }

        // Spans only: a client id per process would multiply metric series without telling anything new.
        if (withClientId && ClientId is not null)
        {
            tags.Add(new("messaging.client.id", ClientId));
        }
    }
}
