using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Confluent.Kafka;
using Kiln.Shared;
using Kiln.Shared.Readings;
using Npgsql;

namespace Kiln.LoadGen;

internal sealed record LoadSettings(TimeSpan Duration, int Clients, int Batch, int Rate, int Sensors, int Sites)
{
    /// <summary>The same load, before the measured run and not measured: the services' hot code reaches its final JIT tier meanwhile.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// A fleet of sensors posting batches through the Api: closed loop (each client posts again as soon as it is
/// answered) or open loop at a target rate (latency counted from when a request was due, not when it was sent).
/// Alongside: the time from a POST to the reading being readable through the Api, sampled twice a second; the
/// Worker group's lag once a second; every process's CPU time and peak memory. Afterwards every acknowledged reading
/// is counted in PostgreSQL. Each client is a device gateway with an API key of its own (created through the Api with the
/// admin key, as an operator would give one), posting to one Api replica (the clients take the replicas in turn, as a
/// load balancer would spread them): the per-key rate limit then applies to each gateway, as in production.
/// </summary>
internal static class Pipeline
{
    private const string Run = "bench";

    /// <summary>Open loop: requests one client may have outstanding; past it, the offered rate is not kept (and the latency says so).</summary>
    private const int MaxInFlight = 32;

    /// <summary>The ingest policy the Api reported (its <c>RateLimit-Policy</c> header), from the first answer that carried one.</summary>
    private static string? _ingestPolicy;

