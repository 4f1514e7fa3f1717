using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>Kiln's client settings, applied before the caller's own configure delegate.</summary>
internal static class KafkaClientDefaults
{
    /// <summary>Each broker reconnect attempt waits at most this long, so a restarted broker is found within a second.</summary>
    private const int ReconnectBackoffMaxMs = 1000;

    public static void Apply(ProducerConfig config)
    {
        // Idempotence with acks=all: retries after a broker hiccup neither lose nor duplicate messages.
        config.Acks = Acks.All;
        config.EnableIdempotence = true;
        config.LingerMs = 5;
        config.ReconnectBackoffMaxMs = ReconnectBackoffMaxMs;
        // Long enough to ride out a broker restart, short enough that a dead broker surfaces as a delivery error.
        config.MessageTimeoutMs = 30_000;
    }

    public static void Apply(ConsumerConfig config)
    {
        // Consumers commit after their work is durable, and a new group starts from the beginning.
        config.EnableAutoCommit = false;
        config.AutoOffsetReset = AutoOffsetReset.Earliest;
        // The development broker makes every rejoin wait session.timeout.ms - 1 s, so sessions stay short;
        // heartbeats at a third of it or less keep a live member from being evicted.
        config.SessionTimeoutMs = 6_000;
        config.HeartbeatIntervalMs = 1_000;
        config.ReconnectBackoffMaxMs = ReconnectBackoffMaxMs;
        // Eager (range) rebalancing: against the development broker a new member waits one round (~5 s).
        // Cooperative-sticky needs two rounds (~10 s), and a commit racing the first one gets ILLEGAL_GENERATION,
        // which makes librdkafka drop the whole assignment anyway.
        config.PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range;
    }
}
