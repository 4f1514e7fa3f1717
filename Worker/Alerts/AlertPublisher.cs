using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kiln.Shared;
using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;
using Kiln.Shared.Schema;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace Kiln.Worker.Alerts;

/// <summary>
/// Produces the recorded alert transitions (the <c>alert_transitions</c> outbox) to <c>kiln.alerts</c>, each exactly once and
/// in order, then announces each on the live channel for open pages.
/// <para>
/// One Worker replica at a time does this: the one holding a PostgreSQL advisory lock on its own connection, which it
/// loses with that connection. Each transition is marked with the offset the broker gave it. A replica that takes over
/// first reads the topic from after the last marked offset and marks what it finds there (a previous holder may have
/// produced a transition and stopped before marking it), so nothing is produced twice; then it produces the rest.
/// <c>kiln.alerts</c> has one partition: its order is the transitions' order. Each message carries its transition id in
/// the <see cref="TransitionIdHeader"/> header and the value, so a consumer can also tell one it has seen.
/// </para>
/// </summary>
internal sealed class AlertPublisher(
    NpgsqlDataSource dataSource,
    SchemaMigrator migrator,
    IProducer<string, byte[]> producer,
    [FromKeyedServices(Topology.Resources.Kafka)] IConsumer<string, byte[]> tail,
    IConnectionMultiplexer cache,
    ILogger<AlertPublisher> logger) : BackgroundService
{
    public const string TransitionIdHeader = "kiln-transition-id";

    // "alrt": recognisable in pg_locks, apart from the schema migrator's.
    private const long LeaderLockKey = 0x616C7274;
    private const int BatchSize = 200;

    internal static readonly TopicPartition Partition = new(Topology.Topics.Alerts, 0);
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FollowerRetry = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ReadTailTimeout = TimeSpan.FromSeconds(15);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await LeadAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Producing alert transitions to {Topic} stopped ({Reason}); starting again in {Delay} ms",
                    Topology.Topics.Alerts, ex.Message, (int)backoff.TotalMilliseconds);
                await Task.Delay(backoff, stoppingToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                continue;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromMilliseconds(200);
        }
    }

    /// <summary>Waits to hold the lock, then produces until the connection or the broker fails, or the Worker stops.</summary>
    private async Task LeadAsync(CancellationToken stoppingToken)
    {
        // The consumer applies the migrations too; whichever comes first does it, the other finds them applied.
        await migrator.MigrateAsync(stoppingToken);
        await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
        await using (var lockCommand = new NpgsqlCommand($"SELECT pg_try_advisory_lock({LeaderLockKey})", connection))
        {
            if (await lockCommand.ExecuteScalarAsync(stoppingToken) is not true)
            {
                await Task.Delay(FollowerRetry, stoppingToken);
                return;
            }
        }

        var notified = 0;
        connection.Notification += (_, _) => Volatile.Write(ref notified, 1);
        await using (var listen = new NpgsqlCommand($"LISTEN {Topology.Database.AlertTransitionsChannel}", connection))
        {
            await listen.ExecuteNonQueryAsync(stoppingToken);
        }

        var found = await Task.Run(() => ReadTail(connection, stoppingToken), stoppingToken);
        await MarkAsync(connection, found, stoppingToken);
        logger.LogInformation("This replica produces alert transitions to {Topic}; {Found} found there already produced",
            Topology.Topics.Alerts, found.Count);

        while (true)
        {
            Volatile.Write(ref notified, 0);
            if (await ProduceAsync(connection, stoppingToken) < BatchSize && Interlocked.Exchange(ref notified, 0) == 0)
            {
                // A transition recorded by any replica (or an acknowledgement by the Api) notifies; the poll is a backstop.
                await connection.WaitAsync(PollInterval, stoppingToken);
            }
        }
    }

    /// <summary>
    /// The transitions found in the topic that PostgreSQL does not have marked, with their offsets: read from the newest
    /// transition marked before the oldest one not marked (anything of the unmarked that landed is after it, even when a
    /// later transition landed and was marked first). That transition must be found at its offset; when it is not there,
    /// the log is another one (a restarted development broker's starts again at 0) and it is read from its start.
    /// </summary>
    private List<(long Id, long Offset)> ReadTail(NpgsqlConnection connection, CancellationToken stoppingToken)
    {
        (long Id, long Offset)? anchor = null;
        using (var command = new NpgsqlCommand("""
            SELECT a.id, a.produced_offset, u.first IS NOT NULL
            FROM (SELECT min(id) AS first FROM alert_transitions WHERE produced_offset IS NULL) u
            LEFT JOIN LATERAL (SELECT id, produced_offset FROM alert_transitions
                               WHERE produced_offset IS NOT NULL AND id < u.first ORDER BY id DESC LIMIT 1) a ON true
            """, connection))
        using (var reader = command.ExecuteReader())
        {
            reader.Read();
            if (!reader.GetBoolean(2))
            {
                return []; // every transition is marked: nothing to look for
            }

            if (!reader.IsDBNull(0))
            {
                anchor = (reader.GetInt64(0), reader.GetInt64(1));
            }
        }

        var watermarks = tail.QueryWatermarkOffsets(Partition, ReadTailTimeout);
        var deadline = DateTime.UtcNow + ReadTailTimeout;
        if (anchor is { } at && at.Offset >= watermarks.Low && at.Offset < watermarks.High
            && ReadFrom(at.Offset, watermarks.High.Value, deadline, stoppingToken) is [var first, .. var rest] && first == at)
        {
            return rest;
        }

        return watermarks.Low < watermarks.High ? ReadFrom(watermarks.Low, watermarks.High, deadline, stoppingToken) : [];
    }

    /// <summary>The transition id and offset of every message from <paramref name="from"/> to <paramref name="to"/>.</summary>
    private List<(long Id, long Offset)> ReadFrom(long from, long to, DateTime deadline, CancellationToken stoppingToken)
    {
        var found = new List<(long, long)>();
        tail.Assign(new TopicPartitionOffset(Partition, from));
        try
        {
            for (var next = from; next < to;)
            {
                stoppingToken.ThrowIfCancellationRequested();
                var remaining = deadline - DateTime.UtcNow;
                if (remaining <= TimeSpan.Zero)
                {
                    throw new TimeoutException(
                        $"Reading {Partition.Topic} from offset {from} to {to} took longer than {ReadTailTimeout.TotalSeconds:0} s; stopped at {next}.");
                }

                if (tail.Consume(remaining < TimeSpan.FromMilliseconds(500) ? remaining : TimeSpan.FromMilliseconds(500)) is { } message)
                {
                    next = message.Offset.Value + 1;
                    if (message.Message.Headers?.TryGetLastBytes(TransitionIdHeader, out var id) == true
                        && long.TryParse(Encoding.UTF8.GetString(id), NumberStyles.None, CultureInfo.InvariantCulture, out var transitionId))
                    {
                        found.Add((transitionId, message.Offset.Value));
                    }
                }
            }
        }
        finally
        {
            tail.Unassign();
        }

        return found;
    }

    /// <summary>Produces the oldest transitions not yet produced, in order; returns how many.</summary>
    private async Task<int> ProduceAsync(NpgsqlConnection connection, CancellationToken stoppingToken)
    {
        var pending = new List<AlertTransitionMessage>();
        await using (var command = new NpgsqlCommand($"""
            SELECT t.id, t.alert_id, a.sensor_id, a.site, a.condition, a.severity, a.threshold, t.transition, t.at, t.value, t.by
            FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id
            WHERE t.produced_offset IS NULL ORDER BY t.id LIMIT {BatchSize}
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync(stoppingToken))
        {
            while (await reader.ReadAsync(stoppingToken))
            {
                pending.Add(new AlertTransitionMessage(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3),
                    reader.GetString(4), reader.GetString(5), reader.GetDouble(6), reader.GetString(7), reader.GetFieldValue<DateTimeOffset>(8),
                    reader.IsDBNull(9) ? null : reader.GetDouble(9), reader.IsDBNull(10) ? null : reader.GetString(10)));
            }
        }

        if (pending.Count == 0)
        {
            return 0;
        }

        // Handed to the producer in order (each ProduceAsync enqueues before it returns); the idempotent producer keeps that order.
        var deliveries = pending.Select(transition => producer.ProduceAsync(Partition, new Message<string, byte[]>
        {
            Key = transition.SensorId,
            Value = JsonSerializer.SerializeToUtf8Bytes(transition, KilnJson.Options),
            Headers = new Headers { { TransitionIdHeader, Encoding.UTF8.GetBytes(transition.TransitionId.ToString(CultureInfo.InvariantCulture)) } },
        }, stoppingToken)).ToList();
        try
        {
            await Task.WhenAll(deliveries);
        }
        finally
        {
            // What was delivered is marked even when something else failed: it is not produced again.
            await MarkAsync(connection, [.. pending.Zip(deliveries).Where(p => p.Second.IsCompletedSuccessfully)
                .Select(p => (p.First.TransitionId, p.Second.Result.Offset.Value))], CancellationToken.None);
        }

        // For open pages only: a page that misses one reads the alerts again, so a lost announcement costs nothing, and
        // Redis being away never holds up kiln.alerts.
        try
        {
            var live = cache.GetSubscriber();
            foreach (var transition in pending)
            {
                live.Publish(RedisChannel.Literal(Topology.Cache.AlertsChannel), JsonSerializer.Serialize(transition, KilnJson.Options), CommandFlags.FireAndForget);
            }
        }
        catch (RedisException ex)
        {
            logger.LogDebug("{Count} alert transitions not announced on {Channel}: {Reason}", pending.Count, Topology.Cache.AlertsChannel, ex.Message);
        }

        logger.LogDebug("Produced {Count} alert transitions to {Topic}", pending.Count, Topology.Topics.Alerts);
        return pending.Count;
    }

    private static async Task MarkAsync(NpgsqlConnection connection, List<(long Id, long Offset)> produced, CancellationToken cancellationToken)
    {
        if (produced.Count == 0)
        {
            return;
        }

        await using var command = new NpgsqlCommand("""
            UPDATE alert_transitions t SET produced_offset = p.offset_
            FROM unnest($1::bigint[], $2::bigint[]) AS p (id, offset_) WHERE t.id = p.id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = produced.Select(p => p.Id).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = produced.Select(p => p.Offset).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
