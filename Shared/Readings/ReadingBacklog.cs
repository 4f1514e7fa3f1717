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
public sealed record ReadingBacklog(DateTimeOffset ReadAt, IReadOnlyList<PartitionBacklog> Partitions)
{
    public long TotalLag => Partitions.Sum(p => p.Lag);

    /// <summary>The partition furthest behind: the first to run out of room, since the broker's limits are per partition.</summary>
    public PartitionBacklog Fullest => Partitions.MaxBy(p => p.Lag)!;

    /// <summary>
    /// Why this log is not the continuation of <paramref name="earlier"/>, or null when it is. Kafka never moves a
    /// high watermark back, never holds a commit past the end of a log, and does not forget an active group's
    /// commits, except when the broker lost its state (a development broker that kept it in memory, an unclean
    /// leader election). All three are looked at: by the next look a restarted broker's new log may have grown past
    /// a partition's old end, and a commit in flight at the crash may have reached the new broker.
    /// (The cluster id would say it best, but librdkafka keeps the first one it saw for the life of a client.)
    /// </summary>
    public string? Replaces(ReadingBacklog earlier)
    {
        var pairs = Partitions.Join(earlier.Partitions, p => p.Partition, p => p.Partition, (now, then) => (now, then)).ToList();
        if (pairs.FirstOrDefault(p => p.now.LogEnd < p.then.LogEnd) is { now: not null } shrunk)
        {
            return $"partition {shrunk.now.Partition}'s end offset went back from {shrunk.then.LogEnd:N0} to {shrunk.now.LogEnd:N0}: the broker lost its log";
        }

        if (Partitions.FirstOrDefault(p => p.Committed > p.LogEnd) is { } ahead)
        {
            return $"partition {ahead.Partition}'s committed offset {ahead.Committed:N0} is past its end offset {ahead.LogEnd:N0}: the broker lost its log";
        }

        var hadCommits = pairs.Count(p => p.then.Committed >= 0);
        var forgotten = pairs.Count(p => p.then.Committed >= 0 && p.now.Committed < 0);
        return hadCommits > 0 && forgotten * 2 >= hadCommits
            ? $"the group's committed offsets on {forgotten} of {hadCommits} partitions are gone: the broker lost its state"
            : null;
    }

    /// <summary>
    /// Reads the topic's partitions, the group's committed offsets and both watermarks of every partition: four requests
    /// to the broker. The commits are read through <paramref name="group"/>, a consumer configured with the group's
    /// <c>group.id</c> (a member of the group, or a client that never subscribes and only reads them), not through the
    /// admin API: in librdkafka 2.16 an admin request to a group's coordinator (<c>ListConsumerGroupOffsets</c>) that
    /// cannot be sent, as while the broker is down, aborts the whole process on a failed assertion
    /// (<c>rd_kafka_enq_once_del_source_return</c>, librdkafka issue #4605). The consumer's own request fails with an
    /// error instead.
    /// </summary>
    public static async Task<ReadingBacklog> ReadAsync<TKey, TValue>(IAdminClient admin, IConsumer<TKey, TValue> group, string topic, TimeSpan timeout)
    {
        // GetMetadata and Committed block; the others are asynchronous.
        var metadata = await Task.Run(() => admin.GetMetadata(topic, timeout));
        var described = metadata.Topics.Single();
        if (described.Error.IsError)
        {
            throw new KafkaException(described.Error);
        }

        var partitions = described.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();

        // Commits first, the log's ends after: then no commit read can be past the end read, unless the log was lost.
        var committed = await Task.Run(() => group.Committed(partitions, timeout));
        var start = ListOffsetsAsync(admin, partitions, OffsetSpec.Earliest(), timeout);
        var end = ListOffsetsAsync(admin, partitions, OffsetSpec.Latest(), timeout);
        await Task.WhenAll(start, end);

        // A partition without a commit comes back as Offset.Unset (-1001): negative, as PartitionBacklog expects.
        var committedOffsets = committed.ToDictionary(p => p.Partition.Value, p => p.Offset.Value);
        return new ReadingBacklog(DateTimeOffset.UtcNow, [.. partitions.Select(p => new PartitionBacklog(
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
