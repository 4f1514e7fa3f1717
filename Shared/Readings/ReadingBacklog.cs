using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Kiln.Shared.Readings;

/// <summary>One partition of <c>kiln.readings</c> as the broker holds it and as far as the Worker's group has stored it.</summary>
/// <param name="LogStart">The first offset the broker still holds (its low watermark).</param>
/// <param name="LogEnd">The offset the next message will get (its high watermark).</param>
/// <param name="Committed">The group's committed offset, or a negative number when it has none.</param>
public sealed record PartitionBacklog(int Partition, long LogStart, long LogEnd, long Committed)
{
    /// <summary>Messages the broker holds that the group has not stored yet. Without a commit the group starts at the log start.</summary>
    public long Lag => LogEnd - Math.Max(Committed < 0 ? LogStart : Committed, LogStart);

    /// <summary>Messages the group had not stored that the broker no longer holds: lost, unless zero.</summary>
    public long Dropped => Committed >= 0 && LogStart > Committed ? LogStart - Committed : 0;
}

/// <summary>The consumer group's position on a topic, read at one moment.</summary>
/// <param name="ClusterId">The cluster's id as the broker reports it; the development broker gets a new one each time it starts.</param>
public sealed record ReadingBacklog(DateTimeOffset ReadAt, string? ClusterId, IReadOnlyList<PartitionBacklog> Partitions)
{
    public long TotalLag => Partitions.Sum(p => p.Lag);

    /// <summary>The partition furthest behind: the first to run out of room, since the broker's limits are per partition.</summary>
    public PartitionBacklog Fullest => Partitions.MaxBy(p => p.Lag)!;

    /// <summary>
    /// Why this log is not the continuation of <paramref name="earlier"/>, or null when it is. Kafka never
    /// moves a high watermark back except when it lost data (an unclean leader election, a broker that kept
    /// its log only in memory); a new cluster id means a different broker altogether.
    /// </summary>
    public string? Replaces(ReadingBacklog earlier)
    {
        if (ClusterId is not null && earlier.ClusterId is not null && ClusterId != earlier.ClusterId)
        {
            return $"the cluster id changed from {earlier.ClusterId} to {ClusterId}: the broker restarted";
        }

        var shrunk = Partitions.Join(earlier.Partitions, p => p.Partition, p => p.Partition, (now, then) => (now, then))
            .FirstOrDefault(p => p.now.LogEnd < p.then.LogEnd);
        return shrunk.now is null
            ? null
            : $"partition {shrunk.now.Partition}'s end offset went back from {shrunk.then.LogEnd:N0} to {shrunk.now.LogEnd:N0}: the broker lost its log";
    }

    /// <summary>
    /// Reads the topic's partitions, both watermarks of every partition and the group's committed offsets:
    /// four requests to the broker, which every client (producer or consumer) can make.
    /// </summary>
    public static async Task<ReadingBacklog> ReadAsync(IAdminClient admin, string topic, string group, TimeSpan timeout)
    {
        // GetMetadata blocks; the others are asynchronous.
        var metadata = await Task.Run(() => admin.GetMetadata(topic, timeout));
        var described = metadata.Topics.Single();
        if (described.Error.IsError)
        {
            throw new KafkaException(described.Error);
        }

        var partitions = described.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();

        var start = ListOffsetsAsync(admin, partitions, OffsetSpec.Earliest(), timeout);
        var end = ListOffsetsAsync(admin, partitions, OffsetSpec.Latest(), timeout);
        var committed = admin.ListConsumerGroupOffsetsAsync(
            [new ConsumerGroupTopicPartitions(group, partitions)], new ListConsumerGroupOffsetsOptions { RequestTimeout = timeout });
        await Task.WhenAll(start, end, committed);

        var committedOffsets = committed.Result.Single().Partitions.ToDictionary(p => p.Partition.Value, p => p.Offset.Value);
        return new ReadingBacklog(DateTimeOffset.UtcNow, admin.ClusterId(timeout), [.. partitions.Select(p => new PartitionBacklog(
            p.Partition.Value, start.Result[p.Partition.Value], end.Result[p.Partition.Value], committedOffsets.GetValueOrDefault(p.Partition.Value, -1)))]);
    }

    private static async Task<Dictionary<int, long>> ListOffsetsAsync(IAdminClient admin, List<TopicPartition> partitions, OffsetSpec spec, TimeSpan timeout)
    {
        var listed = await admin.ListOffsetsAsync(
            partitions.Select(p => new TopicPartitionOffsetSpec { TopicPartition = p, OffsetSpec = spec }),
            new ListOffsetsOptions { RequestTimeout = timeout });
        return listed.ResultInfos.ToDictionary(r => r.TopicPartitionOffsetError.Partition.Value, r => r.TopicPartitionOffsetError.Offset.Value);
    }
}
