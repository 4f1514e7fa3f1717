using System.Diagnostics;
using Confluent.Kafka;
using Kiln.AppHost.Launching;
using Kiln.ServiceDefaults.Kafka;
using Xunit;

namespace Kiln.Tests.Kafka;

/// <summary>
/// A development broker restarted behind the same address (as the AppHost does after a crash) starts with an empty log.
/// Offsets of the lost log must not be applied to the new one: a consumer that stored a message before the crash and
/// commits its offset afterwards (librdkafka keeps a commit back while the coordinator is away) would otherwise move the
/// group past the first messages of the new log, which nobody has read.
/// </summary>
public sealed class BrokerRestartTests
{
    private const string Topic = "kiln.test.restart";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_commit_of_the_lost_log_is_refused_by_the_broker_restarted_behind_the_address()
    {
        KafkaNativeLibrary.Load();
        using var forwarder = TcpForwarder.Start(0);
        var address = $"127.0.0.1:{forwarder.Port}";
        var before = await StartBrokerAsync(forwarder, address, leaderEpoch: 0);

        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = address, Acks = Acks.All }).Build();
        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = address,
            GroupId = "restart",
            EnableAutoCommit = false,
            ReconnectBackoffMaxMs = 500,
        }).Build();
        var partition = new TopicPartition(Topic, 0);
        await producer.ProduceAsync(partition, new Message<Null, string> { Value = "before the crash" });
        consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        ConsumeResult<Null, string>? stored = null;
        consumer.ConsumeUntil(result => (stored = result) is not null, Deadline);

        using (var process = Process.GetProcessById(before.Id))
        {
            process.Kill(); // SIGKILL: the log is gone with it
        }

        forwarder.ForwardTo(0);
        await before.DisposeAsync();
        await using var after = await StartBrokerAsync(forwarder, address, leaderEpoch: 1);
        var written = await producer.ProduceAsync(partition, new Message<Null, string> { Value = "after the restart" });
        Assert.Equal(0, written.Offset.Value);

        // librdkafka reports a commit whose every partition failed as a failure of the whole request.
        var refused = Assert.ThrowsAny<KafkaException>(() =>
            consumer.Commit([new TopicPartitionOffset(partition, stored!.Offset + 1, stored.LeaderEpoch)]));
        Assert.Equal(ErrorCode.FencedLeaderEpoch, refused.Error.Code);
        Assert.Equal(Offset.Unset, Assert.Single(consumer.Committed([partition], Deadline)).Offset);

        // What the new log holds from its first offset is read, and its own offsets are committed in its epoch.
        consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        ConsumeResult<Null, string>? next = null;
        consumer.ConsumeUntil(result => (next = result) is not null, Deadline);
        Assert.Equal("after the restart", next!.Message.Value);
        consumer.Commit([new TopicPartitionOffset(partition, next.Offset + 1, next.LeaderEpoch)]);
        Assert.Equal(1, Assert.Single(consumer.Committed([partition], Deadline)).Offset.Value);
    }

    private static async Task<DevKafkaProcess> StartBrokerAsync(TcpForwarder forwarder, string address, int leaderEpoch)
    {
        var broker = await DevKafkaProcess.StartAsync(
            ["--topic", $"{Topic}:1", "--advertise", address, "--leader-epoch", leaderEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            Deadline);
        forwarder.ForwardTo(broker.ListenerPort);
        return broker;
    }
}
