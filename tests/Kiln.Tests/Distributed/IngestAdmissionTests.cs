using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kiln.AppHost.Testing;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// The Api admits readings only while the broker can keep them until the Worker stores them (issue 6).
/// With the Worker stopped, one sensor's readings pile up on one partition until the Api refuses them
/// with 503, Retry-After and the reason; once the Worker runs again ingest is admitted again, and
/// every reading that was acknowledged is stored.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class IngestAdmissionTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private const int BatchSize = 2000;

    /// <summary>More than one partition can keep at the Api's estimate, so the refusal must come before the last batch.</summary>
    private const int MaxBatches = 40;

    [Fact]
    public async Task When_the_worker_falls_behind_ingest_is_refused_until_it_catches_up()
    {
        const string sensor = "kiln6.admission.one";
        var api = platform.Api;
        Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(sensor, "kiln6")).StatusCode);
        var origin = DateTimeOffset.UtcNow.AddDays(-10);
        var acknowledged = 0;

        await platform.App.StopResourceAsync("worker");
        try
        {
            HttpResponseMessage? refused = null;
            for (var batch = 0; batch < MaxBatches && refused is null; batch++)
            {
                var readings = Enumerable.Range(0, BatchSize)
                    .Select(i => new { sensorId = sensor, timestamp = origin.AddSeconds((batch * BatchSize) + i), value = (double)i });
                var response = await api.PostReadingsAsync(readings.ToArray());
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    acknowledged += BatchSize;
                    response.Dispose();
                    continue;
                }

                refused = response;
            }

            Assert.NotNull(refused);
            using (refused)
            {
                var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
                output.WriteLine($"refused after {acknowledged:N0} acknowledged: {problem}");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.NotNull(refused.Headers.RetryAfter?.Delta);
                Assert.Contains("behind on kiln.readings partition", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
                Assert.Contains("Nothing in this request was acknowledged", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }

            // The replica refuses at once from its own deliveries; its next look at the broker says so in its health too.
            await Eventually.TrueAsync(async () =>
            {
                using var probe = await api.SendAsync(HttpMethod.Get, "/health", key: null);
                var health = await probe.Content.ReadFromJsonAsync<JsonElement>();
                return health.GetProperty("checks").GetProperty("ingest-backlog").GetProperty("status").GetString() == "Degraded";
            }, TimeSpan.FromSeconds(10), "the Api's health to report ingest refused");
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("worker", deadline.Token);
        }

        var last = new[] { new { sensorId = sensor, timestamp = origin.AddDays(1), value = 1.0 } };
        await Eventually.TrueAsync(async () =>
        {
            using var response = await api.PostReadingsAsync(last);
            return response.StatusCode == HttpStatusCode.Accepted;
        }, TimeSpan.FromMinutes(1), "ingest to be admitted again once the Worker caught up");
        var database = await platform.App.GetConnectionStringAsync("kilndb") ?? throw new InvalidOperationException("kilndb has no connection string");
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(database);
        await using var count = dataSource.CreateCommand("SELECT count(*) FROM readings WHERE sensor_id = $1");
        count.Parameters.AddWithValue(sensor);
        await Eventually.TrueAsync(async () => (long)(await count.ExecuteScalarAsync())! == acknowledged + 1, TimeSpan.FromMinutes(1),
            "every acknowledged reading to be stored");
    }

    public void Dispose() => platform.WriteLogs(output);
}
