using System.Globalization;
using Kiln.AppHost.Containers;
using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;

namespace Kiln.AppHost.Resources;

/// <summary>
/// Kafka. Local mode runs Kiln's development broker (tools/DevKafka: the mock cluster of librdkafka.redist's
/// build, in a process of its own) with the declared topics; nothing needs installing on the machine.
/// The mock listens on an ephemeral port of its own choosing, so the services are handed a fixed address
/// instead, a forwarder in the AppHost (as Aspire's DCP proxies every endpoint), and the broker advertises
/// that address. A crashed broker is restarted behind it with the topics declared again, and the services
/// reconnect by themselves; but the broker keeps its data in memory only (like Aspire's Kafka container
/// without a data volume), so what it held is gone, and the AppHost says so at error level. Its endpoint
/// <c>control</c> is DevKafka's fault-injection port (<c>delete-records</c>), for tests.
/// </summary>
internal sealed class KafkaResource(string name) : Resource(name), IResourceWithConnectionString
{
    private const string ListenerPrefix = "KAFKA_LISTENER=";
    private SupervisedProcess? _process;
    private TcpForwarder? _forwarder;
    private string? _existing;
    private int _launches;
    private ContainerEngine? _engine;

    /// <summary>Local or container once started (existing: nothing started).</summary>
    public ResourceMode Mode { get; private set; }

    internal override IEnumerable<Prerequisite> Prerequisites(RunContext context)
    {
        context.ModeFor(Name, context.ExistingConnectionString(Name) is not null);
        return [];
    }

    public override string Type => "kafka";

    internal Dictionary<string, int> Topics { get; } = new(StringComparer.Ordinal);

    public string ConnectionString => _existing
        ?? (_forwarder is { } forwarder ? $"127.0.0.1:{forwarder.Port}" : throw new InvalidOperationException($"{Name} is not running."));

    /// <summary>The broker's process id while it runs.</summary>
    public int? Pid => _process?.Pid;

    /// <summary>DevKafka's control port (local mode), the same across restarts.</summary>
    public int ControlPort { get; private set; }

    internal override async Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        if (context.ExistingConnectionString(Name) is { } existing)
        {
            _existing = existing;
            Mode = ResourceMode.Existing;
            context.Say($"{Name}: existing cluster (ConnectionStrings__{Name}); nothing started. Create the topics {string.Join(", ", Topics.Keys)} there.");
            return;
        }

        // Kept across restarts and stops: the services were handed this address. Port 0: the kernel picks it as it binds,
        // so no other process can take it between choosing and binding (it happened under load with a port chosen first).
        var forwarder = _forwarder ??= TcpForwarder.Start(0);
        ControlPort = ControlPort == 0 ? PortAllocator.Next() : ControlPort;
        // Container mode: the same broker from Kiln's image (tools/DevKafka published self-contained), on the host's
        // network: the mock listens on a loopback port it picks itself, which a published port could not follow, and
        // it is reached through the same forwarder as in local mode.
        Mode = context.ModeFor(Name, hasExistingConnectionString: false);
        BackingContainer? container = null;
        if (Mode == ResourceMode.Container)
        {
            var engine = _engine = context.ContainerEngine!;
            context.RememberContainers(engine);
            container = new BackingContainer(Name, ContainerImages.DevKafkaImage);
            context.Say($"{Name}: container mode, image {container.Image(context)}, on the host's network (loopback only), messages in memory");
            await container.PrepareAsync(context, engine, dataVolumePath: null, cancellationToken);
        }

        List<string> arguments =
        [
            "--advertise", ConnectionString,
            "--control-port", ControlPort.ToString(CultureInfo.InvariantCulture),
        ];
        foreach (var (topic, partitions) in Topics)
        {
            arguments.Add("--topic");
            arguments.Add($"{topic}:{partitions}");
        }

        var listener = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = Supervise(context,
            log =>
            {
                // Each broker behind the address leads its partitions in a later epoch than the one before, as a new leader
                // after an unclean election would: a client still holding offsets of the lost log (a commit librdkafka kept
                // back while the broker was down) is refused (FENCED_LEADER_EPOCH) instead of moving the group's position
                // in the new log past readings that were never stored.
                string[] brokerArguments = [.. arguments, "--leader-epoch", (_launches++).ToString(CultureInfo.InvariantCulture)];
                var spec = container is null
                    ? new ProcessSpec(DotnetHost.Path, ["exec", ProgramPaths.Find("Kiln.DevKafka"), .. brokerArguments])
                    : container.RunSpec(context, _engine!, new ContainerOptions { HostNetwork = true, Command = brokerArguments, StopTimeoutSeconds = 5 });
                var announced = listener = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                return ChildProcess.StartAsync(spec, log, context.Processes, line =>
                {
                    if (line.StartsWith(ListenerPrefix, StringComparison.Ordinal))
                    {
                        announced.TrySetResult(int.Parse(line.Split(',')[0].Split(':')[^1], CultureInfo.InvariantCulture));
                    }
                });
            },
            async (process, ct) =>
            {
                await HealthProbe.PollAsync(Name, process.Exited, TimeSpan.FromSeconds(30),
                    _ => Task.FromResult(listener.Task.IsCompleted ? null : "the broker has not reported its address yet"), ct);
                var port = await listener.Task;
                await HealthProbe.WaitForTcpAsync(Name, port, process.Exited, TimeSpan.FromSeconds(10), ct);
                forwarder.ForwardTo(port);
            },
            stopGrace: TimeSpan.FromSeconds(container is null ? 5 : 10),
            crashed: () =>
            {
                forwarder.ForwardTo(0);
                context.SayError(
                    $"{Name}: the development broker keeps its messages in memory only, so every message it held is gone, "
                    + "including readings the Api acknowledged that the Worker had not stored yet; "
                    + $"it comes back on {ConnectionString} with the topics {string.Join(", ", Topics.Keys)} empty");
            });
        await _process.StartAsync(cancellationToken);
    }

    internal override async Task StopAsync()
    {
        _forwarder?.ForwardTo(0);
        await BackingContainer.StopAsync(_process, _engine, Name);
    }

    /// <summary>The forwarder outlives a stopped broker, which may be started again behind it; it ends with the AppHost.</summary>
    internal override ValueTask ReleaseAsync()
    {
        _forwarder?.Dispose();
        return ValueTask.CompletedTask;
    }

    internal override object? DescribeEndpoint() => _existing is not null
        ? new { endpoint = _existing }
        : new { endpoint = _forwarder is null ? null : ConnectionString, control = $"127.0.0.1:{ControlPort}" };

    internal override IReadOnlyList<(string Name, Uri Url)> Endpoints => _existing is null && _forwarder is not null
        ? [("tcp", new Uri($"tcp://{ConnectionString}")), ("control", new Uri($"tcp://127.0.0.1:{ControlPort}"))]
        : [];
}

internal static class KafkaResourceExtensions
{
    public static ResourceBuilder<KafkaResource> AddKafka(this DistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new KafkaResource(name));

    /// <summary>A topic the broker creates at start (the dev broker cannot create topics on request).</summary>
    public static ResourceBuilder<KafkaResource> WithTopic(this ResourceBuilder<KafkaResource> kafka, string topic, int partitions = 1)
    {
        kafka.Resource.Topics[topic] = partitions;
        return kafka;
    }
}
