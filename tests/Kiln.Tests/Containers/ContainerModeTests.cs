using System.Diagnostics;
using System.Net;
using Kiln.AppHost.Containers;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Kiln.Tests.Distributed;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kiln.Tests.Containers;

/// <summary>
/// The whole platform with pg, cache and kafka as containers (<c>--mode container</c>), the projects as usual. Skipped,
/// with the reason, where no container engine works; run by CI, which installs podman. The first start on a machine
/// builds Kiln's images (a few minutes); the test output then shows what was built and how long it took.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class ContainerModeTests(ITestOutputHelper output)
{
    // Generous: the first start on a machine builds every image (about 2 minutes here, longer on a loaded machine).
    private static readonly TimeSpan FirstStartDeadline = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(3);
    private static readonly string[] BackingResources = ["pg", "cache", "kafka"];

    [SkippableFact]
    public async Task Readings_flow_through_containers_their_data_survives_a_restart_and_fresh_wipes_it()
    {
        var engine = RequireEngine(out var state);
        try
        {
            const int Sensors = 4, PerSensor = 250; // 1,000 readings
            var sensors = Enumerable.Range(0, Sensors).Select(i => $"ctr1.s{i}.temp").ToArray();
            await RunAsync(state, [], FirstStartDeadline, async (app, api) =>
            {
                foreach (var resource in BackingResources)
                {
                    Assert.Equal(ResourceMode.Container, ModeOf(app, resource));
                }

                var running = await engine.ContainersOfStateAsync(CancellationToken.None);
                Assert.Equal(3, running.Count);
                foreach (var sensor in sensors)
                {
                    Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(sensor, "ctr1")).StatusCode);
                    using var posted = await api.PostReadingsAsync(ApiDriver.Readings(sensor, PerSensor, i => i));
                    Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
                }

                await Eventually.TrueAsync(async () => await CountAsync(api, sensors) == Sensors * PerSensor, TimeSpan.FromSeconds(60),
                    "the 1,000 readings to be stored in the pg container");
                // The Worker wrote each sensor's latest value into the cache container.
                var cache = await app.GetConnectionStringAsync("cache") ?? throw new InvalidOperationException("cache has no connection string");
                await using var redis = await ConnectionMultiplexer.ConnectAsync(cache);
                await Eventually.TrueAsync(async () => (await redis.GetDatabase().HashGetAsync($"kiln:latest:{sensors[0]}", "value")).HasValue,
                    TimeSpan.FromSeconds(30), "the latest value in the cache container");
            });
            await AssertNothingLeftAsync(engine);

            await RunAsync(state, [], StartDeadline, async (_, api) =>
            {
                Assert.Equal(Sensors * PerSensor, await CountAsync(api, sensors));
            });
            await AssertNothingLeftAsync(engine);
            Assert.Equal(2, (await VolumesAsync(engine)).Count); // pg's and cache's; the broker keeps nothing

            string[] before = [.. await VolumeIdsAsync(engine)];
            await RunAsync(state, ["--fresh"], StartDeadline, async (_, api) =>
            {
                using var unknown = await api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/{sensors[0]}", api.ReadKey);
                Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            });
            // New volumes under the same names: the old ones were removed, not emptied.
            Assert.Empty(before.Intersect(await VolumeIdsAsync(engine)));
            await AssertNothingLeftAsync(engine);
        }
        finally
        {
            await CleanUpAsync(engine, state);
        }
    }

    [SkippableFact]
    public async Task A_stopped_apphost_leaves_no_container_and_a_killed_one_leaves_containers_the_next_start_removes()
    {
        var engine = RequireEngine(out var state);
        try
        {
            // As Ctrl+C stops it: a signal to the AppHost process (SIGTERM: a background job has SIGINT ignored).
            using (var appHost = StartAppHostProcess(state))
            {
                var pids = await WaitUntilHealthyAsync(appHost, state, FirstStartDeadline);
                Assert.Equal(3, (await engine.ContainersOfStateAsync(CancellationToken.None)).Count);
                Assert.True(Signals.Send(appHost.Id, Signals.SigTerm));
                Assert.True(appHost.WaitForExit(TimeSpan.FromSeconds(90)), "the AppHost did not stop within 90 s of SIGTERM");
                Assert.All(pids, pid => Assert.False(ProcessRegistry.IsRunning(pid), $"resource process {pid} outlived the stopped AppHost"));
                await AssertNothingLeftAsync(engine);
            }

            // SIGKILL: the AppHost cannot clean up; the engine keeps its containers running.
            using (var appHost = StartAppHostProcess(state))
            {
                await WaitUntilHealthyAsync(appHost, state, StartDeadline);
                appHost.Kill();
                await appHost.WaitForExitAsync();
            }

            var left = await engine.ContainersOfStateAsync(CancellationToken.None);
            Assert.Equal(3, left.Count);

            await RunAsync(state, [], StartDeadline, async (app, _) =>
            {
                var said = app.Context.LogFor("apphost").Snapshot();
                foreach (var resource in BackingResources)
                {
                    Assert.Contains(said, line => line.Contains($"removed container {engine.ContainerName(resource)}, left by an AppHost that did not shut down", StringComparison.Ordinal));
                }

                var now = await engine.ContainersOfStateAsync(CancellationToken.None);
                Assert.Equal(3, now.Count);
                Assert.Empty(now.Select(Short).Intersect(left.Select(Short))); // new containers, not the leftovers
            });
            await AssertNothingLeftAsync(engine);
        }
        finally
        {
            await CleanUpAsync(engine, state);
        }

        static string Short(string id) => id[..12];
    }

    /// <summary>The engine the AppHost would use, or a skip naming why there is none; and a state folder for the test.</summary>
    private static ContainerEngine RequireEngine(out string state)
    {
        state = DistributedApplicationTestingBuilder.NewStateDirectory();
        var (engine, problem) = ContainerEngine.Find(Environment.GetEnvironmentVariable("Kiln__Containers__Engine"), new StateDirectory(state));
        if (engine is null)
        {
            DistributedApplicationTestingBuilder.RemoveStateDirectory(state);
        }

        Skip.If(engine is null, $"no container engine works on this machine ({problem}); install podman (.ci/run does) to run container mode's tests");
        return engine!;
    }

    private async Task RunAsync(string state, string[] arguments, TimeSpan deadline, Func<DistributedApplication, ApiDriver, Task> use)
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync(["--state-dir", state, "--mode", "container", .. arguments]);
        var app = await appHost.BuildAsync();
        var stopwatch = Stopwatch.StartNew();
        try
        {
            using (var timeout = new CancellationTokenSource(deadline))
            {
                await app.StartAsync(timeout.Token);
            }

            output.WriteLine($"started {string.Join(' ', arguments)} in container mode in {stopwatch.Elapsed.TotalSeconds:0.0} s");
            ShowImageBuilds(app);
            using var api = new ApiDriver(app);
            await use(app, api);
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
    }

    /// <summary>What this start built (first start on the machine, or a changed definition), as the AppHost said it.</summary>
    private void ShowImageBuilds(DistributedApplication app)
    {
        foreach (var line in app.Context.LogFor("apphost").Snapshot().Where(l => l.StartsWith("built ", StringComparison.Ordinal) || l.StartsWith("building ", StringComparison.Ordinal)))
        {
            output.WriteLine($"apphost | {line}");
        }
    }

    private static ResourceMode ModeOf(DistributedApplication app, string resource) => resource switch
    {
        "pg" => app.Resource<PostgresServerResource>(resource).Mode,
        "cache" => app.Resource<RedisResource>(resource).Mode,
        _ => app.Resource<KafkaResource>(resource).Mode,
    };

    private static async Task<int> CountAsync(ApiDriver api, string[] sensors)
    {
        var total = 0;
        foreach (var sensor in sensors)
        {
            total += (await api.ReadAllAsync(sensor)).Count;
        }

        return total;
    }

    /// <summary>After a stop: no container of the state folder, and no engine process (<c>run</c>, conmon) of it.</summary>
    private static async Task AssertNothingLeftAsync(ContainerEngine engine)
    {
        Assert.Empty(await engine.ContainersOfStateAsync(CancellationToken.None));
        // The engine's monitor ends a moment after its container is removed: a deadline, far from the milliseconds it takes.
        await Eventually.TrueAsync(() => ConmonOf(engine.StateHash).Count == 0 && RunProcessesOf(engine.StateHash).Count == 0,
            TimeSpan.FromSeconds(15), "no conmon and no attached run process of the state folder's containers");
    }

    private static async Task<List<string>> VolumesAsync(ContainerEngine engine)
    {
        var (_, listed) = await engine.RunAsync(["volume", "ls", "-q", "--filter", $"label={ContainerEngine.StateLabel}={engine.StateHash}"],
            TimeSpan.FromSeconds(30), CancellationToken.None);
        return [.. listed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
    }

    /// <summary>Volumes by creation time and name: a volume removed and made again under its name counts as another.</summary>
    private static async Task<List<string>> VolumeIdsAsync(ContainerEngine engine)
    {
        var names = await VolumesAsync(engine);
        if (names.Count == 0)
        {
            return [];
        }

        var (_, inspected) = await engine.RunAsync(["volume", "inspect", "--format", "{{.Name}} {{.CreatedAt}}", .. names],
            TimeSpan.FromSeconds(30), CancellationToken.None);
        return [.. inspected.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
    }

    private Process StartAppHostProcess(string state)
    {
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in new[] { "exec", typeof(DistributedApplication).Assembly.Location, "--state-dir", state, "--mode", "container", "--no-simulator" })
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo };
        // What it built, if this is the machine's first start in container mode.
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && (line.Contains("| building ", StringComparison.Ordinal) || line.Contains("| built ", StringComparison.Ordinal)))
            {
                try
                {
                    output.WriteLine(line);
                }
                catch (InvalidOperationException)
                {
                    // The test has ended.
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Waits for endpoints.json (everything healthy); returns the resource processes the AppHost recorded.</summary>
    private static async Task<List<int>> WaitUntilHealthyAsync(Process appHost, string state, TimeSpan within)
    {
        await Eventually.TrueAsync(() => File.Exists(Path.Combine(state, "endpoints.json")) || appHost.HasExited, within, "every resource to be healthy");
        Assert.False(appHost.HasExited, $"the AppHost exited with code {(appHost.HasExited ? appHost.ExitCode : 0)} before its resources were healthy");
        return TestApplicationOutput.RecordedProcesses(state);
    }

    /// <summary>conmon processes (the engine's per-container monitors) of this state folder's containers.</summary>
    private static List<int> ConmonOf(string stateHash) => ProcessesWhoseCommandLineHas("conmon", $"kiln-{stateHash}-");

    /// <summary>The engine's attached <c>run</c> processes of this state folder's containers.</summary>
    private static List<int> RunProcessesOf(string stateHash) => ProcessesWhoseCommandLineHas("run", $"kiln-{stateHash}-");

    private static List<int> ProcessesWhoseCommandLineHas(string word, string name)
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                var arguments = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
                if (arguments.Contains(word) || arguments.Any(a => a.EndsWith("/" + word, StringComparison.Ordinal)))
                {
                    if (arguments.Any(a => a.Contains(name, StringComparison.Ordinal)))
                    {
                        found.Add(pid);
                    }
                }
            }
            catch (IOException)
            {
                // The process ended meanwhile.
            }
        }

        return found;
    }

    /// <summary>Whatever a failed test left: this state folder's containers and volumes, and the folder.</summary>
    private static async Task CleanUpAsync(ContainerEngine engine, string state)
    {
        try
        {
            await engine.RemoveContainersOfStateAsync(CancellationToken.None);
            await engine.RemoveVolumesOfStateAsync(CancellationToken.None);
        }
        finally
        {
            DistributedApplicationTestingBuilder.RemoveStateDirectory(state);
        }
    }
}
