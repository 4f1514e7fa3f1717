using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>Kiln's client settings: the starting point that configuration and the caller's delegate may change.</summary>
internal static class KafkaClientDefaults
{
    /// <summary>Each broker reconnect attempt waits at most this long, so a restarted broker is found within a second.</summary>
    private const int ReconnectBackoffMaxMs = 1000;

    public static ProducerConfig Producer() => new()
    {
        // Idempotence with acks=all: retries after a broker hiccup neither lose nor duplicate messages.
        Acks = Acks.All,
        EnableIdempotence = true,
        LingerMs = 5,
        ReconnectBackoffMaxMs = ReconnectBackoffMaxMs,
        // Long enough to ride out a broker restart, short enough that a dead broker surfaces as a delivery error.
        MessageTimeoutMs = 30_000,
    };

    public static ConsumerConfig Consumer() => new()
    {
        // Consumers commit after their work is durable, and a new group starts from the beginning.
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        // The development broker makes every rejoin wait session.timeout.ms - 1 s, so sessions stay short;
        // heartbeats at a third of it or less keep a live member from being evicted.
        SessionTimeoutMs = 6_000,
        HeartbeatIntervalMs = 1_000,
        ReconnectBackoffMaxMs = ReconnectBackoffMaxMs,
        // Eager (range) rebalancing: against the development broker a new member waits one round (~5 s).
        // Cooperative-sticky needs two rounds (~10 s), and a commit racing the first one gets ILLEGAL_GENERATION,
        // which makes librdkafka drop the whole assignment anyway.
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
    };
}
