using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Provisioning;

namespace Kiln.AppHost.Containers;

/// <summary>
/// A container engine's command line (podman or docker), as container mode drives it. Found on PATH (or named by
/// <c>Kiln:Containers:Engine</c>) and checked with <c>info</c> under a deadline. For podman the AppHost writes its own
/// <c>containers.conf</c> under the state folder and hands it to every call through <c>CONTAINERS_CONF</c>: open-files and
/// process limits no higher than the AppHost's own hard limits (a sandbox without CAP_SYS_RESOURCE cannot raise them),
/// runc (crun refuses cgroups in hybrid mode), and user networks' files under the state folder instead of
/// <c>/etc/containers/networks</c>. Images stay in the engine's machine-wide store, so they are built once per machine.
/// Everything the AppHost creates carries the label <c>io.kiln.state</c> with its state folder's hash: what it cleans up
/// is found by that label, never by name alone.
/// </summary>
internal sealed class ContainerEngine
{
    public const string StateLabel = "io.kiln.state";
    public const string ResourceLabel = "io.kiln.resource";
    public const string DefinitionLabel = "io.kiln.definition";
    private static readonly TimeSpan InfoDeadline = TimeSpan.FromSeconds(20);

    private ContainerEngine(string program, string kind, string stateHash, IReadOnlyDictionary<string, string> environment)
    {
        Program = program;
        Kind = kind;
        StateHash = stateHash;
        Environment = environment;
    }

    /// <summary>The engine's executable (a full path).</summary>
    public string Program { get; }

    /// <summary><c>podman</c> or <c>docker</c>.</summary>
    public string Kind { get; }

    public bool IsPodman => Kind == "podman";

    /// <summary>The first 12 hex digits of the SHA-256 of the state folder's full path: names and labels this AppHost's containers.</summary>
    public string StateHash { get; }

    /// <summary>What every call of the engine gets in its environment (podman: CONTAINERS_CONF).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public string ContainerName(string resource) => $"kiln-{StateHash}-{resource}";

    public string VolumeName(string resource) => $"kiln-{StateHash}-{resource}-data";

