using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;

namespace Kiln.AppHost.Resources;

/// <summary>
/// Kafka. Local mode runs Kiln's development broker (tools/DevKafka: the mock cluster of librdkafka.redist's
/// build, in a process of its own) with the declared topics; nothing needs installing on the machine. Its data
/// lives in memory only: a restart of the AppHost starts with empty topics (PostgreSQL keeps what was consumed).
/// </summary>
internal sealed class KafkaResource(string name) : Resource(name), IResourceWithConnectionString
{
    private const string BootstrapPrefix = "KAFKA_BOOTSTRAP=";
    private ChildProcess? _process;
    private string? _bootstrap;

    public override string Type => "kafka";

    internal Dictionary<string, int> Topics { get; } = new(StringComparer.Ordinal);

    public string ConnectionString => _bootstrap ?? throw new InvalidOperationException($"{Name} is not running.");

    internal override async Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        if (context.ExistingConnectionString(Name) is { } existing)
        {
            _bootstrap = existing;
            context.Say($"{Name}: existing cluster (ConnectionStrings__{Name}); nothing started. Create the topics {string.Join(", ", Topics.Keys)} there.");
            return;
        }

        if (_process is not null)
        {
            // The mock cluster binds a new ephemeral port each time, and the services were handed the old one.
            throw new ResourceFailedException(Name,
                $"{Name}: the development broker cannot come back on its old address ({_bootstrap}); restart the AppHost instead.");
        }

        var broker = ProgramPaths.Find("Kiln.DevKafka");
        var bootstrap = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        List<string> arguments = ["exec", broker];
        foreach (var (topic, partitions) in Topics)
        {
            arguments.Add("--topic");
            arguments.Add($"{topic}:{partitions}");
        }

        _process = await ChildProcess.StartAsync(new ProcessSpec(DotnetHost.Path, arguments), context.LogFor(Name), context.Processes, line =>
        {
            if (line.StartsWith(BootstrapPrefix, StringComparison.Ordinal))
            {
                bootstrap.TrySetResult(line[BootstrapPrefix.Length..].Trim());
            }
        });

        await HealthProbe.PollAsync(Name, _process.Exited, TimeSpan.FromSeconds(30),
            _ => Task.FromResult(bootstrap.Task.IsCompleted ? null : "the broker has not reported its address yet"), cancellationToken);
        _bootstrap = bootstrap.Task.Result;
        var port = int.Parse(_bootstrap.Split(',')[0].Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);
        await HealthProbe.WaitForTcpAsync(Name, port, _process.Exited, TimeSpan.FromSeconds(10), cancellationToken);
    }

    internal override Task StopAsync() => _process?.StopAsync(TimeSpan.FromSeconds(5)) ?? Task.CompletedTask;

    internal override object? DescribeEndpoint() => new { endpoint = _bootstrap };
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
