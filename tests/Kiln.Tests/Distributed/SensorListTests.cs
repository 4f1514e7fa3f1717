using System.Net;
using Xunit.Abstractions;
using static Kiln.Tests.Distributed.ApiDriver;

namespace Kiln.Tests.Distributed;

/// <summary>GET /api/v1/sensors: keyset pages by id, a site filter, and a site-bound key's own site only.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class SensorListTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private ApiDriver Api => platform.Api;

    [Fact]
    public async Task Pages_walk_every_sensor_once_in_id_order()
    {
        // Two sites of this test's own, so that other tests' sensors cannot make the counts wrong.
        var run = $"p{Guid.NewGuid():N}"[..10];
        string[] sites = [run + "a", run + "b"];
        var created = sites.SelectMany(site => Enumerable.Range(0, 7).Select(i => $"{site}.unit{i:00}.temp")).ToList();
        foreach (var id in created)
        {
            using var response = await Api.PutSensorAsync(id, id[..id.IndexOf('.', StringComparison.Ordinal)]);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        // Every sensor, three at a time: no repeats, and each created one exactly once, in id order across pages.
        var all = (await Api.ListSensorsAsync("limit=3")).Select(s => s.GetProperty("id").GetString()!).ToList();
        Assert.Equal(all.Distinct().Count(), all.Count);
        Assert.Equal(created, all.Where(id => id.StartsWith(run, StringComparison.Ordinal)));

        // One site, pages of 3 over its 7: 3 + 3 + 1, the last page says there is no next.
        var first = await Api.GetAsync($"/api/v1/sensors?site={sites[1]}&limit=3");
        Assert.Equal(3, first.GetProperty("items").GetArrayLength());
        Assert.NotNull(first.GetProperty("next").GetString());
        var site = (await Api.ListSensorsAsync($"site={sites[1]}&limit=3")).Select(s => s.GetProperty("id").GetString()).ToList();
        Assert.Equal(created.Where(id => id.StartsWith(sites[1] + ".", StringComparison.Ordinal)), site);

        // A page exactly as large as what is left ends the list: no empty page after it.
        var exact = await Api.GetAsync($"/api/v1/sensors?site={sites[0]}&limit=7");
        Assert.Equal(7, exact.GetProperty("items").GetArrayLength());
        Assert.Equal(JsonValueKindNull, exact.GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task Without_a_limit_a_page_holds_at_most_the_default()
    {
        var run = $"d{Guid.NewGuid():N}"[..10];
        // More sensors than one default page holds, all of one site of this test's own.
        await Parallel.ForEachAsync(Enumerable.Range(0, 101), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            using var response = await Api.PutSensorAsync($"{run}.unit{i:000}.temp", run);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        });

        var page = await Api.GetAsync($"/api/v1/sensors?site={run}");
        Assert.Equal(100, page.GetProperty("items").GetArrayLength());
        var rest = await Api.GetAsync($"/api/v1/sensors?site={run}&cursor={Uri.EscapeDataString(page.GetProperty("next").GetString()!)}");
        Assert.Equal($"{run}.unit100.temp", Assert.Single(rest.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(JsonValueKindNull, rest.GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task A_site_bound_key_pages_through_its_own_site_only()
    {
        var run = $"s{Guid.NewGuid():N}"[..10];
        foreach (var id in new[] { $"{run}a.one.temp", $"{run}a.two.temp", $"{run}a.three.temp", $"{run}b.other.temp" })
        {
            using var response = await Api.PutSensorAsync(id, id[..id.IndexOf('.', StringComparison.Ordinal)]);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        var key = await Api.CreateKeyAsync($"{run}-reader", ["read"], $"{run}a");
        var listed = await Api.ListSensorsAsync("limit=1", key.Secret);
        Assert.Equal([$"{run}a.one.temp", $"{run}a.three.temp", $"{run}a.two.temp"], listed.Select(s => s.GetProperty("id").GetString()));
        Assert.Equal(3, (await Api.ListSensorsAsync($"site={run}a&limit=2", key.Secret)).Count);
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, $"/api/v1/sensors?site={run}b&limit=1", key.Secret),
            HttpStatusCode.Forbidden, "may not", "another site");
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    public void Dispose() => platform.WriteLogs(output);
}
