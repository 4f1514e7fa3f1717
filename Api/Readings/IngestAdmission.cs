using System.Diagnostics.Metrics;
using System.Globalization;
using Confluent.Kafka;
using Kiln.Shared;
using Kiln.Shared.Readings;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.Api.Readings;

/// <summary>
/// Admits ingest only while the broker can keep what it is given until the Worker stores it. The broker
/// keeps a bounded amount per partition (the development broker 5 MiB, a real cluster its retention budget)
/// and drops the oldest data past it, stored or not; so every replica watches the Worker group's lag on
/// every partition (committed offsets against high watermarks) and refuses while the fullest partition's
/// lag is past <see cref="BacklogOptions.StopAt"/> of what that partition holds, until it is back under
/// <see cref="BacklogOptions.ResumeAt"/>. Between two reads a replica adds what it delivered itself since
/// the last one. Every replica reads the same offsets, so they decide alike; the gap between the stop
/// level and the whole partition covers what the other replicas deliver between two reads.
/// </summary>
internal sealed class IngestAdmission(
    IProducer<string, byte[]> producer, IConsumer<Ignore, Ignore> workerGroup, ProducedBatchSizes batchSizes, IngestOptions options, IMeterFactory meters, ILogger<IngestAdmission> logger)
    : BackgroundService, IHealthCheck
{
    public const string MeterName = "Kiln.Api";

    /// <summary>Partitions beyond this many are counted together in the last slot; the estimate only grows with it.</summary>
    private const int CountedPartitions = 1024;

    private readonly Counter<long> _refused = meters.Create(MeterName).CreateCounter<long>("kiln.ingest.refused", "{reading}",
        "Readings refused with 503 because the broker could not keep them until the Worker stores them.");

    private readonly BacklogOptions _backlog = options.Backlog;
    private readonly long[] _delivered = new long[CountedPartitions];
    private volatile Decision _decision = new(false, null, "has not read the Worker group's backlog yet", null, [], []);
    private long _recordBytes = BacklogOptions.InitialRecordBytes;
    private string? _lastFailure;

    /// <summary>What one reading costs the broker at most, uncompressed in a batch of its own, from the records this replica produces.</summary>
    public long RecordBytes => Interlocked.Read(ref _recordBytes);

    /// <summary>
    /// How many readings one partition can keep: at the worst bytes per message and messages per batch the
    /// producer sent in the last minute, with a margin; until its first statistics, at <see cref="RecordBytes"/>.
    /// </summary>
    public long PartitionCapacity
    {
        get
        {
            if (batchSizes.Worst is not { } worst)
            {
                return _backlog.PartitionBytes / RecordBytes;
            }

            var byBytes = _backlog.PartitionBytes / (worst.BytesPerMessage * _backlog.SizeMargin);
            var byBatches = _backlog.PartitionBatches > 0 ? _backlog.PartitionBatches * worst.MessagesPerBatch : double.MaxValue;
            return (long)Math.Min(byBytes, byBatches);
        }
    }

    /// <summary>Null when this many readings may be produced; else why not and when to retry.</summary>
    public Refusal? TryAdmit(int readings)
    {
        var decision = _decision;
        string reason;
        if (!decision.Admit)
        {
            reason = decision.Reason;
        }
        else if (decision.ReadAt is not { } readAt || DateTimeOffset.UtcNow - readAt > _backlog.MaxStaleness)
        {
            reason = $"The Worker's progress has not been readable for {_backlog.MaxStaleness.TotalSeconds:0} s ({_lastFailure ?? "no answer from the broker"}), so Kiln cannot tell whether the broker has room.";
        }
        else if (ProjectedFullest(decision) is var (partition, lag) && lag >= _backlog.StopAt * PartitionCapacity)
        {
            reason = string.Create(CultureInfo.InvariantCulture,
                $"Kiln is storing readings more slowly than they arrive: with what this replica delivered since its last look, the Worker is {lag:N0} readings behind on {Topology.Topics.Readings} partition {partition}, past {_backlog.StopAt:P0} of the {PartitionCapacity:N0} it can keep.");
        }
        else
        {
            return null;
        }

        _refused.Add(readings);
        return new Refusal(reason + " Nothing in this request was acknowledged; send it again after the delay.", decision.RetryAfter ?? TimeSpan.FromSeconds(1));
    }

    /// <summary>Counts a reading the broker acknowledged on <paramref name="partition"/>, for the projection between two reads.</summary>
    public void Delivered(int partition) => Interlocked.Increment(ref _delivered[Math.Min(partition, CountedPartitions - 1)]);

    /// <summary>The partition furthest behind once this replica's deliveries since the read are added to what was read.</summary>
    private (int Partition, long Lag) ProjectedFullest(Decision decision)
    {
        var fullest = (Partition: -1, Lag: -1L);
        foreach (var partition in decision.Partitions)
        {
            var slot = Math.Min(partition.Partition, CountedPartitions - 1);
            var lag = partition.Lag + Interlocked.Read(ref _delivered[slot]) - decision.DeliveredBeforeRead[slot];
            if (lag > fullest.Lag)
            {
                fullest = (partition.Partition, lag);
            }
        }

        return fullest;
    }

    /// <summary>Learns the size of the records actually produced, so the capacity follows the real message shape.</summary>
    public void Produced(long recordBytes)
    {
        var current = Interlocked.Read(ref _recordBytes);
        if (recordBytes > current)
        {
            Interlocked.CompareExchange(ref _recordBytes, recordBytes, current);
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var decision = _decision;
        return Task.FromResult(decision switch
        {
            { ReadAt: null } => HealthCheckResult.Unhealthy($"ingest: {decision.Reason}"),
            { Admit: false } => HealthCheckResult.Degraded($"ingest refused: {decision.Reason}"),
            _ => HealthCheckResult.Healthy($"ingest admitted: {decision.Reason}"),
        });
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Shares the producer's connections to the broker; nothing else to configure or dispose separately.
        using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
        using var timer = new PeriodicTimer(_backlog.ReadInterval);
        ReadingBacklog? previous = null;
        do
        {
            try
            {
                // Taken before the read: what is delivered during it may be counted twice, never missed.
                var deliveredBefore = _delivered.Select((_, i) => Interlocked.Read(ref _delivered[i])).ToArray();
                var backlog = await ReadingBacklog.ReadAsync(admin, workerGroup, Topology.Topics.Readings, _backlog.ReadTimeout);
                _decision = Decide(backlog, previous, _decision, deliveredBefore);
                previous = backlog;
                if (_lastFailure is not null)
                {
                    logger.LogInformation("The Worker group's backlog is readable again: {State}", _decision.Reason);
                    _lastFailure = null;
                }
            }
            catch (Exception ex) when (ex is KafkaException or TimeoutException or InvalidOperationException)
            {
                if (stoppingToken.IsCancellationRequested)
                {
                    return; // the host is stopping and the producer's connections with it: not a failure
                }

                if (_lastFailure is null)
                {
                    logger.LogWarning("Cannot read the Worker group's backlog on {Topic}: {Reason}. Ingest is refused after {Staleness} s without a reading.",
                        Topology.Topics.Readings, ex.Message, _backlog.MaxStaleness.TotalSeconds);
                }

                _lastFailure = ex.Message;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private Decision Decide(ReadingBacklog backlog, ReadingBacklog? previous, Decision before, long[] deliveredBefore)
    {
        var capacity = PartitionCapacity;
        var fullest = backlog.Fullest;
        var fill = (double)fullest.Lag / capacity;
        var admit = before.Admit || before.ReadAt is null ? fill < _backlog.StopAt : fill < _backlog.ResumeAt;
        var state = string.Create(CultureInfo.InvariantCulture,
            $"the Worker is {fullest.Lag:N0} readings behind on {Topology.Topics.Readings} partition {fullest.Partition}, {fill:P0} of the {capacity:N0} it can keep");
        if (admit)
        {
            if (!before.Admit && before.ReadAt is not null)
            {
                logger.LogInformation("Ingest admitted again: {State}", state);
            }

            return new Decision(true, backlog.ReadAt, state, null, backlog.Partitions, deliveredBefore);
        }

        // How long until the fullest partition is back under the resume level, at the rate the Worker stored since the last read.
        var storedPerSecond = previous is null ? 0 : StoredPerSecond(previous, backlog, fullest.Partition);
        var excess = fullest.Lag - (long)(_backlog.ResumeAt * capacity);
        var retryAfter = TimeSpan.FromSeconds(Math.Clamp(storedPerSecond > 0 ? Math.Ceiling(excess / storedPerSecond) : 5, 1, 30));
        if (before.Admit)
        {
            logger.LogWarning("Ingest refused until the Worker catches up: {State}", state);
        }

        return new Decision(false, backlog.ReadAt, $"Kiln is storing readings more slowly than they arrive: {state}.", retryAfter, backlog.Partitions, deliveredBefore);
    }

    private static double StoredPerSecond(ReadingBacklog previous, ReadingBacklog current, int partition)
    {
        var seconds = (current.ReadAt - previous.ReadAt).TotalSeconds;
        var before = previous.Partitions.FirstOrDefault(p => p.Partition == partition);
        var now = current.Partitions.First(p => p.Partition == partition);
        return before is null || seconds <= 0 ? 0 : Math.Max(0, now.Committed - before.Committed) / seconds;
    }

    public sealed record Refusal(string Reason, TimeSpan RetryAfter);

    private sealed record Decision(
        bool Admit, DateTimeOffset? ReadAt, string Reason, TimeSpan? RetryAfter, IReadOnlyList<PartitionBacklog> Partitions, long[] DeliveredBeforeRead);
}

/// <summary>How much backlog the broker may hold (section <c>Kiln:Ingest:Backlog</c>).</summary>
internal sealed record BacklogOptions
{
    /// <summary>
    /// A Kafka record of one reading before compression: key, 17-byte value, the trace context header and
    /// the record's own fields. Raised by what is actually produced, never lowered.
    /// </summary>
    public const long InitialRecordBytes = 128;

    /// <summary>
    /// Bytes one partition keeps before it drops its oldest data: the development broker keeps 5 MiB
    /// (fixed in librdkafka's mock); for a real cluster, the topic's <c>retention.bytes</c>.
    /// </summary>
    public long PartitionBytes { get; init; } = 5 * 1024 * 1024;

    /// <summary>Record batches one partition keeps (the development broker 100,000); 0 for no such limit.</summary>
    public long PartitionBatches { get; init; } = 100_000;

    /// <summary>Measured bytes per message are multiplied by this: what is in the log may have been sent in smaller batches.</summary>
    public double SizeMargin { get; init; } = 1.25;

    /// <summary>Ingest stops when the fullest partition's backlog reaches this share of what it keeps…</summary>
    public double StopAt { get; init; } = 0.7;

    /// <summary>…and resumes once it is back under this share.</summary>
    public double ResumeAt { get; init; } = 0.5;

    public TimeSpan ReadInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Without a reading this recent, the room cannot be known and ingest is refused.</summary>
    public TimeSpan MaxStaleness { get; init; } = TimeSpan.FromSeconds(5);
}
