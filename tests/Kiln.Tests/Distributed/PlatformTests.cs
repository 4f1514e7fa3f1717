using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>Boots the whole platform through the AppHost's own model and drives it over real HTTP.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class PlatformTests(ITestOutputHelper output)
{
    private const string SensorId = "kiln1.burner.temp";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ReadableDeadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_thousand_posted_readings_are_readable_and_no_process_outlives_the_apphost()
    {
        var state = AppHostFactory.NewStateDirectory();
        var app = AppHostFactory.Create(state);
        IReadOnlyList<int> pids = [];
        try
        {
            await app.StartAsync(new CancellationTokenSource(StartDeadline).Token);
            pids = ResourceProcesses(app);
            Assert.True(File.Exists(Path.Combine(state, "endpoints.json")), "endpoints.json is written once everything is up");

            using var http = new HttpClient { BaseAddress = app.Resource<ProjectResource>("api").Urls[0] };
            var put = await Send(http, HttpMethod.Put, $"/api/v1/sensors/{SensorId}", app.Secrets.AdminApiKey,
                new { site = "kiln1", kind = "temperature", unit = "C", rule = new { low = (double?)null, high = 1450, hysteresis = 5 } });
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);

            var newest = DateTimeOffset.UtcNow.AddSeconds(-1);
            var readings = Enumerable.Range(0, 1000)
                .Select(i => new { sensorId = SensorId, timestamp = newest.AddSeconds(i - 999), value = 1000 + (i * 0.25) })
                .ToArray();
            var post = await Send(http, HttpMethod.Post, "/api/v1/readings", app.Secrets.IngestApiKey, new { readings });
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            var ingest = await post.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(1000, ingest.GetProperty("accepted").GetInt32());
            Assert.Equal(0, ingest.GetProperty("rejected").GetArrayLength());

            var stored = await WaitForAsync(() => ReadAllAsync(http, app.Secrets.ReadApiKey), r => r.Count == 1000, ReadableDeadline);
            Assert.Equal(readings.Select(r => r.value), stored.Select(r => r.Value));
            Assert.Equal(readings.Select(r => r.timestamp.UtcTicks / 10), stored.Select(r => r.Timestamp.UtcTicks / 10));

            var latest = await Get<JsonElement>(http, $"/api/v1/sensors/{SensorId}/latest", app.Secrets.ReadApiKey);
            Assert.Equal(readings[^1].value, latest.GetProperty("value").GetDouble());

            // Re-sending the same batch (a device retrying) stores nothing twice.
            var again = await Send(http, HttpMethod.Post, "/api/v1/readings", app.Secrets.IngestApiKey, new { readings });
            Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
            var afterResend = await ReadAllAsync(http, app.Secrets.ReadApiKey);
            Assert.Equal(1000, afterResend.Count);
        }
        catch
        {
            DumpLogs(app);
            throw;
        }
        finally
        {
            await app.DisposeAsync();
        }

        Assert.NotEmpty(pids);
        var survivors = pids.Where(pid => Directory.Exists($"/proc/{pid}")).ToList();
        Assert.True(survivors.Count == 0, $"processes still running after stop: {string.Join(", ", survivors)}");
        Assert.Empty(ProcessesMentioning(state));
        Assert.False(File.Exists(Path.Combine(state, "endpoints.json")), "endpoints.json is removed on exit");
    }

    private static IReadOnlyList<int> ResourceProcesses(DistributedApplication app)
    {
        var registry = JsonDocument.Parse(File.ReadAllText(Path.Combine(app.StateRoot, "processes.json")));
        return [.. registry.RootElement.EnumerateArray().Select(e => e.GetProperty("Pid").GetInt32())];
    }

    /// <summary>Any process whose command line names the state folder: a server we started, still alive.</summary>
    private static List<string> ProcessesMentioning(string state) =>
        [.. Directory.EnumerateDirectories("/proc")
            .Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Select(d => { try { return File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' '); } catch (IOException) { return ""; } catch (UnauthorizedAccessException) { return ""; } })
            .Where(cmd => cmd.Contains(state, StringComparison.Ordinal))];

    private static async Task<List<(DateTimeOffset Timestamp, double Value)>> ReadAllAsync(HttpClient http, string key)
    {
        var all = new List<(DateTimeOffset, double)>();
        string? cursor = null;
        do
        {
            var page = await Get<JsonElement>(http, $"/api/v1/sensors/{SensorId}/readings?limit=300" + (cursor is null ? "" : $"&cursor={cursor}"), key);
            all.AddRange(page.GetProperty("items").EnumerateArray()
                .Select(i => (i.GetProperty("timestamp").GetDateTimeOffset(), i.GetProperty("value").GetDouble())));
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);
        return all;
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        while (true)
        {
            var value = await read();
            if (done(value) || timeout.IsCancellationRequested)
            {
                return value;
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    private static async Task<HttpResponseMessage> Send(HttpClient http, HttpMethod method, string path, string key, object body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Api-Key", key);
        return await http.SendAsync(request);
    }

    private static async Task<T> Get<T>(HttpClient http, string path, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Api-Key", key);
        using var response = await http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<T>())!;
    }

    private void DumpLogs(DistributedApplication app)
    {
        try
        {
            foreach (var (name, log) in app.Context.Logs)
            {
                foreach (var line in log.Snapshot().TakeLast(40))
                {
                    output.WriteLine($"{name,-10}| {line}");
                }
            }
        }
        catch (InvalidOperationException)
        {
            output.WriteLine("(the application never started; no resource output)");
        }
    }
}

/// <summary>Platform tests boot many processes; they run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PlatformTestGroup
{
    public const string Name = "platform";
}
