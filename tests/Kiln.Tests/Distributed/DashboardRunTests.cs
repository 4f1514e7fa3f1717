using System.Diagnostics;
using System.Text.Json;
using Kiln.AppHost.Model;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// The dashboard under the AppHost keeps its run in <c>.apphost/dashboard/runs/</c>, and a dashboard killed and
/// restarted by the AppHost within the same AppHost run reopens that run: the traces and console lines written before
/// the crash are served again, under the same run id. A platform of its own, since it kills the dashboard.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class DashboardRunTests(OwnPlatformFixture platform, ITestOutputHelper output) : IClassFixture<OwnPlatformFixture>, IDisposable
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_dashboard_killed_and_restarted_by_the_apphost_reopens_its_run_with_what_it_had_written()
    {
        var dashboard = platform.App.Dashboard;
        using var api = new HttpClient { BaseAddress = dashboard.FrontendUrl };
        api.DefaultRequestHeaders.Add("X-API-Key", platform.App.Secrets.DashboardApiKey);

        // Something of the Api's in the run: its traces and its console lines, all written to the file.
        await Eventually.TrueAsync(async () => (await TotalAsync(api, "/api/telemetry/traces?resource=api")) > 0 && (await TotalAsync(api, "/api/telemetry/console-logs?resource=api")) > 0,
            Within, "the Api's traces and console lines at the dashboard");
        var traces = await TraceIdsAsync(api);
        var consoleLines = await TotalAsync(api, "/api/telemetry/console-logs?resource=api");
        // An item is counted as pending from before the store holds it until it is in the file: once nothing is pending,
        // everything read above is written.
        await Eventually.TrueAsync(async () => (await CurrentRunAsync(api)).GetProperty("pendingWrites").GetInt64() == 0, Within, "the writer to catch up");
        var run = (await CurrentRunAsync(api)).GetProperty("runId").GetString()!;
        Assert.True(File.Exists(Path.Combine(platform.StateDirectory, "dashboard", "runs", run + ".db")), "the run's file under .apphost/dashboard/runs/");

        var killed = dashboard.Pid ?? throw new InvalidOperationException("the dashboard has no process");
        using (var process = Process.GetProcessById(killed))
        {
            process.Kill(); // SIGKILL: a crash, not a stop that writes out the queue
        }

        await Eventually.TrueAsync(() => dashboard.State == ResourceState.Running && dashboard.Pid is { } now && now != killed, Within, "the dashboard to run again");
        await Eventually.TrueAsync(async () => (await CurrentRunAsync(api)).GetProperty("runId").GetString() == run, Within, "the restarted dashboard to answer");
        var after = await TraceIdsAsync(api);
        Assert.Empty(traces.Except(after)); // every trace written before the crash is there again
        Assert.True(await TotalAsync(api, "/api/telemetry/console-logs?resource=api") >= consoleLines);
        output.WriteLine($"run {run}: {traces.Count} traces before the kill, {after.Count} after the restart; {consoleLines} console lines of api");
        using var runs = JsonDocument.Parse(await api.GetStringAsync("/api/runs"));
        Assert.Equal(1, runs.RootElement.GetArrayLength()); // the same run, not a new one
    }

    public void Dispose() => platform.App.WriteLogs(output);

    private static async Task<JsonElement> CurrentRunAsync(HttpClient api)
    {
        using var runs = JsonDocument.Parse(await api.GetStringAsync("/api/runs"));
        return runs.RootElement[0].Clone();
    }

    private static async Task<int> TotalAsync(HttpClient api, string path)
    {
        using var response = await api.GetAsync(path);
        if (!response.IsSuccessStatusCode)
        {
            return 0;
        }

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("totalCount").GetInt32();
    }

    private static async Task<HashSet<string>> TraceIdsAsync(HttpClient api)
    {
        using var json = JsonDocument.Parse(await api.GetStringAsync("/api/telemetry/spans?limit=100000"));
        return [.. json.RootElement.GetProperty("data").GetProperty("resourceSpans").EnumerateArray()
            .SelectMany(r => r.GetProperty("scopeSpans").EnumerateArray())
            .SelectMany(s => s.GetProperty("spans").EnumerateArray())
            .Select(s => s.GetProperty("traceId").GetString()!)];
    }
}
