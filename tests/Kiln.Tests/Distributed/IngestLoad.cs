using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Kiln.ServiceDefaults.Kafka;
using Kiln.Shared;
using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;
using Kiln.Tests.Kafka;
using Kiln.Worker.Alerts;
using Npgsql;

namespace Kiln.Tests.Distributed;

/// <summary>
/// Devices posting batches as fast as the Api takes them, over real HTTP, each client a gateway with sensors
/// and an ingest key of its own (created through the Api, as an operator would give one), posting to the Api
/// replicas in turn as a load balancer would spread them. Every batch covers one second of its sensors' time
/// line, so what PostgreSQL holds can be checked batch by batch afterwards: every acknowledged batch must be
/// stored whole. A 503 is honoured as a device would (wait Retry-After, then go on with the next batch); any
/// other answer fails the run, a 429 included: a client posts far below its key's limit, so one would mean the
/// limiter, not the pipeline, was measured.
/// </summary>
/// <param name="run">Names this run's sensors and site: letters and digits only.</param>
internal sealed class IngestLoad(DistributedApplication app, ApiDriver api, string run)
{
    public const int Clients = 12;
    public const int BatchSize = 500;
    private const int SensorsPerClient = 10;
    private const int ReadingsPerSensor = BatchSize / SensorsPerClient;
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(5);

    // Twenty days back leaves room for a day of one-second batches before "now", all within the Api's 30-day window.
    private readonly DateTimeOffset _origin = WholeSecond(DateTimeOffset.UtcNow.AddDays(-20));
    private readonly ConcurrentBag<(int Client, int Batch)> _acknowledged = [];
    private readonly string[] _keys = new string[Clients];
    private long _lastAcknowledgedAt;
    private long _refusedReadings;
    private long _refusedRequests;

    public long Acknowledged => _acknowledged.Count * (long)BatchSize;

    public long Refused => Interlocked.Read(ref _refusedReadings);

    public long RefusedRequests => Interlocked.Read(ref _refusedRequests);

    public List<string> RefusalReasons { get; } = [];

    /// <summary>When the Api last answered a batch with 202 (a <see cref="Stopwatch"/> timestamp).</summary>
    public long LastAcknowledgedAt => Volatile.Read(ref _lastAcknowledgedAt);

