using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;

namespace Kiln.AppHost.Resources;

/// <summary>
/// One process of a project. Once healthy it is supervised: an exit the AppHost did not ask for is a
/// crash, and the replica is started again after a backoff (1 s doubling to 30 s, reset after a
/// minute of good health).
/// </summary>
internal sealed class ProjectReplica(ProjectResource project, int index, string instanceId, Uri url)
{
    private static readonly TimeSpan StartupDeadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    private ChildProcess? _process;
    private Task? _supervision;
    private TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Index { get; } = index;

    /// <summary>The service.instance.id (8 lowercase letters, as DCP makes them).</summary>
    public string InstanceId { get; } = instanceId;

    /// <summary>The name in the console and in every message: <c>worker-0</c>, <c>worker-1</c>; just <c>api</c> when alone.</summary>
    public string DisplayName => project.Replicas > 1 ? $"{project.Name}-{Index}" : project.Name;

    public Uri Url { get; } = url;

    public int? Pid => _process?.Pid;

    public int Restarts { get; private set; }

    public async Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        _stopRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = context.LogFor(DisplayName);
        _process = await LaunchAsync(context, log);
        await HealthProbe.WaitForHttpHealthyAsync(project.Name, new Uri(Url, "/health"), _process.Exited, StartupDeadline, cancellationToken);
        _supervision = SuperviseAsync(context, log);
    }

    public async Task StopAsync()
    {
        _stopRequested.TrySetResult();
        if (_process is { } process)
        {
            await process.StopAsync(StopGrace);
        }

        if (_supervision is { } supervision)
        {
            await supervision;
        }
    }

    private Task<ChildProcess> LaunchAsync(RunContext context, ResourceLog log)
    {
        var spec = new ProcessSpec(DotnetHost.Path, ["exec", project.AssemblyPath])
        {
            Environment = project.EnvironmentFor(this, context),
            NotInherited = ProjectResource.NotInherited,
            WorkingDirectory = Path.GetDirectoryName(project.AssemblyPath),
        };
        return ChildProcess.StartAsync(spec, log, context.Processes);
    }

    private async Task SuperviseAsync(RunContext context, ResourceLog log)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (true)
        {
            var startedAt = DateTime.UtcNow;
            var exitCode = await _process!.Exited;
            if (StopRequested(context))
            {
                return;
            }

            if (DateTime.UtcNow - startedAt > TimeSpan.FromMinutes(1))
            {
                backoff = TimeSpan.FromSeconds(1);
            }

            context.Say($"{DisplayName} (service.instance.id {InstanceId}) exited with code {exitCode}; restarting in {backoff.TotalSeconds:0} s");
            await Task.WhenAny(Task.Delay(backoff, context.Stopping), _stopRequested.Task);
            if (StopRequested(context))
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            try
            {
                _process = await LaunchAsync(context, log);
            }
            catch (Exception ex)
            {
                // The old, exited process stays current: the loop backs off and tries again.
                context.Say($"{DisplayName} could not be restarted: {ex.Message}");
                continue;
            }

            Restarts++;
            if (StopRequested(context))
            {
                // A stop raced the restart and may have missed this process: end it here.
                await _process.StopAsync(StopGrace);
                return;
            }
        }
    }

    /// <summary>This replica or the whole application is being stopped: exits are expected, not crashes.</summary>
    private bool StopRequested(RunContext context) => _stopRequested.Task.IsCompleted || context.Stopping.IsCancellationRequested;
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
