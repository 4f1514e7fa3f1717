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

    /// <summary>600,000 readings: more than one partition keeps, so the refusal must come before the last batch.</summary>
    private const int MaxBatches = 300;

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
            // Until the producer's first statistics the Api counts readings at their uncompressed size and may refuse
            // early; then it measures what the broker really stores, and its own look at the backlog refuses too.
            JsonElement? refusal = null;
            var degraded = false;
            for (var batch = 0; batch < MaxBatches && !degraded; batch++)
            {
                var readings = Enumerable.Range(0, BatchSize)
                    .Select(i => new { sensorId = sensor, timestamp = origin.AddSeconds((batch * BatchSize) + i), value = (double)i });
                using var response = await api.PostReadingsAsync(readings.ToArray());
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    acknowledged += BatchSize;
                    continue;
                }

                refusal = await response.Content.ReadFromJsonAsync<JsonElement>();
                output.WriteLine($"refused after {acknowledged:N0} acknowledged: {refusal}");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                var retryAfter = response.Headers.RetryAfter?.Delta;
                Assert.NotNull(retryAfter);
                var detail = refusal.Value.GetProperty("detail").GetString();
                Assert.Contains("behind on kiln.readings partition", detail, StringComparison.Ordinal);
                Assert.Contains("Nothing in this request was acknowledged", detail, StringComparison.Ordinal);

                using var probe = await api.SendAsync(HttpMethod.Get, "/health", key: null);
                var health = await probe.Content.ReadFromJsonAsync<JsonElement>();
                degraded = health.GetProperty("checks").GetProperty("ingest-backlog").GetProperty("status").GetString() == "Degraded";
                if (!degraded)
                {
                    await Task.Delay(retryAfter.Value); // as a device would
                }
            }

            Assert.True(degraded, $"after {acknowledged:N0} acknowledged readings the Api's health does not report ingest refused");
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("worker", deadline.Token);
        }

        var last = new[] { new { sensorId = sensor, timestamp = origin.AddHours(-1), value = 1.0 } }; // before every batch: a distinct reading
        await Eventually.TrueAsync(async () =>
        {
            using var response = await api.PostReadingsAsync(last);
            return response.StatusCode == HttpStatusCode.Accepted;
        }, TimeSpan.FromMinutes(1), "ingest to be admitted again once the Worker caught up");
        var database = await platform.App.GetConnectionStringAsync("kilndb") ?? throw new InvalidOperationException("kilndb has no connection string");
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(database);
        await using var count = dataSource.CreateCommand("SELECT count(*) FROM readings WHERE sensor_id = $1");
        count.Parameters.AddWithValue(sensor);
        long stored = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var all = Eventually.TrueAsync(async () => (stored = (long)(await count.ExecuteScalarAsync())!) == acknowledged + 1, TimeSpan.FromMinutes(1),
            "every acknowledged reading to be stored");
        var timedOut = await Record.ExceptionAsync(() => all);
        Assert.True(timedOut is null, $"{stored:N0} of {acknowledged + 1:N0} acknowledged readings stored: {timedOut?.Message}");
        output.WriteLine($"all {stored:N0} stored {clock.Elapsed.TotalSeconds:0.0} s after ingest was admitted again");
    }

    public void Dispose() => platform.WriteLogs(output);
}
