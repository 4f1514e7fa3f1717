using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kiln.Shared;
using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;
using Kiln.Shared.Schema;
using Kiln.Tests.Kafka;
using Kiln.Tests.Redis;
using Kiln.Tests.ServiceDefaults;
using Kiln.Worker.Alerts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using StackExchange.Redis;

namespace Kiln.Tests.Worker;

/// <summary>
/// Alert transitions recorded exactly once however often a batch is evaluated, and produced to kiln.alerts exactly once
/// however often the producing replica changes, against real PostgreSQL, Redis and the development broker. Each test owns
/// its broker (kiln.alerts is read whole) and its sensors.
/// </summary>
public sealed class AlertOutboxTests(PostgresServerFixture postgres, RedisServerFixture redis)
    : IClassFixture<PostgresServerFixture>, IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 6, 0, 0, TimeSpan.Zero);
    private static readonly AlertRule Rule = new(null, 100, Hysteresis: 5);

    private readonly string _site = "outbox" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<IHost> _hosts = [];
    private NpgsqlDataSource _database = null!;
    private DevKafkaProcess _broker = null!;
    private ConnectionMultiplexer _cache = null!;

    public async Task InitializeAsync()
    {
        Kiln.ServiceDefaults.Kafka.KafkaNativeLibrary.Load();
        _database = await postgres.MigratedDataSourceAsync();
        _broker = await DevKafkaProcess.StartAsync(["--topic", $"{Topology.Topics.Alerts}:1"], TimeSpan.FromSeconds(15));
        _cache = await redis.ConnectAsync();
        // Earlier tests' transitions are in the same database: they were produced to brokers that are gone.
        await ExecuteAsync("UPDATE alert_transitions SET produced_offset = -1 WHERE produced_offset IS NULL");
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }

        await _broker.StopAsync(TimeSpan.FromSeconds(5));
        await _broker.DisposeAsync();
        await _cache.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task A_batch_evaluated_again_or_by_two_replicas_at_once_records_each_transition_once()
    {
        var sensors = await CreateSensorsAsync(20);
        var batch = sensors.SelectMany(s => new[] { new ReadingMessage(s, T0, 150), new ReadingMessage(s, T0.AddSeconds(1), 90) }).ToList();
        // Four replicas, each with its own rules and states in memory, evaluate the same batch at once.
        var replicas = Enumerable.Range(0, 4).Select(_ => Recorder()).ToList();
        var counts = await Task.WhenAll(replicas.Select(replica => Task.Run(() => replica.RecordAsync(batch, CancellationToken.None))));
        Assert.Equal(2 * sensors.Count, counts.Sum());
        Assert.Equal(0, await replicas[0].RecordAsync(batch, CancellationToken.None)); // redelivered later, to a replica that knows
        Assert.Equal(0, await Recorder().RecordAsync(batch, CancellationToken.None)); // and to one that has just started

        Assert.Equal(sensors.Count, await CountAsync("SELECT count(*) FROM alerts WHERE site = $1 AND closed_at IS NOT NULL"));
        Assert.Equal(2 * sensors.Count, await CountAsync(
            "SELECT count(*) FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id WHERE a.site = $1"));
    }

    [Fact]
    public async Task A_new_sensor_is_evaluated_at_once_and_a_changed_rule_applies_within_the_refresh_interval()
    {
        var sensor = (await CreateSensorsAsync(1))[0];
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var recorder = new AlertRecorder(_database, clock, NullLogger<AlertRecorder>.Instance);
        Assert.Equal(0, await recorder.RecordAsync([new ReadingMessage(sensor, T0, 90)], CancellationToken.None));

        await using (var change = _database.CreateCommand("UPDATE sensors SET rule = $2::jsonb, updated_at = now() WHERE id = $1"))
        {
            change.Parameters.Add(new NpgsqlParameter { Value = sensor });
            change.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(new AlertRule(null, 50), KilnJson.Options) });
            await change.ExecuteNonQueryAsync();
        }

        Assert.Equal(0, await recorder.RecordAsync([new ReadingMessage(sensor, T0.AddSeconds(1), 95)], CancellationToken.None)); // the rule held
        clock.Advance(AlertRecorder.RulesRefreshInterval);
        Assert.Equal(1, await recorder.RecordAsync([new ReadingMessage(sensor, T0.AddSeconds(2), 96)], CancellationToken.None));
    }

    [Fact]
    public async Task Transitions_are_produced_once_in_order_and_announced_on_the_live_channel()
    {
        var announced = new List<AlertTransitionMessage>();
        var channel = await _cache.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Topology.Cache.AlertsChannel));
        channel.OnMessage(m =>
        {
            lock (announced)
            {
                announced.Add(JsonSerializer.Deserialize<AlertTransitionMessage>((string)m.Message!, KilnJson.Options)!);
            }
        });
        var sensors = await CreateSensorsAsync(3);
        await StartPublisherAsync();

        await RecordAsync(sensors, T0, 150);
        await RecordAsync(sensors, T0.AddSeconds(1), 90);

        var produced = await ReadTopicUntilAsync(6);
        Assert.Equal(produced.Select(p => p.TransitionId).Order(), produced.Select(p => p.TransitionId));
        Assert.Equal(3, produced.Count(p => p.Transition == AlertTransitions.Opened));
        Assert.All(produced, p => Assert.Equal(_site, p.Site));
        await Eventually.TrueAsync(() => { lock (announced) { return announced.Count(a => a.Site == _site) == 6; } }, Deadline,
            "every transition to be announced on the live channel");
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id WHERE a.site = $1 AND produced_offset IS NULL"));
    }

    [Fact]
    public async Task A_replica_taking_over_after_a_crash_between_producing_and_marking_produces_nothing_twice()
    {
        var sensors = await CreateSensorsAsync(4);
        var first = await StartPublisherAsync();
        await RecordAsync(sensors, T0, 150);
        Assert.Equal(4, (await ReadTopicUntilAsync(4)).Count);
        await first.StopAsync();

        // The crash: produced, but the marks never reached PostgreSQL.
        await ExecuteAsync("UPDATE alert_transitions t SET produced_offset = NULL FROM alerts a WHERE a.id = t.alert_id AND a.site = $1");
        await StartPublisherAsync();
        await RecordAsync(sensors, T0.AddSeconds(1), 50);

        var produced = await ReadTopicUntilAsync(8);
        Assert.Equal(8, produced.Select(p => p.TransitionId).Distinct().Count());
        await Eventually.TrueAsync(async () => await CountAsync(
                "SELECT count(*) FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id WHERE a.site = $1 AND produced_offset IS NULL") == 0,
            Deadline, "the found transitions to be marked again");
    }

    [Fact]
    public async Task A_transition_that_landed_unmarked_before_a_later_marked_one_is_not_produced_again()
    {
        var sensors = await CreateSensorsAsync(4);
        var first = await StartPublisherAsync();
        await RecordAsync(sensors, T0, 150);
        Assert.Equal(4, (await ReadTopicUntilAsync(4)).Count);
        await first.StopAsync();

        // The two oldest landed but their marks were lost, while the two after them were marked (their deliveries came back first).
        await ExecuteAsync("""
            UPDATE alert_transitions SET produced_offset = NULL WHERE id IN (
                SELECT t.id FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id WHERE a.site = $1 ORDER BY t.id LIMIT 2)
            """);
        await StartPublisherAsync();
        await RecordAsync(sensors, T0.AddSeconds(1), 50);

        var produced = await ReadTopicUntilAsync(8);
        Assert.Equal(8, produced.Select(p => p.TransitionId).Distinct().Count());
    }

    [Fact]
    public async Task Of_two_replicas_one_produces_and_the_other_takes_over_when_it_stops()
    {
        var sensors = await CreateSensorsAsync(2);
        var (a, b) = (await StartPublisherAsync(), await StartPublisherAsync());
        await RecordAsync(sensors, T0, 150);
        Assert.Equal(2, (await ReadTopicUntilAsync(2)).Count);

        await a.StopAsync();
        await b.StopAsync();
        await StartPublisherAsync();
        await RecordAsync(sensors, T0.AddSeconds(1), 50);
        var produced = await ReadTopicUntilAsync(4);
        Assert.Equal(4, produced.Select(p => p.TransitionId).Distinct().Count());
    }

    private async Task<IHost> StartPublisherAsync()
    {
        var host = KafkaTestHost.Build(_broker.BootstrapServers, builder =>
        {
            builder.AddKafkaProducer<string, byte[]>(DevKafkaFixture.ConnectionName);
            builder.AddKeyedKafkaConsumer<string, byte[]>(DevKafkaFixture.ConnectionName, c => c.Config.GroupId = "alerts-tail-test");
            builder.Services.AddSingleton(_database);
            builder.Services.AddSingleton<IConnectionMultiplexer>(_cache);
            builder.Services.AddSingleton<SchemaMigrator>();
            builder.Services.AddLogging();
            builder.Services.AddHostedService<AlertPublisher>();
        });
        _hosts.Add(host);
        await host.StartAsync();
        return host;
    }

    private async Task RecordAsync(IEnumerable<string> sensors, DateTimeOffset at, double value) =>
        await Recorder().RecordAsync([.. sensors.Select(s => new ReadingMessage(s, at, value))], CancellationToken.None);

    private AlertRecorder Recorder() => new(_database, TimeProvider.System, NullLogger<AlertRecorder>.Instance);

    /// <summary>Every message on kiln.alerts once at least <paramref name="count"/> are there, and no more arrive for a moment.</summary>
    private async Task<List<AlertTransitionMessage>> ReadTopicUntilAsync(int count)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _broker.BootstrapServers, GroupId = "alerts-reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false,
        }).Build();
        var partition = new TopicPartition(Topology.Topics.Alerts, 0);
        var messages = new List<AlertTransitionMessage>();
        await Eventually.TrueAsync(() => consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5)).High >= count, Deadline,
            $"{count} transitions on {Topology.Topics.Alerts}");
        var high = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5)).High.Value;
        consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        consumer.ConsumeUntil(result =>
        {
            var message = JsonSerializer.Deserialize<AlertTransitionMessage>(result.Message.Value, KilnJson.Options)!;
            Assert.Equal(message.TransitionId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Encoding.UTF8.GetString(result.Message.Headers.GetLastBytes(AlertPublisher.TransitionIdHeader)));
            Assert.Equal(message.SensorId, result.Message.Key);
            messages.Add(message);
            return result.Offset.Value + 1 >= high;
        }, Deadline);
        Assert.True(messages.Count == count, $"expected {count} transitions on the topic, found {messages.Count}: "
            + string.Join(", ", messages.Select(m => $"{m.TransitionId}:{m.Transition}")));
        return messages;
    }

    private async Task<List<string>> CreateSensorsAsync(int count)
    {
        var sensors = Enumerable.Range(0, count).Select(i => $"{_site}.s{i}").ToList();
        await using var command = _database.CreateCommand(
            "INSERT INTO sensors (id, site, kind, unit, rule) SELECT unnest($1::text[]), $2, 'temperature', 'C', $3::jsonb");
        command.Parameters.Add(new NpgsqlParameter { Value = sensors.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = _site });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(Rule, KilnJson.Options) });
        await command.ExecuteNonQueryAsync();
        return sensors;
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var command = _database.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = _site });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = _database.CreateCommand(sql);
        if (sql.Contains("$1", StringComparison.Ordinal))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = _site });
        }

        await command.ExecuteNonQueryAsync();
    }
}
