using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kiln.AppHost.Resources;
using Kiln.Dashboard.Otlp.Proto.Trace;
using Kiln.AppHost.Testing;
using Kiln.Shared.Readings;
using Npgsql;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// Nothing acknowledged is lost when a backing service goes away: without the database the Worker
/// pauses with backoff and resumes where it stopped once it is back; without the cache it goes on
/// storing and repairs the cache afterwards (SPEC: transient failures).
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class OutageTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan OutageLength = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LatestBudget = TimeSpan.FromMilliseconds(100);

    /// <summary>Far below a Redis timeout (5 s), far above this machine's scheduling noise.</summary>
    private static readonly TimeSpan NoHang = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Readings_accepted_while_the_database_is_down_are_stored_once_it_returns()
    {
        const string sensor = "kiln5.outage.db";
        var api = platform.Api;
        Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(sensor, "kiln5")).StatusCode);
        var before = ApiDriver.Readings(sensor, 10, i => i);
        Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(before)).StatusCode);

        await platform.App.StopResourceAsync("pg");
        try
        {
            // The Api needs no database to accept readings for a sensor it knows: they go to Kafka.
            var during = ApiDriver.Readings(sensor, 500, i => 1000 + i);
            using var accepted = await api.PostReadingsAsync(during);
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);

            // Reading needs the database: a clear 503, not a 500 or a hang.
            using var unavailable = await api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/{sensor}/readings", api.ReadKey);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, unavailable.StatusCode);
            Assert.NotNull(unavailable.Headers.RetryAfter);
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("pg", deadline.Token);
        }

        await Eventually.TrueAsync(async () => (await api.ReadAllAsync(sensor)).Count == 510, Recovery, "every accepted reading to be stored");
    }

    [Fact]
    public async Task While_the_cache_is_down_every_reading_is_stored_latest_answers_at_once_and_the_cache_is_repaired_when_it_returns()
    {
        var sensors = Enumerable.Range(0, 5).Select(i => $"kiln5.outage.cache{i}").ToArray();
        var api = platform.Api;
        foreach (var sensor in sensors)
        {
            using var put = await api.PutSensorAsync(sensor, "kiln5");
            Assert.True(put.IsSuccessStatusCode, $"PUT {sensor} answered {(int)put.StatusCode}");
        }

        // Every reading of the test is newer than anything an earlier run left, and unique per sensor.
        // Whole milliseconds: PostgreSQL and the Kafka encoding keep microseconds, and the readings are compared exactly.
        var origin = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds());
        var acknowledged = new List<(string Sensor, DateTimeOffset Timestamp, double Value)>();
        await PostAsync(api, sensors, origin, 0, acknowledged);
        using var redis = await ConnectToCacheAsync();
        await Eventually.TrueAsync(async () => await CachedAsync(redis, sensors, origin, 0), Recovery, "the first readings to reach the cache");
        // The Api's first GET latest costs its JIT, the pipeline and the first query (100-200 ms here): paid before the outage, not measured in it.
        foreach (var sensor in sensors)
        {
            Assert.Equal(0, (await api.GetAsync($"/api/v1/sensors/{sensor}/latest")).GetProperty("value").GetDouble());
        }

        await platform.App.StopResourceAsync("cache");
        var latency = new List<Answer>();
        try
        {
            // The outage lasts as long as this loop: readings go on being posted, and the latest value asked for.
            var outage = Stopwatch.StartNew();
            for (var i = 1; outage.Elapsed < OutageLength; i++)
            {
                await PostAsync(api, sensors, origin, i, acknowledged);
                // Traced from here, so that a slow answer can say where its time went.
                var traceId = ActivityTraceId.CreateRandom().ToHexString();
                var started = Stopwatch.GetTimestamp();
                using var latest = await api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/{sensors[i % sensors.Length]}/latest", api.ReadKey,
                    headers: [("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01")]);
                latency.Add(new Answer(Stopwatch.GetElapsedTime(started), traceId));
                Assert.Equal(HttpStatusCode.OK, latest.StatusCode);
            }

            // Storage went on without the cache: everything acknowledged is in PostgreSQL while the cache is still down.
            await Eventually.TrueAsync(async () => (await StoredAsync(sensors)).SetEquals(acknowledged), Recovery,
                $"all {acknowledged.Count} acknowledged readings to be stored while the cache is down");
            await AssertWorkersDegradedAsync();
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("cache", deadline.Token);
        }

        // Back: each Worker repairs the sensors it skipped, so the cache again holds every sensor's newest stored reading.
        var back = Stopwatch.StartNew();
        var newest = acknowledged.GroupBy(r => r.Sensor).ToDictionary(g => g.Key, g => g.MaxBy(r => r.Timestamp));
        await Eventually.TrueAsync(async () => await CachedAsync(redis, newest.Values), Recovery, "every sensor's newest reading to be repaired in the cache");
        output.WriteLine($"cache repaired {back.ElapsedMilliseconds} ms after it was started again");
        foreach (var (name, log) in platform.App.Context.Logs.Where(l => l.Key.StartsWith("worker", StringComparison.Ordinal)))
        {
            foreach (var line in log.Snapshot().Where(l => l.Contains("Redis is", StringComparison.Ordinal) || l.Contains("Repaired latest values", StringComparison.Ordinal)).TakeLast(3))
            {
                output.WriteLine($"{name}| {line}");
            }
        }

        var last = newest[sensors[0]];
        Assert.Equal(last.Value, (await api.GetAsync($"/api/v1/sensors/{sensors[0]}/latest")).GetProperty("value").GetDouble());
        await AssertAnsweredAtOnceAsync(latency, acknowledged.Count);
    }

    /// <summary>
    /// Every GET latest during the outage was answered by the Api within <see cref="LatestBudget"/>, as its own server span
    /// says: the time the test process takes to see the answer also holds this process's scheduling and GC (it hosts the
    /// AppHost and its log capture too), which is reported beside it and held only to <see cref="NoHang"/>.
    /// A slow answer fails with the Api's spans for it (its PostgreSQL query, a Redis command if any, the whole request).
    /// </summary>
    private async Task AssertAnsweredAtOnceAsync(List<Answer> answers, int acknowledged)
    {
        using var dashboard = new DashboardTelemetry(platform.App);
        var traces = new Dictionary<string, IReadOnlyList<TraceSpan>>();
        TimeSpan? Served(Answer answer) =>
            traces.GetValueOrDefault(answer.TraceId)?.FirstOrDefault(s => s.Kind == Span.Types.SpanKind.Server)?.Duration;
        await Eventually.TrueAsync(async () =>
        {
            foreach (var answer in answers.Where(a => Served(a) is null))
            {
                traces[answer.TraceId] = await dashboard.TraceAsync(answer.TraceId);
            }

            return answers.All(a => Served(a) is not null);
        }, Recovery, "every GET latest's server span to be exported");

        var served = answers.Select(a => Served(a)!.Value).Order().ToList();
        var seen = answers.Select(a => a.Elapsed).Order().ToList();
        output.WriteLine($"GET latest during the outage: {served.Count} requests; served by the Api in median {served[served.Count / 2].TotalMilliseconds:0.0} ms, " +
            $"p99 {served[served.Count * 99 / 100].TotalMilliseconds:0.0} ms, max {served[^1].TotalMilliseconds:0.0} ms; seen by the client in median " +
            $"{seen[seen.Count / 2].TotalMilliseconds:0.0} ms, p99 {seen[seen.Count * 99 / 100].TotalMilliseconds:0.0} ms, max {seen[^1].TotalMilliseconds:0.0} ms; " +
            $"{acknowledged} readings acknowledged");

        var slow = answers.Select((a, index) => (Answer: a, Index: index)).Where(a => Served(a.Answer) >= LatestBudget || a.Answer.Elapsed >= NoHang).ToList();
        Assert.True(slow.Count == 0, string.Join(Environment.NewLine, slow.Select(a =>
            $"GET latest #{a.Index} was served in {Served(a.Answer)!.Value.TotalMilliseconds:0} ms and seen in {a.Answer.Elapsed.TotalMilliseconds:0} ms; " +
            "the Api's spans: " + string.Join(", ", traces[a.Answer.TraceId].Select(s => $"{s.Name} {s.Duration.TotalMilliseconds:0.0} ms")))));
    }

    /// <summary>One GET latest: how long the test took to see its answer, and its trace.</summary>
    private sealed record Answer(TimeSpan Elapsed, string TraceId);

    private static async Task PostAsync(ApiDriver api, string[] sensors, DateTimeOffset origin, int round,
        List<(string Sensor, DateTimeOffset Timestamp, double Value)> acknowledged)
    {
        var readings = sensors.Select(s => (Sensor: s, Timestamp: origin.AddMilliseconds(round), Value: (double)round)).ToList();
        using var response = await api.PostReadingsAsync(readings.Select(r => new { sensorId = r.Sensor, timestamp = r.Timestamp, value = r.Value }).ToArray());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        acknowledged.AddRange(readings);
    }

    private async Task<ConnectionMultiplexer> ConnectToCacheAsync() =>
        await ConnectionMultiplexer.ConnectAsync(await platform.App.GetConnectionStringAsync("cache")
            ?? throw new InvalidOperationException("cache has no connection string"));

    private static async Task<bool> CachedAsync(ConnectionMultiplexer redis, string[] sensors, DateTimeOffset timestamp, double value) =>
        await CachedAsync(redis, sensors.Select(s => (s, timestamp, value)));

    /// <summary>Whether the cache holds exactly these readings as the sensors' latest values.</summary>
    private static async Task<bool> CachedAsync(ConnectionMultiplexer redis, IEnumerable<(string Sensor, DateTimeOffset Timestamp, double Value)> latest)
    {
        foreach (var (sensor, timestamp, value) in latest)
        {
            var fields = await redis.GetDatabase().HashGetAsync($"kiln:latest:{sensor}", ["ts", "value"]);
            if (fields[0].IsNull || (long)fields[0] != UnixMicroseconds.From(timestamp) || (double)fields[1] != value)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>What PostgreSQL holds of the sensors' readings from this test on, read directly, not through the Api or the cache.</summary>
    private async Task<HashSet<(string Sensor, DateTimeOffset Timestamp, double Value)>> StoredAsync(string[] sensors)
    {
        await using var database = NpgsqlDataSource.Create(await platform.App.GetConnectionStringAsync("kilndb")
            ?? throw new InvalidOperationException("kilndb has no connection string"));
        await using var command = database.CreateCommand("SELECT sensor_id, ts, value FROM readings WHERE sensor_id = ANY($1)");
        command.Parameters.AddWithValue(sensors);
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new HashSet<(string, DateTimeOffset, double)>();
        while (await reader.ReadAsync())
        {
            stored.Add((reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetDouble(2)));
        }

        return stored;
    }

    /// <summary>
    /// Each Worker replica says Degraded, not Unhealthy (storage goes on), and why; so does the Api, whose latest values
    /// come from PostgreSQL meanwhile.
    /// </summary>
    private async Task AssertWorkersDegradedAsync()
    {
        using var http = new HttpClient();
        var api = platform.App.Resource<ProjectResource>("api").Urls[0];
        using (var response = await http.GetAsync(new Uri(api, "/health")))
        {
            var report = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(response.IsSuccessStatusCode, $"{api}health answered {(int)response.StatusCode}: {report}");
            Assert.Equal("Degraded", report.GetProperty("checks").GetProperty("cache").GetProperty("status").GetString());
        }

        foreach (var url in platform.App.Resource<ProjectResource>("worker").Urls)
        {
            using var response = await http.GetAsync(new Uri(url, "/health"));
            var report = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(response.IsSuccessStatusCode, $"{url}health answered {(int)response.StatusCode}: {report}");
            var cache = report.GetProperty("checks").GetProperty("cache");
            Assert.Equal("Degraded", cache.GetProperty("status").GetString());
            Assert.Contains("repaired", cache.GetProperty("description").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_stopped_project_is_not_restarted_and_starts_again_on_the_same_url()
    {
        var web = platform.App.Resource<ProjectResource>("web");
        using var http = new HttpClient { BaseAddress = web.Urls[0] };
        var pid = web.RunningReplicas[0].Pid;

        await platform.App.StopResourceAsync("web");
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/alive"));
        Assert.Equal(0, web.RunningReplicas[0].Restarts); // a requested stop is not a crash

        using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
        {
            await platform.App.StartResourceAsync("web", deadline.Token);
        }

        Assert.NotEqual(pid, web.RunningReplicas[0].Pid);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/alive")).StatusCode);
    }

    public void Dispose() => platform.WriteLogs(output);
}
