using System.Collections.Concurrent;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Provisioning;
using Microsoft.Extensions.Configuration;

namespace Kiln.AppHost.Model;

/// <summary>What every resource needs while it runs: state folder, secrets, logs, process registry, settings.</summary>
internal sealed class RunContext(StateDirectory state, Secrets secrets, IConfiguration configuration, ConsoleSink console, ProcessRegistry processes)
{
    private readonly ConcurrentDictionary<string, ResourceLog> _logs = new();

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

    /// <summary>The AppHost's own messages: shown and kept like a resource's output.</summary>
    public void Say(string message) => LogFor("apphost").Write(message);

    /// <summary>The AppHost's own error: on its standard error, kept as an error line.</summary>
    public void SayError(string message) => LogFor("apphost").Write(message, isError: true);
}
