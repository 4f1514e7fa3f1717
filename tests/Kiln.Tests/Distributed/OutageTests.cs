using System.Net;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// Nothing acknowledged is lost when a backing service goes away: the Worker pauses with backoff and
/// resumes where it stopped once the service is back (SPEC: transient failures).
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class OutageTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(30);

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
    public async Task While_the_cache_is_down_latest_falls_back_to_the_database_and_ingestion_resumes_when_it_returns()
    {
        const string sensor = "kiln5.outage.cache";
        var api = platform.Api;
        Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(sensor, "kiln5")).StatusCode);
        var first = new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow.AddMinutes(-10), value = 5.0 };
        Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(new[] { first })).StatusCode);
        await Eventually.TrueAsync(async () => (await api.ReadAllAsync(sensor)).Count == 1, Recovery, "the first reading to be stored");

        await platform.App.StopResourceAsync("cache");
        try
        {
            // What PostgreSQL holds is still served: the Api falls back when the cache cannot answer.
            var latest = await api.GetAsync($"/api/v1/sensors/{sensor}/latest");
            Assert.Equal(5.0, latest.GetProperty("value").GetDouble());

            // Accepted into Kafka; the Worker pauses until it can update the cache too.
            Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(ApiDriver.Readings(sensor, 100, i => i))).StatusCode);
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("cache", deadline.Token);
        }

        await Eventually.TrueAsync(async () => (await api.ReadAllAsync(sensor)).Count == 101, Recovery, "every accepted reading to be stored");
        var cache = await platform.App.GetConnectionStringAsync("cache") ?? throw new InvalidOperationException("cache has no connection string");
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(cache);
        await Eventually.TrueAsync(async () => await redis.GetDatabase().HashGetAsync($"kiln:latest:{sensor}", "value") == "99",
            Recovery, "the newest value to reach the cache");
        Assert.Equal(99, (await api.GetAsync($"/api/v1/sensors/{sensor}/latest")).GetProperty("value").GetDouble());
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
