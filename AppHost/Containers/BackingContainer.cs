using System.Globalization;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;

namespace Kiln.AppHost.Containers;

/// <summary>
/// How a backing resource runs as a container: the image (Kiln's own, built on first use, or
/// <c>Kiln:Resources:{name}:Image</c>), the container named <c>kiln-{statehash}-{name}</c> and labelled with the state
/// hash and the resource, ports published on 127.0.0.1 only, secrets in an owner-only env file under the state folder
/// (never on a command line), data in the named volume <c>kiln-{statehash}-{name}-data</c>. The engine's <c>run</c> stays
/// attached, as the resource's supervised process: the container's output is the resource's log, its exit is the
/// process's exit (and restarts it), and the stop signal the AppHost sends is passed on to the container's main process
/// (the engine's signal proxy). <c>--rm</c> removes the container when it ends; a container left by an AppHost that was
/// killed is removed by the next start (<see cref="ContainerEngine.RemoveContainersOfStateAsync"/>).
/// </summary>
internal sealed class BackingContainer(string resource, string defaultImage)
{
    /// <summary>The image: Kiln's own unless <c>Kiln:Resources:{resource}:Image</c> names another.</summary>
    public string Image(RunContext context) => context.Configuration[$"Kiln:Resources:{resource}:Image"] is { Length: > 0 } image ? image : defaultImage;

    /// <summary>Builds Kiln's image if need be (a user's image is left for the engine to pull) and creates the data volume.</summary>
    public async Task PrepareAsync(RunContext context, ContainerEngine engine, string? dataVolumePath, CancellationToken cancellationToken)
    {
        var image = Image(context);
        if (ContainerImages.IsKilnImage(image))
        {
            await new ContainerImages(engine, context).EnsureAsync(image, cancellationToken);
        }

        if (dataVolumePath is not null)
        {
            await engine.EnsureVolumeAsync(resource, cancellationToken);
        }

        // A container of the same name left behind (an AppHost killed mid-start) would block the name.
        await engine.RunAsync(["rm", "-f", engine.ContainerName(resource)], TimeSpan.FromSeconds(60), cancellationToken);
    }

    /// <summary>The engine's <c>run</c> command for the container.</summary>
    public ProcessSpec RunSpec(RunContext context, ContainerEngine engine, ContainerOptions options)
    {
        List<string> arguments =
        [
            "run", "--rm", "--name", engine.ContainerName(resource),
            "--label", $"{ContainerEngine.StateLabel}={engine.StateHash}",
            "--label", $"{ContainerEngine.ResourceLabel}={resource}",
            "--stop-timeout", options.StopTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
        ];
        if (engine.IsPodman)
        {
            // A container of the same name still being removed after a crash must not fail the restart.
            arguments.Add("--replace");
        }

        if (options.Secrets.Count > 0)
        {
            var envFile = Path.Combine(context.State.For(resource), "container.env");
            OwnerOnlyFile.Write(envFile, string.Concat(options.Secrets.Select(s => $"{s.Key}={s.Value}\n")));
            arguments.AddRange(["--env-file", envFile]);
        }

        if (options.HostNetwork)
        {
            arguments.AddRange(["--network", "host"]);
        }

        foreach (var (hostPort, containerPort) in options.Ports)
        {
            arguments.AddRange(["-p", $"127.0.0.1:{hostPort}:{containerPort}"]);
        }

        if (options.DataVolumePath is { } path)
        {
            arguments.AddRange(["-v", $"{engine.VolumeName(resource)}:{path}"]);
        }

        arguments.Add(Image(context));
        arguments.AddRange(options.Command);
        return engine.Spec(arguments, options.StopSignal);
    }

    /// <summary>
    /// Stops a backing resource's supervised process; when it ran as a container (<paramref name="engine"/> is set only
    /// then), makes sure no container of the resource remains after the <c>run</c> ended.
    /// </summary>
    public static async Task StopAsync(SupervisedProcess? process, ContainerEngine? engine, string resource)
    {
        if (process is not null)
        {
            await process.StopAsync();
        }

        if (engine is not null)
        {
            await engine.RunAsync(["rm", "-f", engine.ContainerName(resource)], TimeSpan.FromSeconds(60), CancellationToken.None);
        }
    }
}

/// <summary>What differs between the backing resources' containers.</summary>
internal sealed record ContainerOptions
{
    public IReadOnlyDictionary<string, string> Secrets { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<(int Host, int Container)> Ports { get; init; } = [];
    public string? DataVolumePath { get; init; }
    public bool HostNetwork { get; init; }
    public IReadOnlyList<string> Command { get; init; } = [];

    /// <summary>Sent to the engine's <c>run</c>, which passes it to the container's main process.</summary>
    public int StopSignal { get; init; } = Signals.SigTerm;
    public int StopTimeoutSeconds { get; init; } = 10;
}