    /// <summary>How many readings PostgreSQL holds of one sensor per client: a progress mark cheap enough to poll (primary key ranges).</summary>
    public async Task<long> CountStoredSampleAsync()
    {
        var connectionString = await app.GetConnectionStringAsync("kilndb") ?? throw new InvalidOperationException("kilndb has no connection string");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM readings WHERE sensor_id = ANY($1)");
        command.Parameters.AddWithValue(Enumerable.Range(0, Clients).Select(client => Sensor(client, 0)).ToArray());
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static DateTimeOffset WholeSecond(DateTimeOffset time) => time.AddTicks(-(time.Ticks % TimeSpan.TicksPerSecond));

    private string Sensor(int client, int index) => $"{run}.c{client:00}.s{index}";

    /// <summary>Each client's sensors, and its key, bound to the run's site.</summary>
    public async Task CreateGatewaysAsync()
    {
        for (var client = 0; client < Clients; client++)
        {
            _keys[client] = (await api.CreateKeyAsync($"{run} gateway c{client:00}", ["ingest"], run)).Secret;
            for (var index = 0; index < SensorsPerClient; index++)
            {
                using var response = await api.PutSensorAsync(Sensor(client, index), run);
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            }
        }
    }

    /// <summary>Runs every client for <paramref name="duration"/>; <paramref name="fault"/> runs alongside from the start.</summary>
    public async Task<TimeSpan> RunAsync(TimeSpan duration, Func<Task>? fault = null)
    {
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(duration);
        var clients = Enumerable.Range(0, Clients).Select(client => Task.Run(() => PostUntilAsync(client, stop.Token))).ToList();
        if (fault is not null)
        {
            clients.Add(fault());
        }

        await Task.WhenAll(clients);
        return clock.Elapsed;
    }

    private async Task PostUntilAsync(int client, CancellationToken stop)
    {
        using var http = new HttpClient { BaseAddress = api.Replicas[client % api.Replicas.Count] };
        for (var batch = 0; !stop.IsCancellationRequested; batch++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/readings")
            {
                Content = new StringContent(Body(client, batch), Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("X-Api-Key", _keys[client]);
            using var response = await http.SendAsync(request, CancellationToken.None);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                _acknowledged.Add((client, batch));
                Volatile.Write(ref _lastAcknowledgedAt, Stopwatch.GetTimestamp());
                continue;
            }

            var body = await response.Content.ReadAsStringAsync(CancellationToken.None);
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"POST answered {(int)response.StatusCode}: {body}");
            var retryAfter = response.Headers.RetryAfter?.Delta;
            Assert.True(retryAfter is not null, $"a 503 without Retry-After: {body}");
            Interlocked.Add(ref _refusedReadings, BatchSize);
            if (Interlocked.Increment(ref _refusedRequests) <= 3)
            {
                lock (RefusalReasons)
                {
                    RefusalReasons.Add(body);
                }
            }

            try
            {
                await Task.Delay(retryAfter!.Value < MaxRetryAfter ? retryAfter.Value : MaxRetryAfter, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private string Body(int client, int batch)
    {
        var json = new StringBuilder(BatchSize * 90).Append("{\"readings\":[");
        var second = _origin.AddSeconds(batch);
        for (var index = 0; index < SensorsPerClient; index++)
        {
            var sensor = Sensor(client, index);
            for (var i = 0; i < ReadingsPerSensor; i++)
            {
                json.Append(CultureInfo.InvariantCulture,
                    $"{{\"sensorId\":\"{sensor}\",\"timestamp\":\"{second.AddMilliseconds(i * 10):O}\",\"value\":{Value(batch, i).ToString(CultureInfo.InvariantCulture)}}},");
            }
        }

        json.Length--;
        return json.Append("]}").ToString();
    }

    /// <summary>
    /// A reading's value: every sensor breaches its rule (<see cref="ApiDriver.PutSensorAsync"/>: high 1450) for ten batches,
    /// then recovers for ten, so a run opens and closes alerts all along, and a fault strikes some mid-way.
    /// </summary>
    private static double Value(int batch, int index) => (batch / 10 % 2 == 1 ? 1500 : 1000) + batch + index / 100.0;

    /// <summary>
    /// Waits until the alert transitions recorded for this run's sensors are exactly those their acknowledged readings make
    /// (the rule applied to them in order, once), and every one is on kiln.alerts exactly once; returns how many there are.
    /// </summary>
    public async Task<int> AwaitAlertsAsync(TimeSpan within)
    {
        var expected = new List<string>();
        var rule = new AlertRule(null, ApiDriver.SensorRuleHigh, ApiDriver.SensorRuleHysteresis);
        var batches = _acknowledged.ToLookup(b => b.Client, b => b.Batch);
        for (var client = 0; client < Clients; client++)
        {
            for (var index = 0; index < SensorsPerClient; index++)
            {
                var sensor = Sensor(client, index);
                var changes = new List<AlertChange>();
                AlertEvaluator.Evaluate(sensor, rule, new SensorAlertState(), batches[client].Order().SelectMany(batch => Enumerable.Range(0, ReadingsPerSensor)
                    .Select(i => new ReadingMessage(sensor, _origin.AddSeconds(batch).AddMilliseconds(i * 10), Value(batch, i)))), changes);
                expected.AddRange(changes.Select(c => Describe(c.SensorId, c.Transition, c.At)));
            }
        }

        expected.Sort(StringComparer.Ordinal);
        var connectionString = await app.GetConnectionStringAsync("kilndb") ?? throw new InvalidOperationException("kilndb has no connection string");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        List<(long Id, string Transition, bool Produced)> recorded = [];
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                recorded = await RecordedTransitionsAsync(dataSource);
                return recorded.All(r => r.Produced) && recorded.Select(r => r.Transition).Order(StringComparer.Ordinal).SequenceEqual(expected);
            }, within, $"the {expected.Count} alert transitions of the acknowledged readings to be recorded and produced, once each");
        }
        catch (TimeoutException ex)
        {
            var actual = recorded.Select(r => r.Transition).ToList();
            Assert.Fail($"{ex.Message}: {recorded.Count} recorded, {recorded.Count(r => !r.Produced)} of them not produced; " +
                $"missing {string.Join(", ", expected.Except(actual).Take(5))}; unexpected {string.Join(", ", actual.Except(expected).Take(5))}");
        }

        var produced = ProducedTransitions();
        var doubled = produced.GroupBy(p => p.Id).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key} at offsets {string.Join("/", g.Select(p => p.Offset))}").ToList();
        Assert.True(doubled.Count == 0, $"transitions produced to kiln.alerts more than once: {string.Join(", ", doubled)}");
        Assert.Equal(recorded.Select(r => r.Id).Order(), produced.Select(p => p.Id).Distinct().Order());
        return expected.Count;
    }

    private static string Describe(string sensor, string transition, DateTimeOffset at) => $"{sensor} {transition} {at.UtcTicks}";

    /// <summary>This run's transitions in PostgreSQL, and whether each is produced yet.</summary>
    private async Task<List<(long, string, bool)>> RecordedTransitionsAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT t.id, a.sensor_id, t.transition, t.at, t.produced_offset IS NOT NULL
            FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id WHERE a.site = $1
            """);
        command.Parameters.AddWithValue(run);
        var transitions = new List<(long, string, bool)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            transitions.Add((reader.GetInt64(0), Describe(reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)), reader.GetBoolean(4)));
        }

        return transitions;
    }

    /// <summary>The transition id and offset of every message on kiln.alerts about this run's sensors, duplicates included.</summary>
    private List<(long Id, long Offset)> ProducedTransitions()
    {
        KafkaNativeLibrary.Load();
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = app.Resource<KafkaResource>("kafka").ConnectionString,
            GroupId = $"alerts-{run}-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
        }).Build();
        var partition = new TopicPartition(Topology.Topics.Alerts, 0);
        var high = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10)).High.Value;
        var ids = new List<(long, long)>();
        if (high == 0)
        {
            return ids;
        }

        consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        consumer.ConsumeUntil(result =>
        {
            if (result.Message.Key.StartsWith(run + ".", StringComparison.Ordinal))
            {
                ids.Add((JsonSerializer.Deserialize<AlertTransitionMessage>(result.Message.Value, KilnJson.Options)!.TransitionId, result.Offset.Value));
            }

            return result.Offset.Value + 1 >= high;
        }, TimeSpan.FromSeconds(60));
        return ids;
    }

    /// <summary>Waits until PostgreSQL holds every acknowledged batch whole; returns how many of this run's readings it holds.</summary>
    public async Task<long> AwaitStoredAsync(TimeSpan within)
    {
        var connectionString = await app.GetConnectionStringAsync("kilndb") ?? throw new InvalidOperationException("kilndb has no connection string");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var stored = new Dictionary<(int Client, int Batch), long>();
        long total = 0;
        await Eventually.TrueAsync(async () =>
        {
            (stored, total) = await StoredBatchesAsync(dataSource);
            return _acknowledged.All(b => stored.GetValueOrDefault(b) == BatchSize);
        }, within, "every acknowledged batch to be stored");
        Assert.All(stored, b => Assert.True(b.Value == BatchSize, $"batch {b.Key} is stored partly: {b.Value} of {BatchSize}"));
        return total;
    }

    private async Task<(Dictionary<(int, int), long>, long)> StoredBatchesAsync(NpgsqlDataSource dataSource)
    {
        // A batch is its clients' sensors over one second: group by client (from the sensor id) and second.
        await using var command = dataSource.CreateCommand("""
            SELECT split_part(sensor_id, '.', 2), floor(extract(epoch FROM ts - $2))::int, count(*)
            FROM readings WHERE sensor_id LIKE $1 GROUP BY 1, 2
            """);
        command.Parameters.AddWithValue(run + ".%");
        command.Parameters.AddWithValue(_origin);
        var batches = new Dictionary<(int, int), long>();
        long total = 0;
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var client = int.Parse(reader.GetString(0).AsSpan(1), CultureInfo.InvariantCulture);
            var count = reader.GetInt64(2);
            batches[(client, reader.GetInt32(1))] = count;
            total += count;
        }

        return (batches, total);
    }
}
