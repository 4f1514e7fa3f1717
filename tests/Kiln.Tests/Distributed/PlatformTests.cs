using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// The platform's whole life: boot through the AppHost's own model, a reading batch end to end, a
/// crashed Worker restarted without loss, then a stop that leaves no process behind.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class PlatformTests(ITestOutputHelper output)
{
    private const string SensorId = "kiln1.burner.temp";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ReadableDeadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_thousand_posted_readings_are_readable_a_crashed_worker_returns_a_lost_broker_is_a_503_and_no_process_outlives_the_stop()
    {
        var state = DistributedApplicationTestingBuilder.NewStateDirectory();
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync(["--state-dir", state]);
        var app = await appHost.BuildAsync();
        List<int> pids = [];
        try
        {
            using (var deadline = new CancellationTokenSource(StartDeadline))
            {
                await app.StartAsync(deadline.Token);
                await app.ResourceNotifications.WaitForResourceHealthyAsync("worker", deadline.Token);
            }

            Assert.True(File.Exists(Path.Combine(state, "endpoints.json")), "endpoints.json is written once everything is up");
            using var api = new ApiDriver(app);
            Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(SensorId, "kiln1")).StatusCode);

            var readings = ApiDriver.Readings(SensorId, 1000, i => 1000 + (i * 0.25));
            var post = await api.PostReadingsAsync(readings);
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            var ingest = await post.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(1000, ingest.GetProperty("accepted").GetInt32());
            Assert.Equal(0, ingest.GetProperty("rejected").GetArrayLength());

            List<(DateTimeOffset Timestamp, double Value)> stored = [];
            await Eventually.TrueAsync(async () => (stored = await api.ReadAllAsync(SensorId)).Count == 1000, ReadableDeadline, "all 1,000 readings to be readable");
            Assert.Equal(Enumerable.Range(0, 1000).Select(i => 1000 + (i * 0.25)), stored.Select(r => r.Value));
            Assert.True(stored.Zip(stored.Skip(1)).All(p => p.First.Timestamp < p.Second.Timestamp), "readings come oldest first");

            var latest = await api.GetAsync($"/api/v1/sensors/{SensorId}/latest");
            Assert.Equal(1000 + (999 * 0.25), latest.GetProperty("value").GetDouble());
            Assert.Equal(stored[^1].Timestamp, latest.GetProperty("timestamp").GetDateTimeOffset());

            // A device retrying the same batch stores nothing twice.
            Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(readings)).StatusCode);

            // A Worker replica that crashes is restarted, and what is posted meanwhile is not lost.
            var worker = app.Resource<ProjectResource>("worker").RunningReplicas[0];
            var crashedPid = worker.Pid!.Value;
            Process.GetProcessById(crashedPid).Kill();
            var more = ApiDriver.Readings("kiln1.burner.pressure", 200, i => i);
            Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync("kiln1.burner.pressure", "kiln1")).StatusCode);
            Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(more)).StatusCode);
            await Eventually.TrueAsync(() => worker.Pid != crashedPid && worker.Restarts == 1, TimeSpan.FromSeconds(30), "the crashed worker to be restarted");
            await Eventually.TrueAsync(async () => (await api.ReadAllAsync("kiln1.burner.pressure")).Count == 200, TimeSpan.FromSeconds(30),
                "readings posted around the crash to be stored");
            Assert.Equal(1000, (await api.ReadAllAsync(SensorId)).Count);

            pids = TestApplicationOutput.RecordedProcesses(state);

            // With the broker gone, a POST gets a bounded 503 with Retry-After, never a hang or a 500.
            await app.StopResourceAsync("kafka");
            var clock = Stopwatch.StartNew();
            using var refused = await api.PostReadingsAsync(ApiDriver.Readings(SensorId, 10, i => i));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the refusal took {clock.Elapsed}");
        }
        catch
        {
            app.WriteLogs(output);
            throw;
        }
        finally
        {
            await app.DisposeAsync();
        }

        Assert.True(pids.Count >= 7, $"expected a process per resource replica, found {pids.Count}");
        var survivors = pids.Where(pid => Directory.Exists($"/proc/{pid}")).ToList();
        Assert.True(survivors.Count == 0, $"processes still running after stop: {string.Join(", ", survivors)}");
        Assert.Empty(ProcessesMentioning(state));
        Assert.False(File.Exists(Path.Combine(state, "endpoints.json")), "endpoints.json is removed on exit");
        DistributedApplicationTestingBuilder.RemoveStateDirectory(state);
    }

    /// <summary>Any process whose command line names the state folder: a server we started, still alive.</summary>
    private static List<string> ProcessesMentioning(string state) =>
        [.. Directory.EnumerateDirectories("/proc")
            .Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Select(ReadCommandLine)
            .Where(cmd => cmd.Contains(state, StringComparison.Ordinal))];

    private static string ReadCommandLine(string procDirectory)
    {
        try
        {
            return File.ReadAllText(Path.Combine(procDirectory, "cmdline")).Replace('\0', ' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
