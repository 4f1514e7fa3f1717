using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// A consumer's settings, as Aspire.Confluent.Kafka names them: bound from <c>Aspire:Confluent:Kafka:Consumer</c>
/// (then its <c>{connectionName}</c> subsection), with <c>ConnectionStrings:{connectionName}</c> copied into
/// <see cref="ConsumerConfig.BootstrapServers"/>. <see cref="ConsumerConfig.GroupId"/> is required.
/// </summary>
public sealed class KafkaConsumerSettings
{
    /// <summary>The bootstrap servers, e.g. <c>127.0.0.1:40123</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>librdkafka's settings; Kiln's defaults (<see cref="KafkaClientDefaults"/>) are already in it.</summary>
    public ConsumerConfig Config { get; } = KafkaClientDefaults.Consumer();

    public bool DisableHealthChecks { get; set; }

    public bool DisableTracing { get; set; }

    public bool DisableMetrics { get; set; }
}
