using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>Kiln's client settings: the starting point that configuration and the caller's delegate may change.</summary>
internal static class KafkaClientDefaults
{
    /// <summary>Each broker reconnect attempt waits at most this long, so a restarted broker is found within a second.</summary>
    private const int ReconnectBackoffMaxMs = 1000;

    // When every broker it knows is unreachable (a broker restart, for one), librdkafka 2.16 by default "re-bootstraps":
    // it decommissions the brokers it learned and starts over from bootstrap.servers. A decommissioned broker can stay in
    // the client's coordinator cache (librdkafka issue #5511): admin requests for a group (ListConsumerGroupOffsets) then
    // wait on that dead handle until they time out, and keep it from ever going away. After a restart of the development
    // broker the Worker's log watch timed out for a minute (a lost log would have gone unnoticed meanwhile), and the Api,
    // which reads the same offsets to admit ingest, refused readings. The brokers a Kiln service talks to keep their
    // addresses (the AppHost's forwarder, a cluster's advertised listeners): reconnecting to them is all the recovery needed.
    private const MetadataRecoveryStrategy Recovery = MetadataRecoveryStrategy.None;

    public static ProducerConfig Producer() => new()
    {
        // Idempotence with acks=all: retries after a broker hiccup neither lose nor duplicate messages.
        Acks = Acks.All,
        EnableIdempotence = true,
        LingerMs = 5,
        // Brokers keep batches as the producer compressed them, and the development broker counts its 5 MiB per
        // partition in those bytes: with zstd a partition held ~6 times more readings than without compression
        // (1.3 times more than lz4), and the producer's CPU time per message did not measurably grow.
        CompressionType = CompressionType.Zstd,
        ReconnectBackoffMaxMs = ReconnectBackoffMaxMs,
        MetadataRecoveryStrategy = Recovery,
        // Long enough to ride out a broker restart, short enough that a dead broker surfaces as a delivery error.
        MessageTimeoutMs = 30_000,
    };

    public static ConsumerConfig Consumer() => new()
    {
        // Consumers commit after their work is durable, and a new group starts from the beginning.
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        // The development broker (librdkafka 2.16's mock) forms a group at once for its first member, but makes
        // every later join wait session.timeout.ms - 1 s (measured: 5.1 s at 6 s, 2.1 s at 3 s), and a dead
        // member is noticed only when its session expires: sessions stay short. Heartbeats at a third of it
        // or less keep a live member from being evicted.
        SessionTimeoutMs = 6_000,
        HeartbeatIntervalMs = 1_000,
        ReconnectBackoffMaxMs = ReconnectBackoffMaxMs,
        MetadataRecoveryStrategy = Recovery,
        // Eager (range) rebalancing: a joining member waits one such round. Cooperative-sticky needs two (measured
        // on the dev broker at a 3 s session: 4.4 s against 2.4 s), and a commit racing the first one gets
        // ILLEGAL_GENERATION, which makes librdkafka drop the whole assignment anyway.
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
    };
}
