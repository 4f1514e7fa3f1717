using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;

namespace Kiln.KafkaBench;

/// <summary>One group consumer with the Worker's settings reads a topic from the beginning until it has been idle for a second.</summary>
internal static class Drain
{
    public static void Run(string bootstrap, string topic)
    {
        var config = KafkaClientDefaults.Consumer();
        config.BootstrapServers = bootstrap;
        config.GroupId = $"drain-{Guid.NewGuid():N}";
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).Build();
        consumer.Subscribe(topic);
        while (consumer.Consume(TimeSpan.FromSeconds(30)) is null)
        {
        }

        var consumed = 1L;
        var elapsed = Stopwatch.StartNew();
        var last = elapsed.Elapsed;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        while (elapsed.Elapsed - last < TimeSpan.FromSeconds(1))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not null)
            {
                consumed++;
                last = elapsed.Elapsed;
            }
        }

        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / consumed;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"drained {consumed:N0} messages in {last.TotalSeconds:0.0} s: {consumed / last.TotalSeconds:N0} msg/s; {cpu:0.0} µs CPU per message in this process"));
        consumer.Close();
    }
}
