using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Kiln.AppHost.Model;
using Kiln.AppHost.Testing;
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
    private readonly DateTimeOffset _origin = DateTimeOffset.UtcNow.AddDays(-20).AddTicks(-(DateTimeOffset.UtcNow.Ticks % TimeSpan.TicksPerSecond));
    private readonly ConcurrentBag<(int Client, int Batch)> _acknowledged = [];
    private readonly string[] _keys = new string[Clients];
    private long _refusedReadings;
    private long _refusedRequests;

    public long Acknowledged => _acknowledged.Count * (long)BatchSize;

    public long Refused => Interlocked.Read(ref _refusedReadings);

    public long RefusedRequests => Interlocked.Read(ref _refusedRequests);

    public List<string> RefusalReasons { get; } = [];

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
                    $"{{\"sensorId\":\"{sensor}\",\"timestamp\":\"{second.AddMilliseconds(i * 10):O}\",\"value\":{batch}.{i:00}}},");
            }
        }

        json.Length--;
        return json.Append("]}").ToString();
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
