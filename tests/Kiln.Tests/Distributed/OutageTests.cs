using System.Net;
using Kiln.AppHost.Resources;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// Nothing acknowledged is lost when a backing service goes away: the Worker pauses with backoff and
/// resumes where it stopped once the service is back (SPEC: transient failures).
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class OutageTests(PlatformFixture platform, ITestOutputHelper output) : IClassFixture<PlatformFixture>, IDisposable
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
    public async Task While_the_cache_is_down_readings_are_stored_and_latest_falls_back_to_the_database()
    {
        const string sensor = "kiln5.outage.cache";
        var api = platform.Api;
        Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(sensor, "kiln5")).StatusCode);

        await platform.App.StopResourceAsync("cache");
        try
        {
            var readings = ApiDriver.Readings(sensor, 100, i => i);
            Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(readings)).StatusCode);
            await Eventually.TrueAsync(async () => (await api.ReadAllAsync(sensor)).Count == 100, Recovery, "the readings to reach PostgreSQL");
            var latest = await api.GetAsync($"/api/v1/sensors/{sensor}/latest");
            Assert.Equal(99, latest.GetProperty("value").GetDouble());
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("cache", deadline.Token);
        }

        // Once the cache is back, the Worker finishes the paused batch: the latest value is hot again.
        var cache = platform.App.Resource<RedisResource>("cache");
        await using var redis = new Kiln.ServiceDefaults.Redis.RedisClient(Kiln.ServiceDefaults.Redis.RedisClientOptions.Parse(cache.ConnectionString));
        await Eventually.TrueAsync(async () => (await redis.HashGetAllAsync($"kiln:latest:{sensor}")).GetValueOrDefault("value") == "99",
            Recovery, "the latest value to reach the cache");
    }

    public void Dispose() => platform.WriteLogs(output);
}
