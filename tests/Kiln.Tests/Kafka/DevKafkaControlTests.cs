using Confluent.Kafka;

namespace Kiln.Tests.Kafka;

/// <summary>The development broker's control port: the faults tests inject into it happen as a real broker's would.</summary>
public sealed class DevKafkaControlTests(DevKafkaFixture broker) : IClassFixture<DevKafkaFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Deleted_records_are_gone_and_the_log_starts_after_them()
    {
        var partition = new TopicPartition(DevKafkaFixture.GapTopic, 1);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build())
        {
            // One at a time: each message its own batch, so the deletion can remove whole batches before offset 5.
            for (var i = 0; i < 10; i++)
            {
                var delivered = await producer.ProduceAsync(partition, new Message<Null, string> { Value = $"message {i}" });
                Assert.Equal(i, delivered.Offset.Value);
            }
        }

        await DevKafkaControl.DeleteRecordsAsync(broker.ControlEndpoint, partition.Topic, partition.Partition, beforeOffset: 5);

        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = "gap",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        var watermarks = consumer.QueryWatermarkOffsets(partition, Deadline);
        Assert.Equal((5, 10), (watermarks.Low.Value, watermarks.High.Value));

        consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        var offsets = new List<long>();
        consumer.ConsumeUntil(result =>
        {
            offsets.Add(result.Offset.Value);
            return result.Offset.Value == 9;
        }, Deadline);
        Assert.Equal([5, 6, 7, 8, 9], offsets);
    }

    [Fact]
    public async Task A_broker_taken_down_holds_messages_back_until_it_is_up_and_keeps_its_log()
    {
        var partition = new TopicPartition(DevKafkaFixture.GapTopic, 0);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers, MessageTimeoutMs = (int)Deadline.TotalMilliseconds,
        }).Build();
        var before = await producer.ProduceAsync(partition, new Message<Null, string> { Value = "before" });

        Assert.Equal("ok", await DevKafkaControl.SendAsync(broker.ControlEndpoint, "broker-down"));
        Task<DeliveryResult<Null, string>> during;
        try
        {
            during = producer.ProduceAsync(partition, new Message<Null, string> { Value = "during" });
            // Up, a produce on this connection takes milliseconds; down, it waits for the broker to come back.
            await Task.WhenAny(during, Task.Delay(TimeSpan.FromSeconds(2)));
            Assert.False(during.IsCompleted, "a message was delivered while the broker was down");
        }
        finally
        {
            Assert.Equal("ok", await DevKafkaControl.SendAsync(broker.ControlEndpoint, "broker-up"));
        }

        Assert.Equal(before.Offset.Value + 1, (await during.WaitAsync(Deadline)).Offset.Value);
    }

    [Fact]
    public async Task A_command_it_cannot_carry_out_is_answered_with_the_reason()
    {
        Assert.Equal("error Broker: Unknown topic or partition",
            await DevKafkaControl.SendAsync(broker.ControlEndpoint, "delete-records kiln.test.nowhere 0 1"));
        Assert.Equal("error Broker: Offset out of range",
            await DevKafkaControl.SendAsync(broker.ControlEndpoint, $"delete-records {DevKafkaFixture.GapTopic} 0 1000"));
        Assert.StartsWith("error unknown command 'truncate'",
            await DevKafkaControl.SendAsync(broker.ControlEndpoint, "truncate everything"), StringComparison.Ordinal);
        Assert.StartsWith("error broker 'x'", await DevKafkaControl.SendAsync(broker.ControlEndpoint, "broker-down x"), StringComparison.Ordinal);
    }
}
