using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// A producer's settings, as Aspire.Confluent.Kafka names them: bound from <c>Aspire:Confluent:Kafka:Producer</c>
/// (then its <c>{connectionName}</c> subsection), with <c>ConnectionStrings:{connectionName}</c> copied into
/// <see cref="ProducerConfig.BootstrapServers"/>.
/// </summary>
public sealed class KafkaProducerSettings
{
    /// <summary>The bootstrap servers, e.g. <c>127.0.0.1:40123</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>librdkafka's settings; Kiln's defaults (<see cref="KafkaClientDefaults"/>) are already in it.</summary>
    public ProducerConfig Config { get; } = KafkaClientDefaults.Producer();

    public bool DisableHealthChecks { get; set; }

    public bool DisableTracing { get; set; }

    public bool DisableMetrics { get; set; }
}
