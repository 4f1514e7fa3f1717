using System.Diagnostics.Metrics;
using Confluent.Kafka;
using Kiln.Shared;
using Kiln.Shared.Readings;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Looks at <c>kiln.readings</c> every second through the consumer's own connections: the group's lag
/// (published as <c>kiln.readings.lag</c>), and whether the log is still the one it read before: a
/// restarted development broker starts empty, without the group's commits, and numbers its offsets from 0 again;
/// a consumer whose position lies inside the new log would skip its first messages without any error,
/// so the loss is reported and the consumer loop is told to read the new log from its beginning.
/// </summary>
internal sealed class BrokerLogWatch(
    IConsumer<string, byte[]> consumer, PartitionAssignment assignment, ReadingLoss loss, IMeterFactory meters, ILogger<BrokerLogWatch> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private volatile ReadingBacklog? _last;
    private IReadOnlyList<TopicPartition> _heldAtLast = [];
    private int _replaced;
    private int _failures;

    /// <summary>True once after the log was replaced; the consumer loop then rewinds every partition it holds.</summary>
    public bool TakeReplacedLog() => Interlocked.Exchange(ref _replaced, 0) == 1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        meters.Create(LatestValueMetrics.MeterName).CreateObservableGauge("kiln.readings.lag", () => _last?.TotalLag ?? 0, "{reading}",
            "Readings on the broker that the Worker group has not stored yet, over every partition.");
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                var now = await ReadingBacklog.ReadAsync(admin, consumer, Topology.Topics.Readings, Interval * 2);
                if (_last is { } before && now.Replaces(before) is { } cause)
                {
                    Replaced(before, cause);
                    assignment.RewindOnAssignment(now.Partitions.Select(p => new TopicPartition(Topology.Topics.Readings, p.Partition)));
                }

                _last = now;
                _heldAtLast = assignment.Held;
                _failures = 0;
            }
            catch (Exception ex) when (ex is KafkaException or InvalidOperationException)
            {
                if (stoppingToken.IsCancellationRequested)
                {
                    return; // the host is stopping and the consumer's connections with it: not a failure
                }

                logger.LogDebug("Could not read the backlog of {Topic}: {Reason}", Topology.Topics.Readings, ex.Message);
                if (++_failures == 10)
                {
                    logger.LogWarning("The backlog of {Topic} has not been readable for 10 s ({Reason}): a lost broker log would go unnoticed meanwhile",
                        Topology.Topics.Readings, ex.Message);
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private void Replaced(ReadingBacklog before, string cause)
    {
        // What this replica held when it last looked: a broker restart may already have cost it its assignment.
        loss.Replaced(Topology.Topics.Readings, [.. _heldAtLast.Where(p => p.Topic == Topology.Topics.Readings).Select(p =>
            (p.Partition.Value, before.Partitions.FirstOrDefault(b => b.Partition == p.Partition.Value)?.Lag ?? 0))], cause);
        Interlocked.Exchange(ref _replaced, 1);
    }
}