    public static async Task<Report> RunAsync(Platform platform, LoadSettings settings)
    {
        var replicas = platform.Apis.Select(api => new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = settings.Rate > 0 ? settings.Clients * MaxInFlight : settings.Clients + 4,
        })
        { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) }).ToList();
        try
        {
            return await RunAsync(platform, settings, replicas);
        }
        finally
        {
            replicas.ForEach(r => r.Dispose());
        }
    }

    /// <summary>
    /// Every sensor has an alert rule, as in a plant, so the Worker evaluates each reading as it would there; no value the
    /// load sends crosses it, so the figures are those of steady running, not of an alarm storm.
    /// </summary>
    private const string BenchRule = """{"low":-1000000000,"high":1000000000,"hysteresis":1,"rateOfChange":null}""";

    private static async Task<Report> RunAsync(Platform platform, LoadSettings settings, List<HttpClient> replicas)
    {
        var http = replicas[0];
        var origin = DateTimeOffset.UtcNow.AddDays(-20);
        var sensors = Enumerable.Range(0, settings.Sensors).Select(i => $"{Run}{i % settings.Sites:00}.unit{i / settings.Sites:0000}.temp").ToArray();
        Console.Error.WriteLine($"bench: creating {sensors.Length:N0} sensors across {settings.Sites} sites");
        await Parallel.ForEachAsync(sensors, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (sensor, token) =>
            await SendAsync(http, HttpMethod.Put, $"/api/v1/sensors/{sensor}", platform.AdminKey,
                $$"""{"site":"{{sensor[..sensor.IndexOf('.', StringComparison.Ordinal)]}}","kind":"temperature","unit":"C","rule":{{BenchRule}}}""", HttpStatusCode.Created, HttpStatusCode.OK));
        await SendAsync(http, HttpMethod.Put, $"/api/v1/sensors/{Run}99.probe.temp", platform.AdminKey,
            $$"""{"site":"{{Run}}99","kind":"temperature","unit":"C","rule":null}""", HttpStatusCode.Created, HttpStatusCode.OK);
        Console.Error.WriteLine($"bench: creating an ingest key for each of the {settings.Clients} clients; they post to {replicas.Count} Api replicas in turn");
        var keys = await CreateKeysAsync(http, platform, settings.Clients);

        // An attached platform may hold an earlier run's readings: only what this run adds is counted.
        var storedBefore = await CountStoredAsync(platform);
        var warmedUp = await WarmUpAsync(replicas, keys, settings, sensors, origin.AddDays(-2)); // a time line of its own: no duplicates
        var cpuBefore = ProcessStats.Read(platform.Processes);
        var endToEnd = new List<double>();
        var lag = new List<(double Seconds, long Lag)>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(settings.Duration);
        var clients = Enumerable.Range(0, settings.Clients).Select(c =>
            Task.Run(() => ClientAsync(replicas[c % replicas.Count], keys[c], settings, sensors, origin, c, clock, stop.Token)));
        var probe = ProbeEndToEndAsync(http, platform, endToEnd, stop.Token);
        var watch = WatchLagAsync(platform, lag, clock, stop.Token);
        var throughput = new List<(double Seconds, long PerSecond)>();
        var progress = ProgressAsync(clock, settings, lag, endToEnd, throughput, stop.Token);
        var finished = await Task.WhenAll(clients);
        var elapsed = clock.Elapsed;
        await Task.WhenAll(probe, watch, progress);
        var cpuAfter = ProcessStats.Read(platform.Processes);

        var acknowledged = finished.Sum(r => r.Acknowledged);
        Console.Error.WriteLine($"bench: load done; waiting for all {acknowledged + warmedUp:N0} acknowledged readings (warm-up included) to be stored");
        var drain = Stopwatch.StartNew();
        var stored = await AwaitStoredAsync(platform, storedBefore, acknowledged + warmedUp, TimeSpan.FromMinutes(3));
        return new Report(settings, elapsed, finished, acknowledged, stored, drain.Elapsed, endToEnd, lag, cpuBefore, cpuAfter)
        {
            Throughput = throughput,
            WarmUpAcknowledged = warmedUp,
            IngestPolicy = _ingestPolicy,
            Replicas = replicas.Count,
        };
    }

    /// <summary>Runs the load for <see cref="LoadSettings.WarmUp"/> without measuring it; returns the readings acknowledged meanwhile.</summary>
    private static async Task<long> WarmUpAsync(List<HttpClient> replicas, string[] keys, LoadSettings settings, string[] sensors, DateTimeOffset origin)
    {
        if (settings.WarmUp <= TimeSpan.Zero)
        {
            return 0;
        }

        Console.Error.WriteLine($"bench: warming up for {settings.WarmUp.TotalSeconds:0} s (the same load, not measured)");
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(settings.WarmUp);
        var clients = await Task.WhenAll(Enumerable.Range(0, settings.Clients)
            .Select(c => Task.Run(() => ClientAsync(replicas[c % replicas.Count], keys[c], settings, sensors, origin, c, clock, stop.Token))));
        return clients.Sum(c => c.Acknowledged);
    }

    /// <summary>An ingest key per client, named for it; their secrets are held in memory for the run only, never printed.</summary>
    private static async Task<string[]> CreateKeysAsync(HttpClient http, Platform platform, int clients)
    {
        var run = DateTimeOffset.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var keys = new string[clients];
        for (var c = 0; c < clients; c++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/keys")
            {
                Content = new StringContent($$"""{"name":"bench {{run}} gateway {{c:00}}","scopes":["ingest"]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("X-Api-Key", platform.AdminKey);
            using var response = await http.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"POST /api/v1/keys answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            using var created = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            keys[c] = created.RootElement.GetProperty("key").GetString()!;
        }

        return keys;
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient http, HttpMethod method, string path, string key, string body, params HttpStatusCode[] expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Api-Key", key);
        using var response = await http.SendAsync(request);
        if (!expected.Contains(response.StatusCode))
        {
            throw new InvalidOperationException($"{method} {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return response.StatusCode;
    }

    /// <summary>
    /// One device gateway. Closed loop: the next request when the last is answered (a 503's Retry-After honoured).
    /// Open loop: a request every <c>Batch × Clients / Rate</c> seconds whether or not the earlier ones were answered
    /// (up to <see cref="MaxInFlight"/> at once), each timed from when it was due, so a slow Api shows as latency
    /// rather than as a lower offered rate.
    /// </summary>
    private static async Task<ClientResult> ClientAsync(HttpClient http, string key, LoadSettings settings, string[] sensors,
        DateTimeOffset origin, int client, Stopwatch clock, CancellationToken stop)
    {
        var result = new ClientResult();
        var interval = settings.Rate > 0 ? TimeSpan.FromSeconds((double)settings.Batch * settings.Clients / settings.Rate) : TimeSpan.Zero;
        using var slots = new SemaphoreSlim(MaxInFlight);
        var inFlight = new List<Task>();
        var due = clock.Elapsed;
        for (var batch = 0; !stop.IsCancellationRequested; batch++)
        {
            if (interval == TimeSpan.Zero)
            {
                if (await PostAsync(http, key, settings, Body(sensors, origin, client, batch, settings), clock, clock.Elapsed, result) is { } retry)
                {
                    await Task.Delay(retry < TimeSpan.FromSeconds(5) ? retry : TimeSpan.FromSeconds(5), CancellationToken.None);
                }

                continue;
            }

            due += interval;
            var wait = due - clock.Elapsed;
            try
            {
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, stop);
                }

                await slots.WaitAsync(stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var body = Body(sensors, origin, client, batch, settings);
            var dueAt = due;
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    await PostAsync(http, key, settings, body, clock, dueAt, result);
                }
                finally
                {
                    slots.Release();
                }
            }, CancellationToken.None)); // a request once due is sent and awaited, also at the end of the run
        }

        await Task.WhenAll(inFlight);
        return result;
    }

    /// <summary>One POST of a batch; the Retry-After of a 503 or 429, if any.</summary>
    private static async Task<TimeSpan?> PostAsync(HttpClient http, string key, LoadSettings settings, byte[] body, Stopwatch clock,
        TimeSpan started, ClientResult result)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/readings") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add("X-Api-Key", key);
        try
        {
            using var response = await http.SendAsync(request, CancellationToken.None);
            await response.Content.LoadIntoBufferAsync(CancellationToken.None);
            result.Record(response.StatusCode, settings.Batch, (clock.Elapsed - started).TotalMilliseconds);
            if (_ingestPolicy is null && response.Headers.TryGetValues("RateLimit-Policy", out var policy))
            {
                _ingestPolicy = policy.First();
            }

            return response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests ? response.Headers.RetryAfter?.Delta : null;
        }
        catch (HttpRequestException e)
        {
            result.Failed(e.HttpRequestError.ToString());
            return null;
        }
    }

    /// <summary>One batch: <c>Batch</c> readings of consecutive sensors, each batch its own second of their time lines.</summary>
    internal static byte[] Body(string[] sensors, DateTimeOffset origin, int client, int batch, LoadSettings settings)
    {
        var json = new StringBuilder(settings.Batch * 96).Append("{\"readings\":[");
        var timestamp = origin.AddSeconds(((long)batch * settings.Clients) + client);
        for (var i = 0; i < settings.Batch; i++)
        {
            var sensor = sensors[((client * settings.Batch) + i) % sensors.Length];
            json.Append(CultureInfo.InvariantCulture, $"{{\"sensorId\":\"{sensor}\",\"timestamp\":\"{timestamp.AddMilliseconds(i % 1000):O}\",\"value\":{i}.5}},");
        }

        json.Length--;
        return Encoding.UTF8.GetBytes(json.Append("]}").ToString());
    }

    /// <summary>Twice a second: post one reading and poll its sensor's latest value until it is that reading.</summary>
    private static async Task ProbeEndToEndAsync(HttpClient http, Platform platform, List<double> samples, CancellationToken stop)
    {
        const string sensor = Run + "99.probe.temp";
        for (var i = 1; !stop.IsCancellationRequested; i++)
        {
            var value = i.ToString(CultureInfo.InvariantCulture);
            var started = Stopwatch.GetTimestamp();
            var posted = await SendAsync(http, HttpMethod.Post, "/api/v1/readings", platform.IngestKey,
                $$"""{"readings":[{"sensorId":"{{sensor}}","timestamp":"{{DateTimeOffset.UtcNow:O}}","value":{{value}}}]}""", HttpStatusCode.Accepted, HttpStatusCode.ServiceUnavailable);
            while (posted == HttpStatusCode.Accepted && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30))
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/sensors/{sensor}/latest");
                request.Headers.Add("X-Api-Key", platform.ReadKey);
                using var response = await http.SendAsync(request, CancellationToken.None);
                if (response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync(CancellationToken.None)).Contains($"\"value\":{value}", StringComparison.Ordinal))
                {
                    lock (samples)
                    {
                        samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }

                    break;
                }

                await Task.Delay(5, CancellationToken.None);
            }

            try
            {
                await Task.Delay(500, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task WatchLagAsync(Platform platform, List<(double, long)> lag, Stopwatch clock, CancellationToken stop)
    {
        using var workerGroup = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = platform.Kafka, GroupId = Topology.WorkerConsumerGroup, EnableAutoCommit = false,
        }).Build();
        using var admin = new DependentAdminClientBuilder(workerGroup.Handle).Build();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var backlog = await ReadingBacklog.ReadAsync(admin, workerGroup, Topology.Topics.Readings, TimeSpan.FromSeconds(2));
                lock (lag)
                {
                    lag.Add((clock.Elapsed.TotalSeconds, backlog.TotalLag));
                }

                await Task.Delay(1000, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (KafkaException)
            {
                // a look that failed is a gap in the series, not a failed run
            }
        }
    }

    /// <summary>Once a second: the progress line, and the readings acknowledged in that second (the throughput series).</summary>
    private static async Task ProgressAsync(Stopwatch clock, LoadSettings settings, List<(double Seconds, long Lag)> lag, List<double> endToEnd,
        List<(double Seconds, long PerSecond)> throughput, CancellationToken stop)
    {
        var before = ClientResult.AcknowledgedByAll;
        var last = clock.Elapsed;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(1000, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var acknowledged = ClientResult.AcknowledgedByAll;
            var now = clock.Elapsed;
            var perSecond = (long)((acknowledged - before) / (now - last).TotalSeconds);
            throughput.Add((now.TotalSeconds, perSecond));
            (before, last) = (acknowledged, now);

            long currentLag;
            lock (lag)
            {
                currentLag = lag.Count > 0 ? lag[^1].Lag : 0;
            }

            double lastEndToEnd;
            lock (endToEnd)
            {
                lastEndToEnd = endToEnd.Count > 0 ? endToEnd[^1] : double.NaN;
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench: {now.TotalSeconds,5:0}/{settings.Duration.TotalSeconds:0} s  {perSecond,9:N0} readings/s  lag {currentLag,10:N0} readings  last POST→readable {lastEndToEnd,7:0} ms"));
        }

        Console.Error.WriteLine();
    }

    private static async Task<long> AwaitStoredAsync(Platform platform, long before, long acknowledged, TimeSpan within)
    {
        var deadline = Stopwatch.StartNew();
        long stored;
        while ((stored = await CountStoredAsync(platform) - before) < acknowledged && deadline.Elapsed < within)
        {
            await Task.Delay(1000);
        }

        return stored;
    }

    private static async Task<long> CountStoredAsync(Platform platform)
    {
        await using var dataSource = NpgsqlDataSource.Create(platform.Database);
        await using var count = dataSource.CreateCommand($"SELECT count(*) FROM readings WHERE sensor_id LIKE '{Run}%' AND sensor_id NOT LIKE '{Run}99.%'");
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
