using System.Net;
using System.Text.Json;
using Xunit.Abstractions;
using static Kiln.Tests.Distributed.ApiDriver;

namespace Kiln.Tests.Distributed;

/// <summary><c>GET /api/v1/sensors/{id}/rollups</c> against the running platform: readings posted through the Api, rolled up by the Worker.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class RollupsApiTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    /// <summary>The rounding error of one double addition, relative to the operands (2^-53).</summary>
    private const double UnitRoundoff = 1.1102230246251565e-16;

    private ApiDriver Api => platform.Api;

    [Fact]
    public async Task Rollups_of_posted_readings_match_the_readings_the_api_returns_by_minute_hour_and_day()
    {
        var sensor = $"rollapi.t{Guid.NewGuid():N}"[..20] + ".temp";
        Assert.True((await Api.PutSensorAsync(sensor, "rollapi")).IsSuccessStatusCode);

        // 10,000 readings (as the issue checks) at random microseconds over the last 50 hours (crossing at least two UTC
        // days), posted in batches of 2,000, one of them twice: the Api and the Worker must count it once.
        var random = new Random(1124);
        var now = DateTimeOffset.UtcNow;
        var readings = Enumerable.Range(0, 10_000)
            .Select(_ => now.AddMinutes(-1).AddTicks(-random.NextInt64(TimeSpan.FromHours(50).Ticks) / 10 * 10))
            .Distinct()
            .Select(timestamp => new { sensorId = sensor, timestamp, value = Math.Round((random.NextDouble() * 2000) - 500, random.Next(0, 7)) })
            .ToList();
        foreach (var batch in readings.Chunk(2_000).Append(readings.Take(2_000).ToArray()))
        {
            using var response = await Api.PostReadingsAsync(batch);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        List<(DateTimeOffset Timestamp, double Value)> stored = [];
        await Eventually.TrueAsync(async () => (stored = await Api.ReadAllAsync(sensor, pageSize: 1000)).Count == readings.Count, TimeSpan.FromSeconds(30),
            $"the {readings.Count} readings to be stored");

        var from = Uri.EscapeDataString(now.AddHours(-51).ToString("O"));
        var to = Uri.EscapeDataString(now.ToString("O"));
        foreach (var (bucket, size) in new[] { ("1m", TimeSpan.FromMinutes(1)), ("1h", TimeSpan.FromHours(1)), ("1d", TimeSpan.FromDays(1)) })
        {
            var answer = await Api.GetAsync($"/api/v1/sensors/{sensor}/rollups?bucket={bucket}&from={from}&to={to}");
            Assert.Equal(sensor, answer.GetProperty("sensorId").GetString());
            Assert.Equal(bucket, answer.GetProperty("bucket").GetString());
            var items = answer.GetProperty("items").EnumerateArray().ToList();
            var expected = stored
                .GroupBy(r => new DateTimeOffset(r.Timestamp.UtcTicks - (r.Timestamp.UtcTicks % size.Ticks), TimeSpan.Zero))
                .OrderBy(g => g.Key)
                .ToList();
            Assert.Equal(expected.Select(g => g.Key), items.Select(i => i.GetProperty("start").GetDateTimeOffset()));
            foreach (var (group, item) in expected.Zip(items))
            {
                var values = group.Select(r => r.Value).ToList();
                Assert.Equal((values.Count, values.Min(), values.Max()),
                    (item.GetProperty("count").GetInt32(), item.GetProperty("min").GetDouble(), item.GetProperty("max").GetDouble()));
                // Sums in different orders differ by rounding only: at most 2(n-1)·u·Σ|v|, divided by n for the average.
                var average = values.Sum() / values.Count;
                var tolerance = (2 * Math.Max(1, values.Count - 1) * UnitRoundoff * values.Sum(Math.Abs) / values.Count) + (2 * UnitRoundoff * Math.Abs(average));
                Assert.True(Math.Abs(item.GetProperty("avg").GetDouble() - average) <= tolerance,
                    $"{bucket} {group.Key:O}: avg {item.GetProperty("avg").GetDouble():R}, readings' {average:R}");
            }

            Assert.True(bucket != "1d" || items.Count >= 3, $"the readings span {items.Count} UTC days");
        }
    }

    [Fact]
    public async Task A_sensor_without_readings_has_no_buckets_and_keys_and_sites_are_checked()
    {
        var sensor = $"rollkey.t{Guid.NewGuid():N}"[..20] + ".temp";
        Assert.True((await Api.PutSensorAsync(sensor, "rollkey")).IsSuccessStatusCode);
        const string query = "?bucket=1h&from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00%2B01:00";

        var empty = await Api.GetAsync($"/api/v1/sensors/{sensor}/rollups{query}");
        Assert.Equal(JsonValueKind.Array, empty.GetProperty("items").ValueKind);
        Assert.Empty(empty.GetProperty("items").EnumerateArray());

        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/rollkey.nobody.here/rollups{query}", Api.ReadKey),
            HttpStatusCode.NotFound, "Unknown sensor");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/{sensor}/rollups{query}", key: null),
            HttpStatusCode.Unauthorized, "key is required");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/{sensor}/rollups{query}", Api.IngestKey),
            HttpStatusCode.Forbidden, "may not");

        var otherSite = await Api.CreateKeyAsync("rollups-other-site", ["read"], site: "kiln1");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/{sensor}/rollups{query}", otherSite.Secret),
            HttpStatusCode.Forbidden, "may not", detailContains: "bound to site 'kiln1'");
        var sameSite = await Api.CreateKeyAsync("rollups-same-site", ["read"], site: "rollkey");
        using var allowed = await Api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/{sensor}/rollups{query}", sameSite.Secret);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    public void Dispose() => platform.WriteLogs(output);
}
