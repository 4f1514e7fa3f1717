using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Kiln.Tests.Kafka;

public sealed class ProduceConsumeTests(DevKafkaFixture broker) : IClassFixture<DevKafkaFixture>
{
    // On the dev broker a group's first join is immediate, a later one waits session.timeout.ms - 1 s (5 s by default).
    private static readonly TimeSpan ConsumeTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Ten_thousand_keyed_messages_arrive_once_each_in_per_key_order()
    {
        const int Keys = 50;
        const int PerKey = 200;
        const int Total = Keys * PerKey;
        var topic = DevKafkaFixture.RoundTripTopic;
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaConsumer<string, string>(DevKafkaFixture.ConnectionName, settings => settings.Config.GroupId = "roundtrip");
        });
        var producer = host.Services.GetRequiredService<IProducer<string, string>>();
        var consumer = host.Services.GetRequiredService<IConsumer<string, string>>();

        var deliveries = Enumerable.Range(0, Total)
            .Select(i => producer.ProduceAsync(topic, new Message<string, string> { Key = $"sensor-{i % Keys}", Value = $"{i / Keys}" }))
            .ToArray();
        var delivered = await Task.WhenAll(deliveries);
        Assert.All(delivered, result => Assert.Equal(PersistenceStatus.Persisted, result.Status));

        var sequencesByKey = new Dictionary<string, List<int>>();
        var received = 0;
        consumer.Subscribe(topic);
        consumer.ConsumeUntil(result =>
        {
            if (!sequencesByKey.TryGetValue(result.Message.Key, out var sequences))
            {
                sequencesByKey[result.Message.Key] = sequences = [];
            }

            sequences.Add(int.Parse(result.Message.Value, System.Globalization.CultureInfo.InvariantCulture));
            return ++received == Total;
        }, ConsumeTimeout);

        // Every key's readings exactly once and in the order they were produced.
        Assert.Equal(Keys, sequencesByKey.Count);
        Assert.All(sequencesByKey.Values, sequences => Assert.Equal(Enumerable.Range(0, PerKey), sequences));

        // And the log itself holds no retried duplicates: the idempotent producer wrote each message once.
        var stored = consumer.Assignment.Sum(partition =>
        {
            var watermarks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5));
            return watermarks.High.Value - watermarks.Low.Value;
        });
        Assert.Equal(Total, stored);
    }

    [Fact]
    public async Task A_consumer_joining_the_group_resumes_after_the_committed_offsets()
    {
        const int Total = 100;
        const int FirstConsumerTakes = 60;
        var topic = DevKafkaFixture.ResumeTopic;
        using (var producerHost = KafkaTestHost.Build(broker.BootstrapServers, builder => builder.AddKafkaProducer<string, int>(DevKafkaFixture.ConnectionName)))
        {
            var producer = producerHost.Services.GetRequiredService<IProducer<string, int>>();
            await Task.WhenAll(Enumerable.Range(0, Total)
                .Select(i => producer.ProduceAsync(topic, new Message<string, int> { Key = $"sensor-{i % 7}", Value = i })));
        }

        var committed = new HashSet<int>();
        using (var first = BuildConsumerHost())
        {
            var consumer = first.Services.GetRequiredService<IConsumer<string, int>>();
            consumer.Subscribe(topic);
            consumer.ConsumeUntil(result =>
            {
                consumer.Commit(result);
                committed.Add(result.Message.Value);
                return committed.Count == FirstConsumerTakes;
            }, ConsumeTimeout);

            // As a worker does when it stops: leave the group now. Dispose alone would leave the
            // next member waiting for this one's session to expire.
            consumer.Close();
        }

        var resumed = new List<int>();
        using (var second = BuildConsumerHost())
        {
            var consumer = second.Services.GetRequiredService<IConsumer<string, int>>();
            consumer.Subscribe(topic);
            consumer.ConsumeUntil(result =>
            {
                resumed.Add(result.Message.Value);
                return resumed.Count == Total - FirstConsumerTakes;
            }, ConsumeTimeout);
        }

        Assert.Empty(resumed.Intersect(committed));
        Assert.Equal(Enumerable.Range(0, Total), committed.Concat(resumed).Order());
    }

    private IHost BuildConsumerHost() =>
        KafkaTestHost.Build(broker.BootstrapServers, builder =>
            builder.AddKafkaConsumer<string, int>(DevKafkaFixture.ConnectionName, settings => settings.Config.GroupId = "resume"));
}