    public static string HashOf(string stateRoot) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(stateRoot)))[..12];

    /// <summary>
    /// The engine to use, or null with the reason none works. <paramref name="configured"/> (<c>Kiln:Containers:Engine</c>)
    /// names one (podman, docker, or a path); otherwise podman, then docker, whichever is on PATH and answers <c>info</c>.
    /// </summary>
    public static (ContainerEngine? Engine, string Problem) Find(string? configured, StateDirectory state)
    {
        var candidates = configured is { Length: > 0 } ? [configured] : new[] { "podman", "docker" };
        var problems = new List<string>();
        foreach (var candidate in candidates)
        {
            var program = candidate.Contains('/', StringComparison.Ordinal) ? (File.Exists(candidate) ? candidate : null) : Prerequisite.FindOnPath(candidate);
            if (program is null)
            {
                problems.Add($"{candidate}: not found");
                continue;
            }

            var kind = Path.GetFileName(program).Contains("docker", StringComparison.Ordinal) ? "docker" : "podman";
            var environment = new Dictionary<string, string>();
            if (kind == "podman")
            {
                environment["CONTAINERS_CONF"] = WritePodmanConfiguration(state);
            }

            var engine = new ContainerEngine(program, kind, HashOf(state.Root), environment);
            var (exitCode, output) = engine.RunAsync(["info", "--format", "{{.Host.OCIRuntime.Name}}"], InfoDeadline, CancellationToken.None)
                .GetAwaiter().GetResult();
            if (kind == "docker" && exitCode != 0)
            {
                (exitCode, output) = engine.RunAsync(["info", "--format", "{{.ServerVersion}}"], InfoDeadline, CancellationToken.None).GetAwaiter().GetResult();
            }

            if (exitCode == 0)
            {
                return (engine, "");
            }

            problems.Add($"{program} info failed ({(exitCode == -1 ? $"no answer within {InfoDeadline.TotalSeconds:0} s" : $"exit code {exitCode}")}): {LastLine(output)}");
        }

        return (null, string.Join("; ", problems));
    }

    /// <summary>The configuration podman gets from this AppHost (see the class summary); rewritten at each start.</summary>
    private static string WritePodmanConfiguration(StateDirectory state)
    {
        var folder = state.For("containers");
        var networks = Path.Combine(folder, "networks");
        Directory.CreateDirectory(networks);
        var (openFiles, processes) = HardLimits();
        var path = Path.Combine(folder, "containers.conf");
        File.WriteAllText(path, $"""
            # Written by the Kiln AppHost at each start; podman reads it through CONTAINERS_CONF.
            [containers]
            default_ulimits = ["nofile={openFiles}:{openFiles}", "nproc={processes}:{processes}"]

            [engine]
            runtime = "runc"

            [network]
            network_config_dir = "{networks}"

            """);
        return path;
    }

    /// <summary>The AppHost's own hard limits of open files and processes (a container may not be given more), capped at 1,048,576 and 32,768.</summary>
    private static (long OpenFiles, long Processes) HardLimits()
    {
        long openFiles = 20000, processes = 32768;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    openFiles = Parse(fields[4], 1_048_576);
                }
                else if (line.StartsWith("Max processes", StringComparison.Ordinal))
                {
                    processes = Parse(fields[3], 32768);
                }
            }
        }
        catch (IOException)
        {
            // Keep the defaults.
        }

        return (openFiles, processes);

        static long Parse(string value, long cap) =>
            long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) ? Math.Min(limit, cap) : cap;
    }

    /// <summary>Runs the engine with <paramref name="arguments"/>; returns its exit code (-1: no exit within the deadline) and its output.</summary>
    public async Task<(int ExitCode, string Output)> RunAsync(IReadOnlyList<string> arguments, TimeSpan deadline, CancellationToken cancellationToken,
        Action<string>? onLine = null, string? standardInput = null)
    {
        var output = new StringBuilder();
        var exitCode = await ToolProcess.RunAsync(Program, arguments, (line, _) =>
        {
            lock (output)
            {
                output.AppendLine(line);
            }

            onLine?.Invoke(line);
        }, cancellationToken, deadline, Environment, standardInput);
        lock (output)
        {
            return (exitCode ?? -1, output.ToString());
        }
    }

    /// <summary>Runs the engine and fails with its output when it does not succeed.</summary>
    public async Task<string> RunCheckedAsync(IReadOnlyList<string> arguments, TimeSpan deadline, CancellationToken cancellationToken,
        Action<string>? onLine = null)
    {
        var (exitCode, output) = await RunAsync(arguments, deadline, cancellationToken, onLine);
        if (exitCode != 0)
        {
            throw new ProvisioningException(
                $"'{Kind} {string.Join(' ', arguments)}' {(exitCode == -1 ? $"did not finish within {deadline.TotalSeconds:0} s" : $"failed with exit code {exitCode}")}: {LastLine(output)}");
        }

        return output;
    }

    /// <summary>How to run the engine as a supervised child process (a container's <c>run</c>, attached, so its output is the resource's).</summary>
    public ProcessSpec Spec(IReadOnlyList<string> arguments, int stopSignal) =>
        new(Program, arguments) { Environment = Environment, StopSignal = stopSignal };

    /// <summary>Ids of this state folder's containers (running or not).</summary>
    public async Task<IReadOnlyList<string>> ContainersOfStateAsync(CancellationToken cancellationToken)
    {
        var output = await RunCheckedAsync(["ps", "-a", "-q", "--filter", $"label={StateLabel}={StateHash}"], TimeSpan.FromSeconds(30), cancellationToken);
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
    }

    /// <summary>Removes this state folder's containers (forcibly: a leftover is killed); returns their names.</summary>
    public async Task<IReadOnlyList<string>> RemoveContainersOfStateAsync(CancellationToken cancellationToken)
    {
        var ids = await ContainersOfStateAsync(cancellationToken);
        if (ids.Count == 0)
        {
            return [];
        }

        var names = await RunAsync(["inspect", "--format", "{{.Name}}", .. ids], TimeSpan.FromSeconds(30), cancellationToken);
        await RunCheckedAsync(["rm", "-f", .. ids], TimeSpan.FromSeconds(60), cancellationToken);
        return [.. names.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.TrimStart('/'))];
    }

    /// <summary>Removes this state folder's data volumes (after its containers); returns their names.</summary>
    public async Task<IReadOnlyList<string>> RemoveVolumesOfStateAsync(CancellationToken cancellationToken)
    {
        var output = await RunCheckedAsync(["volume", "ls", "-q", "--filter", $"label={StateLabel}={StateHash}"], TimeSpan.FromSeconds(30), cancellationToken);
        var volumes = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (volumes.Length > 0)
        {
            await RunCheckedAsync(["volume", "rm", "-f", .. volumes], TimeSpan.FromSeconds(60), cancellationToken);
        }

        return volumes;
    }

    /// <summary>Creates the resource's data volume, labelled, unless it exists.</summary>
    public async Task EnsureVolumeAsync(string resource, CancellationToken cancellationToken)
    {
        var name = VolumeName(resource);
        var (exists, _) = await RunAsync(["volume", "inspect", name], TimeSpan.FromSeconds(30), cancellationToken);
        if (exists != 0)
        {
            await RunCheckedAsync(["volume", "create", "--label", $"{StateLabel}={StateHash}", "--label", $"{ResourceLabel}={resource}", name],
                TimeSpan.FromSeconds(30), cancellationToken);
        }
    }

    internal static string LastLine(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no output";
}
