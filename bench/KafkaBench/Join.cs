using System.Diagnostics;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;

namespace Kiln.KafkaBench;

/// <summary>
/// When each member of a new consumer group gets its partitions, with Kiln's consumer settings: members start
/// <c>stagger</c> apart, as the AppHost's Worker replicas do.
/// </summary>
internal static class Join
{
    public static void Run(string bootstrap, string topic, int members, TimeSpan stagger, int sessionMs, bool cooperative)
    {
        var group = $"join-{Guid.NewGuid():N}";
        var clock = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, members).Select(member =>
        {
            var thread = new Thread(() => Member(member))
            {
                IsBackground = true,
            };
            thread.Start();
            return thread;
        }).ToList();
        threads.ForEach(thread => thread.Join());

        void Member(int member)
        {
            Thread.Sleep(stagger * member);
            var config = KafkaClientDefaults.Consumer();
            config.BootstrapServers = bootstrap;
            config.GroupId = group;
            config.SessionTimeoutMs = sessionMs;
            if (cooperative)
            {
                config.PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky;
            }

            var events = new List<string>();
            var subscribed = clock.Elapsed;
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(config)
                .SetPartitionsAssignedHandler((_, partitions) => events.Add($"+{partitions.Count} at {clock.Elapsed.TotalSeconds:0.00} s"))
                .SetPartitionsRevokedHandler((_, partitions) => events.Add($"-{partitions.Count} at {clock.Elapsed.TotalSeconds:0.00} s"))
                .Build();
            consumer.Subscribe(topic);
            while (clock.Elapsed < subscribed + TimeSpan.FromSeconds(10))
            {
                consumer.Consume(TimeSpan.FromMilliseconds(100));
            }

            var seen = string.Join(", ", events); // before Close, which revokes everything
            consumer.Close();
            Console.WriteLine($"member {member} subscribed at {subscribed.TotalSeconds:0.00} s: {seen}");
        }
    }
}
