using System.Runtime.InteropServices;

namespace Kiln.DevKafka.Native;

/// <summary>
/// The few librdkafka entry points the mock cluster needs, from librdkafka.redist's build (which exports the
/// mock API from the ordinary shared library; <see cref="Kiln.ServiceDefaults.Kafka.KafkaNativeLibrary"/> resolves
/// the name to it). The declarations follow rdkafka.h and rdkafka_mock.h of librdkafka 2.16.
/// </summary>
internal static unsafe partial class LibRdKafka
{
    private const string Library = "librdkafka";

    public const int ProducerType = 0; // RD_KAFKA_PRODUCER
    public const int ConfOk = 0;       // RD_KAFKA_CONF_OK
    public const int NoError = 0;      // RD_KAFKA_RESP_ERR_NO_ERROR

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_new")]
    public static partial nint ConfNew();

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_destroy")]
    public static partial void ConfDestroy(nint conf);

    [LibraryImport(Library, EntryPoint = "rd_kafka_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfSet(nint conf, string name, string value, byte* errstr, nuint errstrSize);

    /// <remarks>On success the handle owns <paramref name="conf"/>; on failure the caller still does.</remarks>
    [LibraryImport(Library, EntryPoint = "rd_kafka_new")]
    public static partial nint New(int type, nint conf, byte* errstr, nuint errstrSize);

    [LibraryImport(Library, EntryPoint = "rd_kafka_destroy")]
    public static partial void Destroy(nint rk);

    [LibraryImport(Library, EntryPoint = "rd_kafka_err2str")]
    public static partial nint ErrorToString(int err);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_new")]
    public static partial nint MockClusterNew(nint rk, int brokerCount);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_destroy")]
    public static partial void MockClusterDestroy(nint mcluster);

    /// <remarks>The returned string belongs to the cluster and lives as long as it does.</remarks>
    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_cluster_bootstraps")]
    public static partial nint MockClusterBootstraps(nint mcluster);

    /// <remarks>The broker setting group.initial.rebalance.delay.ms, for every group the cluster will host.</remarks>
    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_group_initial_rebalance_delay_ms")]
    public static partial void MockGroupInitialRebalanceDelayMs(nint mcluster, int delayMs);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_topic_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MockTopicCreate(nint mcluster, string topic, int partitionCount, int replicationFactor);

    /// <remarks>Rewrites what metadata advertises for the broker; its listener keeps its own ephemeral port.</remarks>
    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_host_port", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void MockBrokerSetHostPort(nint mcluster, int brokerId, string host, int port);

    /// <remarks>
    /// Makes <paramref name="brokerId"/> the partition's leader; the mock counts every call as a new leader term, raising
    /// the partition's leader epoch by one even when the leader stays the same.
    /// </remarks>
    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_partition_set_leader", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MockPartitionSetLeader(nint mcluster, string topic, int partition, int brokerId);

    /// <remarks>
    /// Moves the partition's log start offset to <paramref name="beforeOffset"/> (batches wholly before it go).
    /// UNKNOWN_TOPIC_OR_PART for a missing partition, OFFSET_OUT_OF_RANGE past the end of the log.
    /// </remarks>
    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_partition_delete_records", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MockPartitionDeleteRecords(nint mcluster, string topic, int partition, long beforeOffset);

    /// <remarks>Closes the broker's connections and refuses new ones until <see cref="MockBrokerSetUp"/>; its logs are kept.</remarks>
    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_down")]
    public static partial int MockBrokerSetDown(nint mcluster, int brokerId);

    [LibraryImport(Library, EntryPoint = "rd_kafka_mock_broker_set_up")]
    public static partial int MockBrokerSetUp(nint mcluster, int brokerId);
}
