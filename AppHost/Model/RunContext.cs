using System.Collections.Concurrent;
using Kiln.AppHost.Containers;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Provisioning;
using Microsoft.Extensions.Configuration;

namespace Kiln.AppHost.Model;

/// <summary>What every resource needs while it runs: state folder, secrets, logs, process registry, settings.</summary>
internal sealed class RunContext(StateDirectory state, Secrets secrets, IConfiguration configuration, ConsoleSink console, ProcessRegistry processes)
{
    private readonly ConcurrentDictionary<string, ResourceLog> _logs = new();
    private readonly Lock _engineGate = new();
    private (ContainerEngine? Engine, string Problem)? _engine;

    public StateDirectory State { get; } = state;
    public Secrets Secrets { get; } = secrets;
    public IConfiguration Configuration { get; } = configuration;
    public ConsoleSink Console { get; } = console;
    public ProcessRegistry Processes { get; } = processes;

    /// <summary>Set when the AppHost is stopping: exits are then expected, not crashes to restart.</summary>
    public CancellationToken Stopping { get; init; }

    /// <summary>The dashboard's OTLP/gRPC endpoint, handed to services with OTEL_EXPORTER_OTLP_PROTOCOL=grpc.</summary>
    public Uri? OtlpEndpoint { get; init; }

    public bool IsDevelopment { get; init; }

    /// <summary>The AppHost echoes output to a terminal, so colour codes from the services are worth keeping.</summary>
    public bool ColorOutput { get; init; }

    public ResourceLog LogFor(string resource) => _logs.GetOrAdd(resource, name => new ResourceLog(name, Console));

    public IReadOnlyDictionary<string, ResourceLog> Logs => _logs;

    /// <summary>Existing mode: a connection string configured for the resource in the AppHost's own configuration.</summary>
    public string? ExistingConnectionString(string resource) =>
        Configuration.GetConnectionString(resource) is { Length: > 0 } value ? value : null;

    /// <summary>
    /// How a backing resource runs (SPEC.md): existing when a connection string is configured for it
    /// (<paramref name="hasExistingConnectionString"/>); otherwise <c>Kiln:Resources:{name}:Mode</c>, else <c>Kiln:Mode</c>
    /// (<c>--mode</c>), else auto: <c>container</c> when a container engine answers, <c>local</c> when none does.
    /// </summary>
    public ResourceMode ModeFor(string resource, bool hasExistingConnectionString)
    {
        if (hasExistingConnectionString)
        {
            return ResourceMode.Existing;
        }

        var setting = Configuration[$"Kiln:Resources:{resource}:Mode"] is { Length: > 0 } own ? own : Configuration["Kiln:Mode"] ?? "auto";
        switch (setting.ToLowerInvariant())
        {
            case "local":
                return ResourceMode.Local;
            case "container":
                if (ContainerEngine is null)
                {
                    throw new ProvisioningException(
                        $"{resource}: container mode was asked for, but no container engine works on this machine ({EngineProblem}). "
                        + "Install podman (sudo apt-get install -y podman runc), or run with --mode local.");
                }

                return ResourceMode.Container;
            case "auto":
                return ContainerEngine is null ? ResourceMode.Local : ResourceMode.Container;
            default:
                throw new ProvisioningException($"{resource}: mode '{setting}' is not one of auto, local, container (--mode, Kiln:Resources:{resource}:Mode).");
        }
    }

    /// <summary>The container engine (<c>Kiln:Containers:Engine</c>, else podman or docker on PATH), looked for once; null when none answers.</summary>
    public ContainerEngine? ContainerEngine => FindEngine().Engine;

    /// <summary>The engine if it was looked for (a resource ran or considered container mode), without looking for it now.</summary>
    public ContainerEngine? ContainerEngineIfFound
    {
        get
        {
            lock (_engineGate)
            {
                return _engine?.Engine;
            }
        }
    }

    /// <summary>Why no engine was found.</summary>
    public string EngineProblem => FindEngine().Problem;

    private (ContainerEngine? Engine, string Problem) FindEngine()
    {
        lock (_engineGate)
        {
            if (_engine is null)
            {
                _engine = Containers.ContainerEngine.Find(Configuration["Kiln:Containers:Engine"], State);
                if (_engine.Value.Engine is { } engine)
                {
                    Say($"container engine: {engine.Program} (containers of this state folder: kiln-{engine.StateHash}-*)");
                }
            }

            return _engine.Value;
        }
    }

    /// <summary>A resource started as a container: the next start of this state folder removes what it may leave behind.</summary>
    public void RememberContainers(ContainerEngine engine) =>
        File.WriteAllText(Path.Combine(State.For("containers"), "engine"), engine.Program + Environment.NewLine);

    /// <summary>The AppHost's own messages: shown and kept like a resource's output.</summary>
    public void Say(string message) => LogFor("apphost").Write(message);

    /// <summary>The AppHost's own error: on its standard error, kept as an error line.</summary>
    public void SayError(string message) => LogFor("apphost").Write(message, isError: true);
}
