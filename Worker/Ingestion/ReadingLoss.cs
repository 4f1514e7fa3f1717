using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Readings the broker no longer held when the Worker came to store them. Loss is never quiet: each
/// one is an error in the log with the partition, the offsets and the count, a <c>kiln.readings.lost</c>
/// increment, and a Degraded health report for <see cref="DegradedFor"/> after the last one.
/// </summary>
internal sealed class ReadingLoss(TimeProvider clock, IMeterFactory meters, ILogger<ReadingLoss> logger) : IHealthCheck
{
    /// <summary>How long the health report stays Degraded after a loss, so that a probe between two looks still sees it.</summary>
    public static readonly TimeSpan DegradedFor = TimeSpan.FromMinutes(10);

    private readonly Counter<long> _lost = meters.Create(LatestValueMetrics.MeterName).CreateCounter<long>("kiln.readings.lost", "{reading}",
        "Readings acknowledged to a client that the broker dropped or lost before the Worker stored them.");

    private readonly Lock _gate = new();
    private long _total;
    private (DateTimeOffset At, string What)? _last;

    /// <summary>The broker dropped [<paramref name="from"/>, <paramref name="to"/>) of a partition before they were stored.</summary>
    public void Dropped(string topic, int partition, long from, long to)
    {
        var count = to - from;
        Record([(partition, count)],
            $"{count:N0} readings lost on {topic} partition {partition}: offsets {from:N0} to {to - 1:N0} were dropped by the broker " +
            $"before the Worker stored them (its retention is smaller than the backlog). Consumption resumes at offset {to:N0}.");
    }

    /// <summary>
    /// The log is not the one the Worker was reading: the broker lost it (a restarted development broker). One line for
    /// the partitions this replica held, with what each had waiting at the Worker's last look (at least that is lost).
    /// </summary>
    public void Replaced(string topic, IReadOnlyCollection<(int Partition, long LostAtLeast)> partitions, string cause)
    {
        var lost = partitions.Sum(p => p.LostAtLeast);
        Record(partitions.Where(p => p.LostAtLeast > 0).ToList(),
            $"{topic} was replaced by a new, empty log ({cause}). What the old log held on the partitions this replica read " +
            $"({(partitions.Count == 0 ? "none" : string.Join(", ", partitions.Select(p => p.Partition)))}) and it had not stored is lost: " +
            $"{(lost > 0 ? $"at least {lost:N0} readings" : "count unknown")}. Consumption restarts at the beginning of the new log.");
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_last is { } last && clock.GetUtcNow() - last.At < DegradedFor
                ? HealthCheckResult.Degraded($"{_total:N0} readings lost since start; last at {last.At:u}: {last.What}")
                : HealthCheckResult.Healthy(_total == 0 ? "no reading lost" : $"{_total:N0} readings lost since start, none in the last {DegradedFor.TotalMinutes:0} minutes"));
        }
    }

    private void Record(IReadOnlyCollection<(int Partition, long Count)> lost, string what)
    {
        lock (_gate)
        {
            _total += lost.Sum(p => p.Count);
            _last = (clock.GetUtcNow(), what);
        }

        foreach (var (partition, count) in lost)
        {
            _lost.Add(count, new KeyValuePair<string, object?>("messaging.destination.partition.id", partition));
        }

        logger.LogError("{What}", what);
    }
}
