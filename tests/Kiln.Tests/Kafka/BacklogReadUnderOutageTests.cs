using Confluent.Kafka;
using Kiln.Shared.Readings;
using Xunit.Abstractions;

namespace Kiln.Tests.Kafka;

/// <summary>
/// The Api and the Worker read the Worker group's backlog every second, through a broker that may go away at any
/// moment. Through librdkafka 2.16's admin API (<c>ListConsumerGroupOffsets</c>) such a read could abort the whole
/// process on a failed assertion (librdkafka issue #4605): an Api replica died that way under load while the broker was
/// down. The reads go through a consumer of the group now; this takes the broker down and up again and again while
/// reading, and a read may fail with an error but the process must live on.
/// </summary>
public sealed class BacklogReadUnderOutageTests(DevKafkaFixture broker, ITestOutputHelper output) : IClassFixture<DevKafkaFixture>
{
    private const string Group = "kiln.test.backlog-reader";
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Reading_the_backlog_while_the_broker_comes_and_goes_fails_with_errors_and_never_aborts()
    {
        var partition = new TopicPartition(DevKafkaFixture.GapTopic, 0);
        using var member = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = broker.BootstrapServers, GroupId = Group, EnableAutoCommit = false,
        }).Build();
        member.Commit([new TopicPartitionOffset(partition, 0)]);

        using var reader = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = broker.BootstrapServers, GroupId = Group, EnableAutoCommit = false, ReconnectBackoffMaxMs = 100,
        }).Build();
        using var admin = new DependentAdminClientBuilder(reader.Handle).Build();

        int read = 0, failed = 0;
        using var stop = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await ReadingBacklog.ReadAsync(admin, reader, DevKafkaFixture.GapTopic, ReadTimeout);
                    Interlocked.Increment(ref read);
                }
                catch (KafkaException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        });

        // Outages of different lengths, so that reads are caught at every stage: in flight, waiting for a connection, timing out.
        for (var cycle = 0; cycle < 12; cycle++)
        {
            Assert.Equal("ok", await DevKafkaControl.SendAsync(broker.ControlEndpoint, "broker-down"));
            await Task.Delay(100 + cycle * 60);
            Assert.Equal("ok", await DevKafkaControl.SendAsync(broker.ControlEndpoint, "broker-up"));
            await Task.Delay(150);
        }

        var afterOutages = Volatile.Read(ref read);
        var up = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.TrueAsync(() => Volatile.Read(ref read) > afterOutages + 3, TimeSpan.FromSeconds(30), "backlog reads to succeed again once the broker stays up");
        output.WriteLine($"{afterOutages} reads succeeded and {Volatile.Read(ref failed)} failed through the outages; reads succeeded again {up.Elapsed.TotalSeconds:0.0} s after the last one");
        await stop.CancelAsync();
        await reading;

        Assert.True(failed > 0, "no read failed: the broker was never caught down, so the outages tested nothing");
        var backlog = await ReadingBacklog.ReadAsync(admin, reader, DevKafkaFixture.GapTopic, TimeSpan.FromSeconds(10));
        Assert.Equal(0, backlog.Partitions.Single(p => p.Partition == partition.Partition).Committed);
    }
}
