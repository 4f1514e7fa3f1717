using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Kiln.Dashboard.Configuration;
using Kiln.Tests.Redis;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// One dashboard per storage folder, with real processes: a second one over the folder stops at once with a message
/// that names the folder, the process holding it and the setting to change, and writes nothing; once the first is
/// killed (SIGKILL: no chance to clean up) the folder is free again, and its run is there, readable, as a past run.
/// </summary>
public sealed class StorageFolderLockTests : IDisposable
{
    private readonly DirectoryInfo _storage = Directory.CreateTempSubdirectory("kiln-dashboard-lock-");
    private readonly string _otlpKey = DashboardOptions.NewKey();
    private readonly string _apiKey = DashboardOptions.NewKey();
    private readonly string _token = DashboardOptions.NewKey();

    public void Dispose() => _storage.Delete(recursive: true);

    [Fact]
    public async Task A_second_dashboard_over_the_same_folder_stops_with_the_reason_and_the_folder_is_free_once_the_first_is_killed()
    {
        var storage = _storage.FullName;
        var (first, firstFrontend, otlpHttp) = await DashboardProcess.StartAsync(storage, _otlpKey, _apiKey, _token);
        string firstRun;
        try
        {
            using (var otlp = new HttpClient { BaseAddress = otlpHttp })
            {
                using var content = new ByteArrayContent(Google.Protobuf.MessageExtensions.ToByteArray(
                    OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "before the second")])));
                content.Headers.ContentType = new("application/x-protobuf");
                content.Headers.Add("x-otlp-api-key", _otlpKey);
                (await otlp.PostAsync("/v1/traces", content)).EnsureSuccessStatusCode();
            }

            using var firstApi = Api(firstFrontend);
            firstRun = await CurrentRunAsync(firstApi);
            // Written to the file before anything else happens, so the SIGKILL below loses nothing of it.
            await Eventually.TrueAsync(async () =>
            {
                using var runs = JsonDocument.Parse(await firstApi.GetStringAsync("/api/runs"));
                return runs.RootElement[0].GetProperty("pendingWrites").GetInt64() == 0 && runs.RootElement[0].GetProperty("spans").GetInt64() == 1;
            }, TimeSpan.FromSeconds(30), "the first dashboard to write its span");
            var runFiles = Directory.GetFiles(Path.Combine(storage, "runs"));

            var output = new ConcurrentQueue<string>();
            using var second = await ParentBoundProcess.StartAsync("dotnet", DashboardProcess.Arguments(storage, _otlpKey, _apiKey, _token), output.Enqueue);
            using (var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                await second.WaitForExitAsync(exited.Token);
            }

            var said = string.Join('\n', output);
            Assert.Equal(1, second.ExitCode);
            Assert.Contains($"dashboard: Another dashboard (process {first.Id} ", said, StringComparison.Ordinal);
            Assert.Contains($"keeps its runs in {storage};", said, StringComparison.Ordinal);
            Assert.Contains("--Dashboard:Storage:Path=<folder> (environment: Dashboard__Storage__Path)", said, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", said, StringComparison.Ordinal);
            Assert.Equal(runFiles, Directory.GetFiles(Path.Combine(storage, "runs"))); // no run of its own
            Assert.Equal(firstRun, await CurrentRunAsync(firstApi)); // the first goes on
        }
        finally
        {
            first.Kill(); // SIGKILL: the lock must go with the process
            await first.WaitForExitAsync();
            first.Dispose();
        }

        var (third, frontend, _) = await DashboardProcess.StartAsync(storage, _otlpKey, _apiKey, _token);
        try
        {
            using var api = Api(frontend);
            using var traces = JsonDocument.Parse(await api.GetStringAsync($"/api/telemetry/traces?runId={firstRun}"));
            Assert.Equal(1, traces.RootElement.GetProperty("totalCount").GetInt32());
        }
        finally
        {
            third.Kill();
            await third.WaitForExitAsync();
            third.Dispose();
        }
    }

    private HttpClient Api(Uri frontend)
    {
        var api = new HttpClient { BaseAddress = frontend };
        api.DefaultRequestHeaders.Add("X-API-Key", _apiKey);
        return api;
    }

    private static async Task<string> CurrentRunAsync(HttpClient api)
    {
        using var runs = JsonDocument.Parse(await api.GetStringAsync("/api/runs"));
        return runs.RootElement.EnumerateArray().Single(r => r.GetProperty("current").GetBoolean()).GetProperty("runId").GetString()!;
    }
}
