using System.Diagnostics;
using Kiln.ServiceDefaults.Kafka;

namespace Kiln.DevKafka;

internal static class DevBroker
{
    private const string BootstrapLinePrefix = "KAFKA_BOOTSTRAP=";
    private const string ListenerLinePrefix = "KAFKA_LISTENER=";
    private const string ControlLinePrefix = "KAFKA_CONTROL=";

    /// <summary>Starts the cluster, announces it, and serves until <paramref name="stopRequested"/> is signalled.</summary>
    public static void Run(BrokerOptions options, WaitHandle stopRequested)
    {
        var started = Stopwatch.StartNew();
        var library = KafkaNativeLibrary.Load(typeof(DevBroker).Assembly);
        Console.Out.WriteLine($"librdkafka {library.Version} ({library.Path})");
        using var cluster = MockCluster.Start(options.Brokers);
        foreach (var topic in options.Topics)
        {
            cluster.CreateTopic(topic.Name, topic.Partitions);
            if (options.LeaderEpoch > 0)
            {
                cluster.StartLeaderEpochsAt(topic.Name, topic.Partitions, options.LeaderEpoch);
            }
        }

        if (options.Advertise is var (host, port))
        {
            cluster.Advertise(host, port);
        }

        if (options.PortFile is { } portFile)
        {
            BootstrapFile.WriteAtomically(portFile, cluster.BootstrapServers);
        }

        // Declared after the cluster, so disposed before it: no command acts on a destroyed cluster.
        using var control = options.ControlPort is { } controlPort
            ? ControlListener.Start(controlPort, line => ControlCommands.Execute(cluster, line))
            : null;

        // Launchers parse these exact lines (the bootstrap line last: ready); everything else on stdout is for people.
        Console.Out.WriteLine($"{ListenerLinePrefix}{cluster.ListenerAddresses}");
        if (control is not null)
        {
            Console.Out.WriteLine($"{ControlLinePrefix}127.0.0.1:{control.Port}");
        }

        Console.Out.WriteLine($"{BootstrapLinePrefix}{cluster.BootstrapServers}");
        Console.Out.WriteLine(
            $"dev broker ready: {cluster.BrokerCount} broker(s) at {cluster.ListenerAddresses}" +
            (options.Advertise is null ? "; " : $", advertised as {cluster.BootstrapServers}; ") +
            $"topics {DescribeTopics(options.Topics)}; " +
            (options.LeaderEpoch > 0 ? $"leader epoch {options.LeaderEpoch}; " : "") +
            $"{started.Elapsed.TotalSeconds:0.000} s");

        stopRequested.WaitOne();
        Console.Out.WriteLine("dev broker stopping");
    }

    private static string DescribeTopics(IReadOnlyList<TopicSpec> topics) =>
        topics.Count == 0 ? "none (producing auto-creates a topic with 4 partitions)" : string.Join(", ", topics);
}
