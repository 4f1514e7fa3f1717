using System.Diagnostics;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;

namespace Kiln.KafkaBench;

/// <summary>Produce latency as the Api sees it, and produce-to-consume latency as the Worker sees it.</summary>
internal static class Latency
{
    /// <summary>Awaited ProduceAsync of <paramref name="batch"/> messages (60-byte values), as one POST does.</summary>
    public static async Task ProduceAsync(string bootstrap, string topic, int batch, int rounds)
    {
        var config = KafkaClientDefaults.Producer();
        config.BootstrapServers = bootstrap;
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        var value = new byte[60];
        var times = new List<TimeSpan>();
        for (var round = -3; round < rounds; round++) // three rounds to warm up
        {
            var elapsed = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, batch).Select(i =>
                producer.ProduceAsync(topic, new Message<string, byte[]> { Key = $"kiln1.asset{i % 50}.temp", Value = value })));
            if (round >= 0)
            {
                times.Add(elapsed.Elapsed);
            }
        }

        Report($"awaited ProduceAsync of {batch}", times);
    }

    /// <summary>One message at a time: produced, then received by a group consumer with the Worker's fetch wait (50 ms).</summary>
    public static async Task EndToEndAsync(string bootstrap, string topic, int rounds)
    {
        var producerConfig = KafkaClientDefaults.Producer();
        producerConfig.BootstrapServers = bootstrap;
        var consumerConfig = KafkaClientDefaults.Consumer();
        consumerConfig.BootstrapServers = bootstrap;
        consumerConfig.GroupId = $"e2e-{Guid.NewGuid():N}";
        consumerConfig.AutoOffsetReset = AutoOffsetReset.Latest;
        consumerConfig.FetchWaitMaxMs = 50;
        using var producer = new ProducerBuilder<string, string>(producerConfig).Build();
        using var consumer = new ConsumerBuilder<string, string>(consumerConfig).Build();
        consumer.Subscribe(topic);

        // Until the consumer's position is settled, a message may land before it and never be seen.
        var settled = Stopwatch.StartNew();
        while (!await RoundTripAsync(producer, consumer, topic, TimeSpan.FromMilliseconds(500)))
        {
            if (settled.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException("the consumer never received a message");
            }
        }

        var times = new List<TimeSpan>();
        for (var round = 0; round < rounds; round++)
        {
            var elapsed = Stopwatch.StartNew();
            if (!await RoundTripAsync(producer, consumer, topic, TimeSpan.FromSeconds(10)))
            {
                throw new TimeoutException("a message was not received within 10 s");
            }

            times.Add(elapsed.Elapsed);
        }

        Report("produce, then receive in a group consumer", times);
    }

    private static async Task<bool> RoundTripAsync(IProducer<string, string> producer, IConsumer<string, string> consumer, string topic, TimeSpan within)
    {
        var id = Guid.NewGuid().ToString();
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "bench", Value = id });
        var elapsed = Stopwatch.StartNew();
        while (elapsed.Elapsed < within)
        {
            if (consumer.Consume(within - elapsed.Elapsed) is { } received && received.Message.Value == id)
            {
                return true;
            }
        }

        return false;
    }

    private static void Report(string what, List<TimeSpan> times)
    {
        times.Sort();
        Console.WriteLine($"{what}: median {times[times.Count / 2].TotalMilliseconds:0.0} ms, " +
            $"p90 {times[times.Count * 9 / 10].TotalMilliseconds:0.0} ms, max {times[^1].TotalMilliseconds:0.0} ms over {times.Count}");
    }
}
