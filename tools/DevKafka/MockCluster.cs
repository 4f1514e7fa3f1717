using System.Runtime.InteropServices;
using Kiln.DevKafka.Native;

namespace Kiln.DevKafka;

/// <summary>
/// librdkafka's in-process mock cluster. It speaks the Kafka protocol on ephemeral 127.0.0.1 ports,
/// so clients in other processes use it like a real broker.
/// </summary>
internal sealed unsafe class MockCluster : IDisposable
{
    private const int ErrorBufferSize = 512;

    // The mock needs an rd_kafka_t for its bookkeeping; a producer without brokers never connects anywhere.
    private nint _owner;
    private nint _cluster;

    private MockCluster(nint owner, nint cluster, int brokerCount)
    {
        _owner = owner;
        _cluster = cluster;
        BrokerCount = brokerCount;
        ListenerAddresses = BootstrapServers = Marshal.PtrToStringUTF8(LibRdKafka.MockClusterBootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster reported no bootstrap servers.");
    }

    public int BrokerCount { get; }

    /// <summary>Where the brokers listen (comma-separated <c>127.0.0.1:port</c>, one per broker), whatever they advertise.</summary>
    public string ListenerAddresses { get; }

    /// <summary>What clients are told: the listeners, or the advertised address once <see cref="Advertise"/> set one.</summary>
    public string BootstrapServers { get; private set; }

    public static MockCluster Start(int brokerCount)
    {
        var owner = CreateOwner();
        var cluster = LibRdKafka.MockClusterNew(owner, brokerCount);
        if (cluster == 0)
        {
            LibRdKafka.Destroy(owner);
            throw new InvalidOperationException($"rd_kafka_mock_cluster_new failed for {brokerCount} broker(s).");
        }

        // A group's first join otherwise waits 3 s for more members (a real broker's default too); in development
        // the first Worker replica should start consuming at once, and the others join it as they come.
        LibRdKafka.MockGroupInitialRebalanceDelayMs(cluster, 0);
        return new MockCluster(owner, cluster, brokerCount);
    }

    public void CreateTopic(string name, int partitions)
    {
        // The mock refuses a replication factor above its broker count.
        var replicationFactor = Math.Min(BrokerCount, 3);
        var error = LibRdKafka.MockTopicCreate(_cluster, name, partitions, replicationFactor);
        if (error != LibRdKafka.NoError)
        {
            throw new InvalidOperationException($"Creating topic '{name}' ({partitions} partitions) failed: {Describe(error)}.");
        }
    }

    /// <summary>
    /// Starts every partition of the topic at leader epoch <paramref name="epoch"/> instead of 0 (one broker only: it
    /// stays the leader). Records then carry that epoch, and a client holding a position or an offset to commit from a
    /// log with a lower epoch is told so by the broker (log truncation detected; FENCED_LEADER_EPOCH), as after an
    /// unclean leader election on a real cluster.
    /// </summary>
    public void StartLeaderEpochsAt(string topic, int partitions, int epoch)
    {
        const int OnlyBroker = 1;
        if (BrokerCount != 1)
        {
            throw new InvalidOperationException("Leader epochs can be moved on a one-broker cluster only.");
        }

        for (var partition = 0; partition < partitions; partition++)
        {
            // The mock has no setter for the epoch; each leader election it is told of adds one.
            for (var term = 0; term < epoch; term++)
            {
                var error = LibRdKafka.MockPartitionSetLeader(_cluster, topic, partition, OnlyBroker);
                if (error != LibRdKafka.NoError)
                {
                    throw new InvalidOperationException($"Moving the leader epoch of {topic} [{partition}] failed: {Describe(error)}.");
                }
            }
        }
    }

    /// <summary>
    /// Deletes the partition's records before <paramref name="beforeOffset"/>, as retention would: the log then
    /// starts there. Returns null, or why not (no such partition, an offset past the end of the log).
    /// </summary>
    public string? DeleteRecords(string topic, int partition, long beforeOffset)
    {
        var error = LibRdKafka.MockPartitionDeleteRecords(_cluster, topic, partition, beforeOffset);
        return error == LibRdKafka.NoError ? null : Describe(error);
    }

    /// <summary>
    /// Takes broker <paramref name="brokerId"/> down (its connections closed, new ones refused, its logs kept) or brings it
    /// back up. Returns null, or why not (no such broker).
    /// </summary>
    public string? SetBrokerUp(int brokerId, bool up)
    {
        var error = up ? LibRdKafka.MockBrokerSetUp(_cluster, brokerId) : LibRdKafka.MockBrokerSetDown(_cluster, brokerId);
        return error == LibRdKafka.NoError ? null : Describe(error);
    }

    /// <summary>
    /// Metadata sends clients to <paramref name="host"/>:<paramref name="port"/> for the (only) broker, which the mock
    /// numbers 1; it keeps listening where it does, so something there must forward to <see cref="ListenerAddresses"/>.
    /// </summary>
    public void Advertise(string host, int port)
    {
        LibRdKafka.MockBrokerSetHostPort(_cluster, 1, host, port);
        BootstrapServers = $"{host}:{port}";
    }

    public void Dispose()
    {
        // The cluster refers to its owner, so it goes first.
        if (_cluster != 0)
        {
            LibRdKafka.MockClusterDestroy(_cluster);
            _cluster = 0;
        }

        if (_owner != 0)
        {
            LibRdKafka.Destroy(_owner);
            _owner = 0;
        }
    }

    private static string Describe(int error) => Marshal.PtrToStringUTF8(LibRdKafka.ErrorToString(error)) ?? $"error {error}";

    private static nint CreateOwner()
    {
        var conf = LibRdKafka.ConfNew();
        var errors = stackalloc byte[ErrorBufferSize];

        // log_level 4 (warning) hides the notice that this handle has no bootstrap.servers: it never needs any.
        foreach (var (name, value) in new[] { ("client.id", "kiln-devkafka"), ("log_level", "4") })
        {
            if (LibRdKafka.ConfSet(conf, name, value, errors, ErrorBufferSize) != LibRdKafka.ConfOk)
            {
                LibRdKafka.ConfDestroy(conf);
                throw new InvalidOperationException($"rd_kafka_conf_set {name} failed: {Marshal.PtrToStringUTF8((nint)errors)}");
            }
        }

        var owner = LibRdKafka.New(LibRdKafka.ProducerType, conf, errors, ErrorBufferSize);
        if (owner == 0)
        {
            LibRdKafka.ConfDestroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {Marshal.PtrToStringUTF8((nint)errors)}");
        }

        return owner;
    }
}
