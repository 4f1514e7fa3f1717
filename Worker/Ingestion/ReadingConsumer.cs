using System.Diagnostics;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Kiln.Shared;
using Kiln.Shared.Readings;
using Kiln.Shared.Schema;
using Kiln.Worker.Alerts;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// The ingestion loop: consume a batch from <c>kiln.readings</c>, store it in PostgreSQL, update the
/// latest values in Redis, and only then commit the offsets. Storing a batch overlaps consuming the next
/// one (which grows meanwhile, up to <see cref="IngestionOptions.MaxBatchSize"/>); batches are stored one
/// at a time, in order. A failure of the database keeps the batch and retries it with backoff (nothing is
/// committed, nothing is skipped); the cache never holds a batch up (see <see cref="LatestValueCache"/>);
/// a message that can never be processed goes to the dead-letter topic so it never blocks its partition.
/// </summary>
internal sealed class ReadingConsumer(
    IConsumer<string, byte[]> consumer,
    SchemaMigrator migrator,
    ReadingBatchWriter database,
    AlertRecorder alerts,
    LatestValueCache cache,
    DeadLetterWriter deadLetters,
    BrokerLogWatch logWatch,
    PartitionAssignment assignment,
    ReadingLoss loss,
    IngestionOptions options,
    ILogger<ReadingConsumer> logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    /// <summary>While a batch is being stored, how often the next one's consumption looks whether it is done.</summary>
    private static readonly TimeSpan StoreCheckInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Per partition, the offset after the last stored message with that message's leader epoch, until it is committed.
    /// The epoch goes with the commit: a broker that lost the log the offset belongs to (a restarted development broker
    /// leads in a later epoch) refuses it rather than apply it to its new log.
    /// </summary>
    private readonly Dictionary<TopicPartition, TopicPartitionOffset> _stored = [];

    /// <summary>The batch being stored, and its messages; the consumer is used from the loop's thread only.</summary>
    private (Task Task, List<ConsumeResult<string, byte[]>> Batch)? _storing;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // Consume() blocks: the loop has a thread of its own, and waits there for each batch to be stored.
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stoppingToken)
    {
        // Joining the group takes seconds (the broker waits for other members); let it run in the
        // background while the schema is brought up to date. Nothing is consumed before that.
        consumer.Subscribe(Topology.Topics.Readings);
        try
        {
            RetryAsync("apply schema migrations", () => migrator.MigrateAsync(stoppingToken), stoppingToken).GetAwaiter().GetResult();
            while (!stoppingToken.IsCancellationRequested)
            {
                if (logWatch.TakeReplacedLog())
                {
                    FinishStoring();
                    RewindHeldPartitions();
                }

                var batch = NextBatch(stoppingToken);
                FinishStoring();
                CommitStored();
                if (batch.Count > 0)
                {
                    _storing = (ProcessAsync(batch, stoppingToken), batch);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            try
            {
                FinishStoring(); // nothing may be half done with the consumer closed under it
            }
            catch (Exception ex)
            {
                // Not committed, so delivered again; what ends the loop (a stop, or the exception on its way out) goes on.
                logger.LogDebug("The batch being stored when the loop ended was not stored ({Reason}); it will be delivered again", ex.Message);
            }

            // Leave the group now, so the other replicas take over these partitions at once.
            consumer.Close();
        }
    }

    /// <summary>Waits until the batch being stored, if any, is stored, and notes its offsets for the commit.</summary>
    private void FinishStoring()
    {
        if (_storing is not { } storing)
        {
            return;
        }

        _storing = null;
        storing.Task.GetAwaiter().GetResult();
        Stored(storing.Batch);
    }

    /// <summary>
    /// The next batch: what comes within <see cref="IngestionOptions.BatchWindow"/> of its first message, and while the
    /// previous batch is still being stored, whatever comes until it is, up to <see cref="IngestionOptions.MaxBatchSize"/>.
    /// </summary>
    private List<ConsumeResult<string, byte[]>> NextBatch(CancellationToken stoppingToken)
    {
        var batch = new List<ConsumeResult<string, byte[]>>();
        var first = Consume(TimeSpan.FromMilliseconds(250));
        if (first is null)
        {
            return batch;
        }

        batch.Add(first);
        var window = Stopwatch.StartNew();
        while (batch.Count < options.MaxBatchSize && !stoppingToken.IsCancellationRequested)
        {
            var remaining = options.BatchWindow - window.Elapsed;
            var storing = _storing is { Task.IsCompleted: false };
            if (remaining <= TimeSpan.Zero && !storing)
            {
                break;
            }

            var next = Consume(remaining > TimeSpan.Zero ? remaining : StoreCheckInterval);
            if (next is not null)
            {
                batch.Add(next);
            }
            else if (!storing)
            {
                break;
            }
        }

        return batch;
    }

    /// <summary>
    /// The next message, or null when none came in time or a partition's position had to be moved. The consumer runs with <c>auto.offset.reset=error</c>, so a
    /// position the broker no longer holds stops its partition here instead of being skipped quietly.
    /// </summary>
    private ConsumeResult<string, byte[]>? Consume(TimeSpan timeout)
    {
        try
        {
            return consumer.Consume(timeout);
        }
        catch (ConsumeException ex) when (ex.Error.Code == ErrorCode.Local_AutoOffsetReset)
        {
            Reposition(ex.ConsumerRecord.TopicPartition, ex.ConsumerRecord.Offset, ex.Error.Reason);
            return null;
        }
    }

    /// <summary>Moves a partition whose position the broker does not hold to where its data now starts, saying what that cost.</summary>
    private void Reposition(TopicPartition partition, Offset position, string reason)
    {
        var watermarks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5));
        var start = watermarks.Low.Value;
        if (position.IsSpecial)
        {
            // The group has never committed on this partition: a new group, not a loss. Start at the beginning.
            logger.LogDebug("No committed offset on {Partition}; starting at its first offset {Start}", partition, start);
        }
        else if (position.Value < start)
        {
            loss.Dropped(partition.Topic, partition.Partition.Value, position.Value, start);
        }
        else
        {
            // Not behind the log's start, yet refused: past the end of the log when the broker looked, or in a leader epoch
            // the log no longer has (librdkafka detected a truncation). Either way the log is not the one this position
            // was read from, even if it has grown past the position since (a restarted broker's new log, which readings
            // were produced to meanwhile): reading on from the position would skip the new log's first readings.
            loss.Replaced(partition.Topic, [(partition.Partition.Value, 0)],
                $"partition {partition.Partition.Value}: the broker no longer holds the log the Worker's position {position.Value:N0} " +
                $"belongs to (its log now ends at {watermarks.High.Value:N0}): {reason}");
        }

        _stored.Remove(partition);
        Restart(partition, start);
    }

    /// <summary>After the broker's log was replaced, reads every held partition again from its beginning (storing is idempotent).</summary>
    private void RewindHeldPartitions()
    {
        _stored.Clear(); // offsets of the lost log mean nothing in the new one
        foreach (var partition in consumer.Assignment)
        {
            Restart(partition, Offset.Beginning);
        }
    }

    /// <summary>
    /// Moves a held partition's position. A seek needs a running fetcher, which a partition has not while its position is
    /// being reset or just after it was assigned ("Local: Erroneous state"); assigning it again at the offset always works.
    /// </summary>
    private void Restart(TopicPartition partition, Offset offset)
    {
        if (consumer.Assignment.Contains(partition))
        {
            consumer.IncrementalUnassign([partition]);
            consumer.IncrementalAssign([new TopicPartitionOffset(partition, offset)]);
        }
    }

    /// <summary>Everything done with a batch, from decoding to the cache, inside one process span.</summary>
    private async Task ProcessAsync(List<ConsumeResult<string, byte[]>> batch, CancellationToken stoppingToken)
    {
        using var process = KafkaTracing.StartProcess(consumer, batch);
        try
        {
            await StoreAsync(batch, process.Activity, stoppingToken);
        }
        catch (Exception ex)
        {
            process.Fail(ex);
            throw;
        }
    }

    private async Task StoreAsync(List<ConsumeResult<string, byte[]>> batch, Activity? activity, CancellationToken stoppingToken)
    {
        var readings = new List<ReadingMessage>(batch.Count);
        foreach (var message in batch)
        {
            var (reading, problem) = ReadingDecoder.Decode(message.Message.Key, message.Message.Value);
            if (reading is null)
            {
                await RetryAsync("dead-letter a message", () => deadLetters.WriteAsync(message, problem!, stoppingToken), stoppingToken);
                continue;
            }

            readings.Add(reading);
        }

        if (readings.Count == 0)
        {
            return;
        }

        var inserted = 0;
        await RetryAsync("store readings in PostgreSQL", async () => inserted = await database.WriteAsync(readings, stoppingToken), stoppingToken);
        var transitions = 0;
        await RetryAsync("evaluate alert rules", async () => transitions = await alerts.RecordAsync(readings, stoppingToken), stoppingToken);
        // Redis holds only what PostgreSQL can rebuild: while it is unavailable the sensors are marked for repair and the batch is committed.
        await cache.UpdateAsync(readings, stoppingToken);
        activity?.SetTag("kiln.readings.inserted", inserted);
        activity?.SetTag("kiln.alerts.transitions", transitions);
        logger.LogDebug("Stored {Inserted} new of {Count} readings", inserted, readings.Count);
    }

    /// <summary>Notes, per partition, the offset after the last message of a stored batch: what is to be committed.</summary>
    private void Stored(List<ConsumeResult<string, byte[]>> batch)
    {
        foreach (var partition in batch.GroupBy(m => m.TopicPartition))
        {
            var last = partition.MaxBy(m => m.Offset.Value)!;
            _stored[partition.Key] = new TopicPartitionOffset(partition.Key, last.Offset.Value + 1, last.LeaderEpoch);
        }
    }

    /// <summary>
    /// Commits what was stored on the partitions this replica still holds. A commit refused during a rebalance is tried
    /// again on the next turn of the loop, batch or not: a partition that then goes quiet would otherwise keep a
    /// committed offset behind what is stored (seen as lag by the Api, and stored again after the next restart).
    /// </summary>
    private void CommitStored()
    {
        if (_stored.Count == 0)
        {
            return;
        }

        var held = consumer.Assignment.ToHashSet();
        var offsets = _stored.Values.Where(o => held.Contains(o.TopicPartition)).ToList();
        try
        {
            if (offsets.Count > 0)
            {
                consumer.Commit(offsets);
                assignment.Committed(offsets.Select(o => o.TopicPartition));
            }

            _stored.Clear(); // what is no longer held is its new owner's to commit
        }
        catch (TopicPartitionOffsetException ex)
        {
            // Some partitions were committed, some not: the others stay for the next turn, unless their log is gone.
            var committed = ex.Results.Where(r => !r.Error.IsError).Select(r => r.TopicPartition).ToList();
            assignment.Committed(committed);
            committed.ForEach(p => _stored.Remove(p));
            if (ex.Results.Where(r => IsFromLostLog(r.Error)).ToList() is { Count: > 0 } lost)
            {
                ForgetLostLogOffsets([.. lost.Select(r => new TopicPartitionOffset(r.TopicPartition, r.Offset))], lost[0].Error.Reason);
            }
        }
        catch (KafkaException ex) when (IsFromLostLog(ex.Error))
        {
            // Every partition was refused, which librdkafka reports as the request's error, naming the last one's reason only.
            // Forgetting an offset that was refused for another reason costs a redelivery at most (storing is idempotent);
            // keeping one of a lost log would have it refused on every turn.
            ForgetLostLogOffsets(offsets, ex.Error.Reason);
        }
        catch (KafkaException ex)
        {
            logger.LogDebug("Offset commit refused ({Reason}); tried again on the next turn", ex.Error.Reason);
        }
    }

    /// <summary>The broker leads the partition in a later epoch than the committed offset's message was written in: its log was lost.</summary>
    private static bool IsFromLostLog(Error error) => error.Code == ErrorCode.FencedLeaderEpoch;

    /// <summary>
    /// Offsets whose commit the broker refused because the log they belong to is gone (a restarted development broker):
    /// their readings are stored, and in the new log they would point past readings nobody has read. They are not tried again.
    /// </summary>
    private void ForgetLostLogOffsets(IReadOnlyList<TopicPartitionOffset> offsets, string reason)
    {
        foreach (var offset in offsets)
        {
            _stored.Remove(offset.TopicPartition);
        }

        logger.LogWarning("The broker refused to commit offsets of a log it no longer has ({Reason}): {Offsets}; the readings before them are stored",
            reason, string.Join(", ", offsets.Select(o => $"{o.TopicPartition} at {o.Offset}")));
    }

    /// <summary>
    /// Retries a transient failure (database or cache down) with backoff until it succeeds or the
    /// Worker stops. Consumption pauses meanwhile: nothing later is processed before this.
    /// </summary>
    private async Task RetryAsync(string what, Func<Task> action, CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await action();
                if (attempt > 1)
                {
                    logger.LogInformation("Recovered: {What} succeeded after {Attempts} attempts", what, attempt);
                }

                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested && IsTransient(ex))
            {
                logger.LogWarning("Could not {What} (attempt {Attempt}: {Reason}); retrying in {Delay} ms",
                    what, attempt, ex.Message, (int)delay.TotalMilliseconds);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>
    /// What waiting can cure. Anything else (a bug, a schema mismatch) ends the Worker, and the AppHost
    /// or orchestrator restarts it: the uncommitted batch is then redelivered.
    /// </summary>
    private static bool IsTransient(Exception ex) => ex is Npgsql.NpgsqlException { IsTransient: true } or TimeoutException or IOException
        or ProduceException<string, byte[]> or KafkaException;
}
