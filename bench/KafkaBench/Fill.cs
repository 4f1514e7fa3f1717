using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Kiln.Shared.Readings;

namespace Kiln.KafkaBench;

/// <summary>
/// How many readings a topic holds before the broker first drops data: several clients produce requests of
/// readings as the Api does (key = sensor id, one traceparent per request, Kiln's producer settings) as fast as
/// the broker takes them, until any partition's low watermark leaves 0.
/// </summary>
internal static class Fill
{
    public static async Task RunAsync(string bootstrap, string topic, int partitions, bool json, string compression, int clients, int perRequest, int sensors)
    {
        var config = KafkaClientDefaults.Producer();
        config.BootstrapServers = bootstrap;
        config.CompressionType = Enum.Parse<CompressionType>(compression, ignoreCase: true);
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        using var watcher = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "kafka-bench" }).Build();

        var sensorIds = Enumerable.Range(0, sensors).Select(i => $"kiln{i % 5 + 1}.asset{i / 5}.measure{i % 7}").ToArray();
        var produced = 0L;
        using var stop = new CancellationTokenSource();
        var elapsed = Stopwatch.StartNew();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;

        async Task ClientAsync(int client)
        {
            var random = new Random(client);
            var value = 500.0;
            var start = new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);
            for (var n = 0L; !stop.IsCancellationRequested;)
            {
                var traceparent = Encoding.UTF8.GetBytes($"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01");
                var deliveries = new Task[perRequest];
                for (var i = 0; i < perRequest; i++, n++)
                {
                    // A random walk with two decimals, as sensors report.
                    value = Math.Round(value + random.NextDouble() - 0.5, 2);
                    var reading = new ReadingMessage(sensorIds[random.Next(sensorIds.Length)], start.AddMilliseconds(n * 10 + client), value);
                    deliveries[i] = producer.ProduceAsync(topic, new Message<string, byte[]>
                    {
                        Key = reading.SensorId,
                        Value = json ? JsonSerializer.SerializeToUtf8Bytes(reading, ReadingMessageJsonContext.Default.ReadingMessage) : ReadingEncoding.Encode(reading),
                        Headers = new Headers { { "traceparent", traceparent } },
                    });
                }

                await Task.WhenAll(deliveries);
                Interlocked.Add(ref produced, perRequest);
            }
        }

        var running = Enumerable.Range(0, clients).Select(ClientAsync).ToList();
        while (true)
        {
            await Task.Delay(200);
            var marks = Enumerable.Range(0, partitions)
                .Select(partition => watcher.QueryWatermarkOffsets(new TopicPartition(topic, partition), TimeSpan.FromSeconds(5)))
                .ToList();
            if (marks.Any(mark => mark.Low > 0))
            {
                await stop.CancelAsync();
                var held = marks.Select(mark => mark.High.Value - mark.Low.Value).ToList();
                var count = Interlocked.Read(ref produced);
                var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / count;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{partitions} partitions, {(json ? "JSON" : "17-byte")} readings, {compression}, {clients} clients x {perRequest} over {sensors} sensors: " +
                    $"first loss after {count:N0} produced in {elapsed.Elapsed.TotalSeconds:0.0} s; held {held.Sum():N0} " +
                    $"(fullest partition {held.Max():N0}, emptiest {held.Min():N0}); {cpu:0.0} µs CPU per reading in this process"));
                break;
            }
        }

        await Task.WhenAll(running);
    }
}
