using Kiln.ServiceDefaults;
using Kiln.Shared;
using Kiln.Shared.Schema;
using Kiln.Worker.Alerts;
using Kiln.Worker.Ingestion;

namespace Kiln.Worker.Extensions;

internal static class WorkerExtensions
{
    public static void AddWorkerServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource(Topology.Resources.Database);
        builder.AddLatestValueCache();

        var assignment = new PartitionAssignment();
        builder.Services.AddSingleton(assignment);
        builder.AddKafkaConsumer<string, byte[]>(Topology.Resources.Kafka,
            consumer =>
            {
                consumer.Config.GroupId = Topology.WorkerConsumerGroup;
                // A position the broker no longer holds is an error the Worker reports and counts (ReadingLoss),
                // never a quiet jump to the earliest or latest offset.
                consumer.Config.AutoOffsetReset = Confluent.Kafka.AutoOffsetReset.Error;
                // Incremental rebalancing: a replica joining or leaving moves only the partitions that change hands,
                // the others keep consuming; and one partition can be assigned again at a chosen offset on its own.
                consumer.Config.PartitionAssignmentStrategy = Confluent.Kafka.PartitionAssignmentStrategy.CooperativeSticky;
                // A fetch that finds nothing waits this long on the broker before answering; newly
                // produced readings then wait for the next fetch, so keep it short (default 500 ms).
                consumer.Config.FetchWaitMaxMs = 50;
                // A crashed replica's partitions move to the others only when its session expires, and on the
                // development broker every join after the group's first waits session.timeout.ms - 1 s: a
                // short session means faster failover and rebalancing. Heartbeats stay at a third of it.
                consumer.Config.SessionTimeoutMs = 3000;
                consumer.Config.HeartbeatIntervalMs = 1000;
            },
            consumer => assignment.Attach(consumer));
        builder.AddKafkaProducer<string, byte[]>(Topology.Resources.Kafka);
        // Reads the end of kiln.alerts by assignment, never joining a group: what a replica taking over the outbox finds produced.
        builder.AddKeyedKafkaConsumer<string, byte[]>(Topology.Resources.Kafka, consumer =>
        {
            consumer.Config.GroupId = "worker-alerts-tail";
            consumer.Config.EnableAutoCommit = false;
        });

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(IngestionOptions.From(builder.Configuration));
        builder.Services.AddSingleton<SchemaMigrator>();
        builder.Services.AddSingleton<ReadingBatchWriter>();
        builder.Services.AddSingleton<DeadLetterWriter>();
        builder.Services.AddSingleton<ReadingLoss>();
        builder.Services.AddSingleton<BrokerLogWatch>();
        builder.Services.AddHostedService(services => services.GetRequiredService<BrokerLogWatch>());
        builder.Services.AddHealthChecks().AddCheck<ReadingLoss>("readings-lost");
        builder.Services.AddHostedService<ReadingConsumer>();
        builder.Services.AddSingleton<AlertRecorder>();
        builder.Services.AddHostedService<AlertPublisher>();
        builder.AddRetention();
        builder.Services.AddHealthChecks().AddCheck<PartitionAssignment>("kafka-assignment", tags: [HealthEndpoints.ReadyTag]);
    }
}
