using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// A platform whose Api limits each key's ingest and each address's requests without a key to 1 request/s in bursts
/// of 5: a burst a test sends in well under a second on any machine gets past that only if the limit is not kept.
/// </summary>
public sealed class RateLimitedPlatformFixture : IAsyncLifetime
{
    public const int PermitsPerSecond = 1;
    public const int Burst = 5;

    private readonly PlatformFixture _platform = new([
        $"--Kiln:RateLimits:Ingest:PermitsPerSecond={PermitsPerSecond}", $"--Kiln:RateLimits:Ingest:Burst={Burst}",
        $"--Kiln:RateLimits:Anonymous:PermitsPerSecond={PermitsPerSecond}", $"--Kiln:RateLimits:Anonymous:Burst={Burst}",
    ]);

    internal Kiln.AppHost.Model.DistributedApplication App => _platform.App;

    internal ApiDriver Api => _platform.Api;

    public Task InitializeAsync() => _platform.InitializeAsync();

    public Task DisposeAsync() => _platform.DisposeAsync();
}

/// <summary>
/// Rate limits per key and per client address, shared by both Api replicas through Redis, and kept by each replica alone
/// while Redis is down. This class stops Redis, so it has a platform of its own.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class RateLimitTests(RateLimitedPlatformFixture platform, ITestOutputHelper output)
    : IClassFixture<RateLimitedPlatformFixture>, IDisposable
{
    private const int Requests = 12;
    private const string Site = "limits1";
    private const string Sensor = "limits1.kiln.temp";

    private ApiDriver Api => platform.Api;

    [Fact]
    public async Task A_burst_past_the_limit_gets_429_with_retry_after_and_the_ratelimit_headers()
    {
        var key = await GatewayKeyAsync("burst");
        var (answers, elapsed) = await PostBurstAsync(key, [Api.Replicas[0]]);

        AssertLimitedAsOne(answers, elapsed);
        Assert.Equal(["4", "3", "2", "1", "0"], answers.Take(RateLimitedPlatformFixture.Burst).Select(a => a.Remaining));
        var refused = answers.First(a => a.Status == HttpStatusCode.TooManyRequests);
        Assert.True(refused.RetryAfter >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.RetryAfter}");
        Assert.Equal("5", refused.Limit);
        Assert.Equal("1;w=1;burst=5;comment=\"ingest\"", refused.Policy);
        Assert.Equal("application/problem+json", refused.ContentType);
        Assert.Contains("Too many requests", refused.Body, StringComparison.Ordinal);
        Assert.Contains("1 requests/s in bursts of up to 5", refused.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_burst_split_over_both_replicas_is_limited_as_one()
    {
        Assert.Equal(2, Api.Replicas.Count);
        var key = await GatewayKeyAsync("split");
        var (answers, elapsed) = await PostBurstAsync(key, Api.Replicas);

        AssertLimitedAsOne(answers, elapsed);
        Assert.All(Api.Replicas, replica => Assert.Contains(answers, a => a.Replica == replica && a.Status == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Each_key_has_a_bucket_of_its_own()
    {
        var first = await GatewayKeyAsync("own-a");
        var second = await GatewayKeyAsync("own-b");
        await PostBurstAsync(first, Api.Replicas);
        var (answers, _) = await PostBurstAsync(second, Api.Replicas);
        Assert.All(answers.Take(RateLimitedPlatformFixture.Burst), a => Assert.Equal(HttpStatusCode.Accepted, a.Status));
    }

    [Fact]
    public async Task Requests_without_a_valid_key_are_limited_per_address_on_every_replica_as_one()
    {
        var clock = Stopwatch.StartNew();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < Requests; i++)
        {
            // Without a key and with a wrong one alike: both count against the address.
            using var response = await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors", i % 2 == 0 ? null : "kiln_not-a-key",
                replica: Api.Replicas[i % Api.Replicas.Count]);
            statuses.Add(response.StatusCode);
        }

        var most = RateLimitedPlatformFixture.Burst + (int)Math.Ceiling(clock.Elapsed.TotalSeconds * RateLimitedPlatformFixture.PermitsPerSecond);
        Assert.All(statuses.Take(RateLimitedPlatformFixture.Burst), s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, $"answered {(int)s}"));
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.Unauthorized), RateLimitedPlatformFixture.Burst, most);

        // Health probes are never limited, whatever the address has used.
        using var health = await Api.SendAsync(HttpMethod.Get, "/health", key: null);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task While_redis_is_down_requests_are_served_each_replica_limiting_alone_and_health_says_degraded()
    {
        var key = await GatewayKeyAsync("outage");
        await Eventually.TrueAsync(async () => await RateLimitHealthAsync() == "Healthy", TimeSpan.FromSeconds(30),
            "both replicas to share their rate limits through Redis before the outage");
        const string Alone = "Rate limits are kept by this replica alone";
        var warnedBefore = Lines(Alone);
        await platform.App.StopResourceAsync("cache");
        try
        {
            var (answers, elapsed) = await PostBurstAsync(key, Api.Replicas);
            output.WriteLine($"without Redis: {string.Join(", ", answers.Select(a => (int)a.Status))} in {elapsed.TotalMilliseconds:0} ms");

            // Served, never a 5xx; each replica's own bucket lets its own burst through, and no more than a bucket allows.
            Assert.All(answers, a => Assert.True(a.Status is HttpStatusCode.Accepted or HttpStatusCode.TooManyRequests, $"{a.Replica} answered {(int)a.Status}: {a.Body}"));
            foreach (var replica in Api.Replicas)
            {
                var accepted = answers.Count(a => a.Replica == replica && a.Status == HttpStatusCode.Accepted);
                Assert.InRange(accepted, Math.Min(RateLimitedPlatformFixture.Burst, Requests / Api.Replicas.Count), MostAllowed(elapsed));
            }

            foreach (var replica in Api.Replicas)
            {
                var report = await HealthAsync(replica);
                Assert.Equal("Degraded", report.GetProperty("checks").GetProperty("rate-limits").GetProperty("status").GetString());
                Assert.Contains("each replica", report.GetProperty("checks").GetProperty("rate-limits").GetProperty("description").GetString(), StringComparison.Ordinal);
            }

            // One line per replica for the whole outage, however many requests it decided alone.
            var warned = Lines(Alone);
            Assert.All(warned, w => Assert.Equal(1, w.Value - warnedBefore.GetValueOrDefault(w.Key)));
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("cache", deadline.Token);
        }

        await Eventually.TrueAsync(async () => await RateLimitHealthAsync() == "Healthy", TimeSpan.FromSeconds(30),
            "both replicas to share their rate limits through Redis again");
        Assert.All(Lines("Rate limits are shared by every replica through Redis again"), l => Assert.True(l.Value >= 1, $"{l.Key} did not say so"));

        var (shared, sharedElapsed) = await PostBurstAsync(await GatewayKeyAsync("after-outage"), Api.Replicas);
        AssertLimitedAsOne(shared, sharedElapsed);
    }

    /// <summary>One answer to a POST: where it went and what it said about the limit.</summary>
    private sealed record Answer(Uri Replica, HttpStatusCode Status, string? Limit, string? Remaining, string? Policy, TimeSpan? RetryAfter,
        string? ContentType, string Body);

    /// <summary>A key of its own for each test, bound to the test site, as a gateway would get one.</summary>
    private async Task<string> GatewayKeyAsync(string name)
    {
        using (var put = await Api.PutSensorAsync(Sensor, Site))
        {
            Assert.True(put.IsSuccessStatusCode, $"PUT {Sensor} answered {(int)put.StatusCode}");
        }

        return (await Api.CreateKeyAsync($"gateway {name}", ["ingest"], Site)).Secret;
    }

    /// <summary><see cref="Requests"/> one-reading POSTs as fast as they are answered, taking the replicas in turn.</summary>
    private async Task<(List<Answer> Answers, TimeSpan Elapsed)> PostBurstAsync(string key, IReadOnlyList<Uri> replicas)
    {
        var answers = new List<Answer>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Requests; i++)
        {
            var replica = replicas[i % replicas.Count];
            using var response = await Api.SendAsync(HttpMethod.Post, "/api/v1/readings", key,
                new { readings = ApiDriver.Readings(Sensor, 1, _ => i) }, replica: replica);
            string? Header(string name) => response.Headers.TryGetValues(name, out var values) ? values.Single() : null;
            answers.Add(new Answer(replica, response.StatusCode, Header("RateLimit-Limit"), Header("RateLimit-Remaining"), Header("RateLimit-Policy"),
                response.Headers.RetryAfter?.Delta, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync()));
        }

        var elapsed = clock.Elapsed;
        output.WriteLine($"{string.Join(", ", answers.Select(a => $"{(int)a.Status}"))} in {elapsed.TotalMilliseconds:0} ms");
        return (answers, elapsed);
    }

    /// <summary>The whole burst at once, then at most one request per second that passed: one bucket, wherever the requests went.</summary>
    private static void AssertLimitedAsOne(List<Answer> answers, TimeSpan elapsed)
    {
        Assert.All(answers, a => Assert.True(a.Status is HttpStatusCode.Accepted or HttpStatusCode.TooManyRequests, $"{a.Replica} answered {(int)a.Status}: {a.Body}"));
        Assert.All(answers.Take(RateLimitedPlatformFixture.Burst), a => Assert.Equal(HttpStatusCode.Accepted, a.Status));
        Assert.InRange(answers.Count(a => a.Status == HttpStatusCode.Accepted), RateLimitedPlatformFixture.Burst, MostAllowed(elapsed));
        Assert.All(answers.Where(a => a.Status == HttpStatusCode.TooManyRequests), a => Assert.NotNull(a.RetryAfter));
        Assert.All(answers, a => Assert.NotNull(a.Remaining));
    }

    private static int MostAllowed(TimeSpan elapsed) =>
        RateLimitedPlatformFixture.Burst + (int)Math.Ceiling(elapsed.TotalSeconds * RateLimitedPlatformFixture.PermitsPerSecond);

    private static async Task<JsonElement> HealthAsync(Uri replica)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(replica, "/health"));
        var report = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, $"{replica}health answered {(int)response.StatusCode}: {report}");
        return report;
    }

    /// <summary>The rate-limits check of both replicas, when they agree; else null.</summary>
    private async Task<string?> RateLimitHealthAsync()
    {
        var statuses = new HashSet<string?>();
        foreach (var replica in Api.Replicas)
        {
            statuses.Add((await HealthAsync(replica)).GetProperty("checks").GetProperty("rate-limits").GetProperty("status").GetString());
        }

        return statuses.Count == 1 ? statuses.Single() : null;
    }

    /// <summary>Per Api replica (<c>api-0</c>, <c>api-1</c>): how many lines of its output contain <paramref name="text"/>.</summary>
    private Dictionary<string, int> Lines(string text) =>
        Enumerable.Range(0, Api.Replicas.Count).Select(i => $"api-{i}").ToDictionary(name => name,
            name => platform.App.Context.Logs[name].Snapshot().Count(line => line.Contains(text, StringComparison.Ordinal)));

    public void Dispose() => platform.App.WriteLogs(output);
}
