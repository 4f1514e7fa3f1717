using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// A Kafka client's settings, as Aspire.Confluent.Kafka names them: bound from <c>Aspire:Confluent:Kafka:Producer</c>
/// or <c>…:Consumer</c> (then its <c>{connectionName}</c> subsection), with <c>ConnectionStrings:{connectionName}</c>,
/// the bootstrap list, copied into <see cref="ClientConfig.BootstrapServers"/>.
/// </summary>
public abstract class KafkaClientSettings<TConfig>(TConfig config) : ClientSettings where TConfig : ClientConfig
{
    /// <summary>librdkafka's settings, starting from Kiln's defaults (<see cref="KafkaClientDefaults"/>).</summary>
    public TConfig Config { get; } = config;
}

public sealed class KafkaProducerSettings() : KafkaClientSettings<ProducerConfig>(KafkaClientDefaults.Producer());

/// <summary>A consumer's settings: <see cref="ConsumerConfig.GroupId"/> is required.</summary>
public sealed class KafkaConsumerSettings() : KafkaClientSettings<ConsumerConfig>(KafkaClientDefaults.Consumer());
