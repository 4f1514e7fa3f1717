using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;
using static Kiln.Tests.Distributed.ApiDriver;

namespace Kiln.Tests.Distributed;

/// <summary>API keys through the Api, against the running platform and each of its Api replicas.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class ApiKeyTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    /// <summary>The spec's bound for a revoked key to be refused on every replica.</summary>
    private static readonly TimeSpan RevokedWithin = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a replica may answer 503 before serving a new key: after an earlier test restarted PostgreSQL, a replica's
    /// next few lookups each find a dead pooled connection (the documented "retry later", as devices do).
    /// </summary>
    private static readonly TimeSpan Served = TimeSpan.FromSeconds(30);

    private ApiDriver Api => platform.Api;

    [Fact]
    public async Task A_new_key_shows_its_secret_once_is_listed_without_it_and_works_on_every_replica()
    {
        Assert.Equal(2, Api.Replicas.Count);
        using var created = await Api.SendAsync(HttpMethod.Post, "/api/v1/keys", Api.AdminKey,
            new { name = "gateway keys1-a", scopes = (string[])["ingest", "read"], site = "keys1" });
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(created.StatusCode == HttpStatusCode.Created, $"POST /api/v1/keys answered {(int)created.StatusCode}: {body}");
        var id = body.GetProperty("id").GetGuid();
        var secret = body.GetProperty("key").GetString()!;
        Assert.StartsWith("kiln_", secret, StringComparison.Ordinal);
        Assert.Equal($"/api/v1/keys/{id}", created.Headers.Location?.OriginalString);
        Assert.Equal(["ingest", "read"], body.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal("keys1", body.GetProperty("site").GetString());
        Assert.Equal("no-store", created.Headers.CacheControl?.ToString());

        // Never again: neither the list nor the key itself carries the secret or its hash.
        using var list = await Api.SendAsync(HttpMethod.Get, "/api/v1/keys", Api.AdminKey);
        var listed = await list.Content.ReadAsStringAsync();
        var item = JsonDocument.Parse(listed).RootElement.GetProperty("items").EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == id);
        Assert.Equal(["id", "name", "scopes", "site", "createdAt", "revokedAt"], item.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, item.GetProperty("revokedAt").ValueKind);
        using var one = await Api.SendAsync(HttpMethod.Get, $"/api/v1/keys/{id}", Api.AdminKey);
        var shown = await one.Content.ReadAsStringAsync();
        foreach (var text in new[] { listed, shown })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Kiln.Shared.Security.ApiKeyHash.Compute(secret), text, StringComparison.Ordinal);
            Assert.DoesNotContain("\"key\"", text, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.Created, (await Api.PutSensorAsync("keys1.kiln.temp", "keys1")).StatusCode);
        foreach (var replica in Api.Replicas)
        {
            HttpStatusCode status = default;
            await Eventually.TrueAsync(async () =>
            {
                using var posted = await Api.SendAsync(HttpMethod.Post, "/api/v1/readings", secret,
                    new { readings = ApiDriver.Readings("keys1.kiln.temp", 1, _ => 1) }, replica: replica);
                return (status = posted.StatusCode) != HttpStatusCode.ServiceUnavailable; // see Served
            }, Served, $"{replica} to take a reading with the new key");
            Assert.Equal(HttpStatusCode.Accepted, status);
        }

        // Nor does any service's output: the log says who got a key, not what it is.
        Assert.DoesNotContain(platform.App.Context.Logs.Values.SelectMany(l => l.Snapshot()), line => line.Contains(secret, StringComparison.Ordinal));
        Assert.Contains(platform.App.Context.Logs.Values.SelectMany(l => l.Snapshot()), line => line.Contains($"Created API key {id}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_revoked_key_is_refused_within_a_second_on_every_replica()
    {
        var key = await Api.CreateKeyAsync("reader keys2", ["read"]);
        foreach (var replica in Api.Replicas)
        {
            // Each replica has the key's answer in its cache: what must go is a cached "yes". (A replica that has not used
            // the database since an earlier test restarted it answers 503 once per dead pooled connection first.)
            await Eventually.TrueAsync(async () =>
            {
                using var allowed = await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors?site=keys2", key.Secret, replica: replica);
                return allowed.StatusCode == HttpStatusCode.OK
                    ? true
                    : allowed.StatusCode == HttpStatusCode.ServiceUnavailable ? false : throw new InvalidOperationException($"{replica} answered {(int)allowed.StatusCode}");
            }, Served, $"{replica} to accept the new key");
        }

        using (var revoked = await Api.SendAsync(HttpMethod.Delete, $"/api/v1/keys/{key.Id}", Api.AdminKey))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        }

        var clock = Stopwatch.StartNew();
        var refusedAt = new Dictionary<Uri, TimeSpan>();
        await Eventually.TrueAsync(async () =>
        {
            foreach (var replica in Api.Replicas.Where(r => !refusedAt.ContainsKey(r)))
            {
                var sent = clock.Elapsed;
                using var response = await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors?site=keys2", key.Secret, replica: replica);
                if (response.StatusCode == HttpStatusCode.Unauthorized)
                {
                    refusedAt[replica] = sent;
                }
            }

            return refusedAt.Count == Api.Replicas.Count;
        }, RevokedWithin, "every replica to refuse the revoked key");
        output.WriteLine("refused after the revocation: " + string.Join(", ", refusedAt.Select(r => $"{r.Key} {r.Value.TotalMilliseconds:0} ms")));

        using (var again = await Api.SendAsync(HttpMethod.Delete, $"/api/v1/keys/{key.Id}", Api.AdminKey))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode); // revoked either way
        }

        var shown = await (await Api.SendAsync(HttpMethod.Get, $"/api/v1/keys/{key.Id}", Api.AdminKey)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.NotEqual(JsonValueKind.Null, shown.GetProperty("revokedAt").ValueKind);
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Delete, $"/api/v1/keys/{Guid.NewGuid()}", Api.AdminKey), HttpStatusCode.NotFound, "Unknown key");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Delete, "/api/v1/keys/not-a-key", Api.AdminKey), HttpStatusCode.BadRequest, "not valid");
    }

    [Fact]
    public async Task A_key_may_do_what_its_scopes_and_site_allow_and_gets_403_otherwise()
    {
        Assert.Equal(HttpStatusCode.Created, (await Api.PutSensorAsync("keys3.kiln.temp", "keys3")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Api.PutSensorAsync("keys4.kiln.temp", "keys4")).StatusCode);
        var ingestOnly = await Api.CreateKeyAsync("gateway keys3", ["ingest"], "keys3");
        var siteReader = await Api.CreateKeyAsync("reader keys3", ["read"], "keys3");

        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors/keys3.kiln.temp", ingestOnly.Secret), HttpStatusCode.Forbidden, "may not");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/keys", siteReader.Secret), HttpStatusCode.Forbidden, "may not");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Post, "/api/v1/keys", siteReader.Secret, new { name = "x", scopes = (string[])["admin"] }),
            HttpStatusCode.Forbidden, "may not");

        // Ingest: a reading of another site's sensor is rejected with its reason, the site's own accepted.
        using (var posted = await Api.PostReadingsAsync(new[]
        {
            new { sensorId = "keys3.kiln.temp", timestamp = DateTimeOffset.UtcNow.AddSeconds(-1), value = 1.0 },
            new { sensorId = "keys4.kiln.temp", timestamp = DateTimeOffset.UtcNow.AddSeconds(-1), value = 2.0 },
        }, ingestOnly.Secret))
        {
            var result = await posted.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
            Assert.Equal(1, result.GetProperty("accepted").GetInt32());
            Assert.Contains("not to this key's site", result.GetProperty("rejected")[0].GetProperty("reason").GetString(), StringComparison.Ordinal);
        }

        // Reads: the site's own sensors only.
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors/keys3.kiln.temp", siteReader.Secret)).StatusCode);
        foreach (var path in new[]
        {
            "/api/v1/sensors/keys4.kiln.temp", "/api/v1/sensors/keys4.kiln.temp/latest", "/api/v1/sensors/keys4.kiln.temp/readings",
            "/api/v1/sensors?site=keys4", "/api/v1/sensors/keys4.no.such-sensor",
        })
        {
            await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, path, siteReader.Secret), HttpStatusCode.Forbidden, "may not", "another site");
        }

        var listed = await (await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors", siteReader.Secret)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["keys3"], listed.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("site").GetString()).Distinct());
    }

    [Fact]
    public async Task A_sensors_key_declares_sensors_of_its_site_and_does_nothing_else()
    {
        var declarer = await Api.CreateKeyAsync("declarer keys5", ["sensors"], "keys5");
        var definition = new { site = "keys5", kind = "temperature", unit = "C", rule = new { low = (double?)null, high = 100, hysteresis = 5 } };
        using (var created = await Api.SendAsync(HttpMethod.Put, "/api/v1/sensors/keys5.kiln.temp", declarer.Secret, definition))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Put, "/api/v1/sensors/keys6.kiln.temp", declarer.Secret, definition with { site = "keys6" }),
            HttpStatusCode.Forbidden, "may not", "another site");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/keys", declarer.Secret), HttpStatusCode.Forbidden, "may not");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors/keys5.kiln.temp", declarer.Secret), HttpStatusCode.Forbidden, "may not");
        using var posted = await Api.PostReadingsAsync(new[] { new { sensorId = "keys5.kiln.temp", timestamp = DateTimeOffset.UtcNow, value = 1.0 } }, declarer.Secret);
        Assert.Equal(HttpStatusCode.Forbidden, posted.StatusCode);
    }

    [Theory]
    [InlineData("""{"name":"gw","scopes":["write"]}""", "unknown scope 'write'")]
    [InlineData("""{"name":"","scopes":["ingest"]}""", "name is required")]
    [InlineData("""{"name":"gw","scopes":[]}""", "scopes is required")]
    [InlineData("""{"name":"gw","scopes":["ingest"],"site":"Kiln 1"}""", "site must be a site id")]
    [InlineData("""{"name":"gw","scopes":["admin"],"site":"kiln1"}""", "cannot be bound to a site")]
    public async Task A_key_that_cannot_work_is_refused_with_a_reason(string json, string reason) =>
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Post, "/api/v1/keys", Api.AdminKey, rawJson: json),
            HttpStatusCode.BadRequest, "not valid", reason);

    public void Dispose() => platform.WriteLogs(output);
}
