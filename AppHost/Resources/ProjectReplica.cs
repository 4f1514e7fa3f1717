using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;

namespace Kiln.AppHost.Resources;

/// <summary>
/// One process of a project, supervised like every resource process (<see cref="SupervisedProcess"/>):
/// a crash is reported and the replica restarted with backoff on the same port.
/// </summary>
internal sealed class ProjectReplica(ProjectResource project, int index, string instanceId, Uri url)
{
    private static readonly TimeSpan StartupDeadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    private SupervisedProcess? _process;

    public int Index { get; } = index;

    /// <summary>The service.instance.id (8 lowercase letters, as DCP makes them).</summary>
    public string InstanceId { get; } = instanceId;

    /// <summary>The name in the console and in every message: <c>worker-0</c>, <c>worker-1</c>; just <c>api</c> when alone.</summary>
    public string DisplayName => project.Replicas > 1 ? $"{project.Name}-{Index}" : project.Name;

    public Uri Url { get; } = url;

    public int? Pid => _process?.Pid;

    /// <summary>Restarts after crashes, over every start of this replica.</summary>
    public int Restarts => _restartsBefore + (_process?.Restarts ?? 0);

    private int _restartsBefore;

    /// <summary>When its current process was launched.</summary>
    public DateTimeOffset? StartedAt => _process?.StartedAt;

    /// <summary>Between a crash and the restarted process being ready again.</summary>
    public bool Restarting { get; private set; }

    /// <summary>The environment its process was last started with (the resource service shows it).</summary>
    public IReadOnlyDictionary<string, string>? LaunchEnvironment { get; private set; }

    public async Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        _restartsBefore = Restarts;
        // Named in the AppHost's messages with its instance id; its output is the replica's own console log.
        _process = new SupervisedProcess($"{DisplayName} (service.instance.id {InstanceId})", context.LogFor(DisplayName), context, new(
            Launch: log => LaunchAsync(context, log),
            WaitUntilReady: (process, ct) =>
                HealthProbe.WaitForHttpHealthyAsync(project.Name, new Uri(Url, "/health"), process.Exited, StartupDeadline, ct),
            StopGrace: StopGrace)
        {
            // The project's state is the project's; a replica's crash and return are still news for whoever watches it.
            Crashed = _ =>
            {
                Restarting = true;
                project.OnChanged();
            },
            Recovered = () =>
            {
                Restarting = false;
                project.OnChanged();
            },
        });
        Restarting = false;
        await _process.StartAsync(cancellationToken);
    }

    public Task StopAsync() => _process?.StopAsync() ?? Task.CompletedTask;

    private Task<ChildProcess> LaunchAsync(RunContext context, ResourceLog log)
    {
        var environment = project.EnvironmentFor(this, context);
        LaunchEnvironment = environment;
        var spec = new ProcessSpec(DotnetHost.Path, ["exec", project.AssemblyPath])
        {
            Environment = environment,
            NotInherited = ProjectResource.NotInherited,
            WorkingDirectory = Path.GetDirectoryName(project.AssemblyPath),
        };
        return ChildProcess.StartAsync(spec, log, context.Processes);
    }
}

/// <summary>The dotnet host that runs the built assemblies: the one running us, when we run under it.</summary>
internal static class DotnetHost
{
    public static string Path { get; } = Resolve();

    private static string Resolve()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
        {
            return hostPath;
        }

        var current = Environment.ProcessPath;
        if (current is not null && System.IO.Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        return Kiln.AppHost.Provisioning.Prerequisite.FindOnPath("dotnet") ?? "dotnet";
    }
}
