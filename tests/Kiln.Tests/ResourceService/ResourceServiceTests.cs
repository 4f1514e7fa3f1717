using Grpc.Core;
using Kiln.AppHost.Model;
using Kiln.AppHost.ResourceService;
using Kiln.AppHost.Resources;
using Kiln.ResourceService.V1;
using Kiln.Tests.Distributed;
using Xunit.Abstractions;

namespace Kiln.Tests.ResourceService;

/// <summary>
/// The AppHost's resource service as a dashboard uses it (issue 9): a real gRPC client against the AppHost running the whole
/// platform. The platform is this class's own, since one test stops and starts the Web.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class ResourceServiceTests(OwnPlatformFixture platform, ITestOutputHelper output)
    : IClassFixture<OwnPlatformFixture>, IDisposable
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);
    private static readonly string[] Everything = ["pg", "kilndb", "cache", "kafka", "api-0", "api-1", "worker-0", "worker-1", "web"];

    private static readonly string[] BackingServices = ["pg", "cache", "kafka"];

    private readonly ResourceServiceDriver _service = new(platform.App);

    private DistributedApplication App => platform.App;

    [Fact]
    public async Task The_initial_snapshot_lists_every_resource_running_and_healthy_with_endpoints_pids_and_references()
    {
        // Health is checked once a resource runs: wait for every first result, then look at what a new watcher is sent first.
        using (var first = _service.Watch())
        {
            await first.WaitUntilAsync(v => v.All.Count == Everything.Length && v.All.All(r => r.HealthStatus == HealthStatus.Healthy),
                Within, "every resource to be reported healthy");
        }

        using var watch = _service.Watch();
        var initial = (await watch.Initial).ToDictionary(r => r.Name);

        Assert.Equal(Everything.Order(), initial.Keys.Order());
        foreach (var resource in initial.Values)
        {
            Assert.True(resource is { State: "Running", StateText: "Running", StateStyle: "success", HealthStatus: HealthStatus.Healthy },
                $"{resource.Name}: {resource.State} / {resource.StateText} / {resource.HealthStatus}");
            Assert.NotEmpty(resource.HealthReports);
            Assert.All(resource.HealthReports, report => Assert.Equal(HealthStatus.Healthy, report.Status));
        }

        // Each replica is a resource of its own, sharing its project's display name, with its own address and process.
        var api = App.Resource<ProjectResource>("api");
        for (var i = 0; i < 2; i++)
        {
            var replica = initial[$"api-{i}"];
            Assert.Equal(("api", "Project"), (replica.DisplayName, replica.ResourceType));
            Assert.Equal(api.RunningReplicas[i].InstanceId, replica.Uid);
            Assert.Equal(api.Urls[i].ToString().TrimEnd('/'), Assert.Single(replica.Urls, u => u.EndpointName == "http").FullUrl);
            Assert.Equal(api.RunningReplicas[i].Pid, replica.ProcessId);
            Assert.True(Directory.Exists($"/proc/{replica.ProcessId}"), $"api-{i}'s pid {replica.ProcessId} is not a running process");
            Assert.NotNull(replica.StartedAt);
            Assert.Equal(0, replica.Restarts);
            // A project's health reports are its /health checks, by name.
            Assert.Contains(replica.HealthReports, r => r.Key == "self");
        }

        Assert.Equal(api.Urls[0], new Uri(initial["api-0"].Urls[0].FullUrl));
        Assert.NotEqual(initial["api-0"].ProcessId, initial["api-1"].ProcessId);

        // Backing services run as local processes: an address and a pid each; the database belongs to its server.
        Assert.Equal(App.Resource<PostgresServerResource>("pg").Pid, initial["pg"].ProcessId);
        Assert.Equal(App.Resource<RedisResource>("cache").Pid, initial["cache"].ProcessId);
        Assert.Equal(App.Resource<KafkaResource>("kafka").Pid, initial["kafka"].ProcessId);
        Assert.All(BackingServices, name =>
        {
            Assert.Equal("Executable", initial[name].ResourceType);
            Assert.StartsWith("tcp://127.0.0.1:", Assert.Single(initial[name].Urls, u => !u.IsInternal).FullUrl, StringComparison.Ordinal);
        });
        Assert.Equal($"tcp://127.0.0.1:{App.Resource<PostgresServerResource>("pg").Port}", initial["pg"].Urls[0].FullUrl);
        Assert.True(Assert.Single(initial["kafka"].Urls, u => u.EndpointName == "control").IsInternal);
        Assert.Equal("PostgresDatabase", initial["kilndb"].ResourceType);
        Assert.False(initial["kilndb"].HasProcessId);
        Assert.Contains(initial["kilndb"].Relationships, r => r is { ResourceName: "pg", Type: "Parent" });
        Assert.Empty(initial["kilndb"].Commands);

        // References and waits, as declared in Program.cs.
        var web = initial["web"];
        Assert.Equal("web", web.DisplayName);
        Assert.Contains(web.Relationships, r => r is { ResourceName: "api", Type: "Reference" });
        Assert.Contains(web.Relationships, r => r is { ResourceName: "api", Type: "WaitFor" });
        Assert.Contains(web.Relationships, r => r is { ResourceName: "cache", Type: "Reference" });
        foreach (var dependency in new[] { "kilndb", "cache", "kafka" })
        {
            Assert.Contains(initial["worker-1"].Relationships, r => r.ResourceName == dependency && r.Type == "Reference");
            Assert.Contains(initial["worker-1"].Relationships, r => r.ResourceName == dependency && r.Type == "WaitFor");
        }

        // What may be asked of a running resource.
        Assert.Equal(
            [("start", ResourceCommandState.Disabled), ("stop", ResourceCommandState.Enabled), ("restart", ResourceCommandState.Enabled)],
            web.Commands.Select(c => (c.Name, c.State)));
    }

    [Fact]
    public async Task A_stop_streams_the_state_change_to_a_watcher_and_a_start_brings_the_resource_back()
    {
        using var watch = _service.Watch();
        await watch.WaitUntilAsync(v => v["web"] is { State: "Running", HealthStatus: HealthStatus.Healthy }, Within, "web to be running and healthy");
        var pidBefore = watch["web"]!.ProcessId;

        var stopped = await _service.ExecuteAsync("stop", "web");

        Assert.True(stopped.Kind == ResourceCommandResponseKind.Succeeded, stopped.Message);
        await watch.WaitUntilAsync(v => v["web"] is { State: "Exited" }, Within, "the watcher to see web Exited");
        var exited = watch["web"]!;
        Assert.Equal("Exited (stopped on request)", exited.StateText);
        Assert.False(exited.HasProcessId);
        Assert.Equal(HealthStatus.Unknown, exited.HealthStatus);
        Assert.NotNull(exited.StoppedAt);
        Assert.Equal(ResourceCommandState.Enabled, exited.Commands.Single(c => c.Name == "start").State);
        Assert.Equal(ResourceCommandState.Disabled, exited.Commands.Single(c => c.Name == "stop").State);
        // The others keep running.
        Assert.Equal("Running", watch["api-0"]!.State);

        // A command the state does not allow gets its reason, not an error.
        var again = await _service.ExecuteAsync("stop", "web");
        Assert.Equal(ResourceCommandResponseKind.Failed, again.Kind);
        Assert.Contains("only a running resource can be stopped", again.Message, StringComparison.Ordinal);

        var started = await _service.ExecuteAsync("start", "web");

        Assert.True(started.Kind == ResourceCommandResponseKind.Succeeded, started.Message);
        await watch.WaitUntilAsync(v => v["web"] is { State: "Running", HealthStatus: HealthStatus.Healthy }, Within,
            "the watcher to see web running and healthy again");
        Assert.NotEqual(pidBefore, watch["web"]!.ProcessId);
        Assert.Equal(App.Resource<ProjectResource>("web").RunningReplicas[0].Pid, watch["web"]!.ProcessId);
        // The watcher saw the way back: from Exited through Starting to Running.
        var states = watch.Upserts.Where(r => r.Name == "web").Select(r => r.State).SkipWhile(s => s != "Exited").ToList();
        Assert.Equal(["Exited", "Starting", "Running"], states.Where(s => s != "Waiting").Distinct());
        using var http = new HttpClient();
        Assert.True((await http.GetAsync(new Uri(App.Resource<ProjectResource>("web").Urls[0], "/health"))).IsSuccessStatusCode);
    }

    [Fact]
    public async Task A_dependency_outage_is_pushed_as_the_dependants_health_and_clears_when_it_is_back()
    {
        using var watch = _service.Watch();
        await watch.WaitUntilAsync(v => v.All.Count == Everything.Length && v.All.All(r => r.HealthStatus == HealthStatus.Healthy), Within,
            "every resource to be reported healthy");

        Assert.Equal(ResourceCommandResponseKind.Succeeded, (await _service.ExecuteAsync("stop", "cache")).Kind);
        try
        {
            // The Api carries on without Redis and says so on /health (Degraded); the watcher is told without asking.
            await watch.WaitUntilAsync(v => v["api-0"] is { HealthStatus: HealthStatus.Degraded, StateText: "Running (Degraded)", StateStyle: "warning" },
                Within, "api-0 to be reported Running (Degraded)");
            Assert.Contains(watch["api-0"]!.HealthReports, r => r.Status == HealthStatus.Degraded && r.Description.Length > 0);
            Assert.Equal(HealthStatus.Unknown, watch["cache"]!.HealthStatus);
        }
        finally
        {
            Assert.Equal(ResourceCommandResponseKind.Succeeded, (await _service.ExecuteAsync("start", "cache")).Kind);
        }

        await watch.WaitUntilAsync(v => v["api-0"] is { HealthStatus: HealthStatus.Healthy, StateText: "Running" } && v["cache"] is { HealthStatus: HealthStatus.Healthy },
            Within, "api-0 and the cache to be healthy again");
    }

    [Fact]
    public async Task A_crashed_replica_is_shown_restarting_then_running_with_a_new_pid_and_its_restart_counted()
    {
        using var watch = _service.Watch();
        await watch.WaitUntilAsync(v => v["worker-1"] is { State: "Running", HealthStatus: HealthStatus.Healthy }, Within, "worker-1 to be healthy");
        var before = watch["worker-1"]!;

        System.Diagnostics.Process.GetProcessById(before.ProcessId).Kill(); // SIGKILL

        await watch.WaitUntilAsync(v => v["worker-1"] is { State: "Running", HealthStatus: HealthStatus.Healthy } after
            && after.Restarts == before.Restarts + 1 && after.ProcessId != before.ProcessId, Within, "worker-1 to be back with a new process");
        Assert.Contains(watch.Upserts, r => r is { Name: "worker-1", State: "Starting", StateText: "Starting (restarting after a crash)" });
        Assert.Equal(App.Resource<ProjectResource>("worker").RunningReplicas[1].Pid, watch["worker-1"]!.ProcessId);
        // Its sibling was not touched.
        Assert.Equal(before.Restarts, watch["worker-0"]!.Restarts);
        Assert.Equal("Running", watch["worker-0"]!.State);
    }

    [Fact]
    public async Task Unknown_resources_and_commands_are_answered_with_a_reason()
    {
        var unknownResource = await _service.ExecuteAsync("stop", "nope");
        Assert.Equal(ResourceCommandResponseKind.Failed, unknownResource.Kind);
        Assert.Equal("There is no resource named 'nope'.", unknownResource.Message);

        var unknownCommand = await _service.ExecuteAsync("rebuild", "web");
        Assert.Equal(ResourceCommandResponseKind.Failed, unknownCommand.Kind);
        Assert.Contains("Unknown command 'rebuild'", unknownCommand.Message, StringComparison.Ordinal);

        var database = await _service.ExecuteAsync("stop", "kilndb");
        Assert.Equal(ResourceCommandResponseKind.Failed, database.Kind);
        Assert.Equal("Running", App.Resource<PostgresDatabaseResource>("kilndb").State.ToString());

        var logs = _service.Client.WatchResourceConsoleLogs(new WatchResourceConsoleLogsRequest { ResourceName = "nope" }, _service.Headers);
        var error = await Assert.ThrowsAsync<RpcException>(() => logs.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Console_logs_stream_the_kept_lines_then_each_new_line()
    {
        using var call = _service.Client.WatchResourceConsoleLogs(new WatchResourceConsoleLogsRequest { ResourceName = "api-0" }, _service.Headers);
        var lines = new List<ConsoleLogLine>();
        using var deadline = new CancellationTokenSource(Within);

        // The backlog: what api-0 wrote since it started, numbered from 1, in order.
        Assert.True(await call.ResponseStream.MoveNext(deadline.Token));
        lines.AddRange(call.ResponseStream.Current.LogLines);
        Assert.Equal(1, lines[0].LineNumber);
        Assert.Equal(Enumerable.Range(1, lines.Count).Select(n => (long)n), lines.Select(l => l.LineNumber));
        Assert.All(lines, l => Assert.Equal(0, l.SkippedBefore));
        Assert.Contains(lines, l => l.Text.Contains("Now listening on", StringComparison.Ordinal));
        var kept = App.Context.Logs["api-0"].Snapshot();
        Assert.Equal(kept.Take(lines.Count), lines.Select(l => l.Text));

        // A new line, written by the replica's process after the watch began: creating a key through api-0 logs it.
        var key = await platform.Api.CreateKeyAsync("console-logs watcher", ["read"]);
        while (!lines.Any(l => l.Text.Contains($"Created API key {key.Id}", StringComparison.Ordinal)))
        {
            Assert.True(await call.ResponseStream.MoveNext(deadline.Token), "the stream ended before the new line came");
            lines.AddRange(call.ResponseStream.Current.LogLines);
        }

        Assert.Equal(Enumerable.Range(1, lines.Count).Select(n => (long)n), lines.Select(l => l.LineNumber));

        // Replicas are told apart: api-1 has lines of its own, and not that one.
        using var other = _service.Client.WatchResourceConsoleLogs(
            new WatchResourceConsoleLogsRequest { ResourceName = "api-1", SuppressFollow = true }, _service.Headers);
        var otherLines = new List<ConsoleLogLine>();
        await foreach (var update in other.ResponseStream.ReadAllAsync(deadline.Token))
        {
            otherLines.AddRange(update.LogLines);
        }

        Assert.NotEmpty(otherLines);
        Assert.DoesNotContain(otherLines, l => l.Text.Contains($"Created API key {key.Id}", StringComparison.Ordinal));

        // A console log per process (a replica's under its own name) and the AppHost's: none under another name, empty.
        Assert.All(App.Context.Logs.Keys, name => Assert.True(name == "apphost" || App.Resources.Any(r => name == r.Name || name.StartsWith($"{r.Name}-", StringComparison.Ordinal)),
            $"a console log named '{name}', which is no resource's"));
    }

    [Fact]
    public async Task A_call_without_the_right_key_is_refused()
    {
        var right = App.ResourceService.ApiKey;
        foreach (var key in new[] { "", "wrong", right[..^1] + (right[^1] == 'x' ? 'y' : 'x') })
        {
            using var service = new ResourceServiceDriver(App, key);

            var unary = await Assert.ThrowsAsync<RpcException>(async () =>
                await service.Client.GetApplicationInformationAsync(new ApplicationInformationRequest(), service.Headers));
            Assert.Equal(StatusCode.Unauthenticated, unary.StatusCode);

            using var watch = service.Client.WatchResources(new WatchResourcesRequest(), service.Headers);
            var stream = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext());
            Assert.Equal(StatusCode.Unauthenticated, stream.StatusCode);

            var command = await Assert.ThrowsAsync<RpcException>(async () => await service.ExecuteAsync("stop", "web"));
            Assert.Equal(StatusCode.Unauthenticated, command.StatusCode);
        }

        Assert.Equal(ResourceState.Running, App.Resource<ProjectResource>("web").State);
        var info = await _service.Client.GetApplicationInformationAsync(new ApplicationInformationRequest(), _service.Headers);
        Assert.Equal("Kiln", info.ApplicationName);
        Assert.False(string.IsNullOrEmpty(info.ApplicationVersion));
    }

    [Fact]
    public async Task Environment_values_are_all_there_and_the_secret_ones_are_flagged()
    {
        using var watch = _service.Watch();
        var initial = (await watch.Initial).ToDictionary(r => r.Name);
        var api = initial["api-0"].Environment.ToDictionary(e => e.Name);

        // Values are present (a dashboard masks them behind a toggle); the secret ones say so.
        var connection = api["ConnectionStrings__kilndb"];
        Assert.True(connection.IsSecret);
        Assert.Contains(App.Secrets.DatabasePassword!, connection.Value, StringComparison.Ordinal);
        Assert.True(api["ConnectionStrings__cache"].IsSecret);
        Assert.True(api["OTEL_EXPORTER_OTLP_HEADERS"].IsSecret);
        Assert.True(api["Kiln__BootstrapKeys__Admin"].IsSecret);
        Assert.True(initial["web"].Environment.Single(e => e.Name == "Kiln__Api__Key").IsSecret);
        Assert.Equal(App.Secrets.WebApiKey, initial["web"].Environment.Single(e => e.Name == "Kiln__Api__Key").Value);

        Assert.False(api["ASPNETCORE_URLS"].IsSecret);
        Assert.Equal(App.Resource<ProjectResource>("api").Urls[0].ToString().TrimEnd('/'), api["ASPNETCORE_URLS"].Value);
        Assert.False(api["OTEL_SERVICE_NAME"].IsSecret);
        Assert.Equal(api.Keys.Order(StringComparer.Ordinal), initial["api-0"].Environment.Select(e => e.Name));

        // No generated secret is in any value left unflagged, on any resource.
        var secrets = EnvironmentSecrets.ValuesOf(App.Secrets);
        foreach (var variable in initial.Values.SelectMany(r => r.Environment).Where(e => !e.IsSecret))
        {
            Assert.DoesNotContain(secrets, s => variable.Value.Contains(s, StringComparison.Ordinal));
        }
    }

    public void Dispose()
    {
        _service.Dispose();
        platform.App.WriteLogs(output);
    }
}
