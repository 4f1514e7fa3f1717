using Kiln.ServiceDefaults.Kafka;
using Xunit;

namespace Kiln.Tests.Kafka;

/// <summary>A development broker per test class, with the topics the Kafka tests use.</summary>
public sealed class DevKafkaFixture : IAsyncLifetime
{
    public const string ConnectionName = "kafka";
    public const string RoundTripTopic = "kiln.test.roundtrip";
    public const string ResumeTopic = "kiln.test.resume";
    public const string TracingTopic = "kiln.test.tracing";
    public const string MetricsTopic = "kiln.test.metrics";
    public const string ProcessingTopic = "kiln.test.processing";
    public const string GapTopic = "kiln.test.gap";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private DevKafkaProcess? _broker;

    public string BootstrapServers => _broker?.BootstrapServers ?? throw new InvalidOperationException("The dev broker is not running.");

    public int ProcessId => _broker?.Id ?? throw new InvalidOperationException("The dev broker is not running.");

    /// <summary>The broker's control port, for fault injection (<see cref="DevKafkaControl"/>).</summary>
    public Uri ControlEndpoint => _broker?.ControlEndpoint ?? throw new InvalidOperationException("The dev broker has no control port.");

    public async Task InitializeAsync()
    {
        // Before any test of this process builds a client of its own (the registrations do this themselves).
        KafkaNativeLibrary.Load();
        _broker = await DevKafkaProcess.StartAsync(
            ["--topic", $"{RoundTripTopic}:6", "--topic", $"{ResumeTopic}:3", "--topic", $"{TracingTopic}:1", "--topic", $"{MetricsTopic}:2",
                "--topic", $"{ProcessingTopic}:1", "--topic", $"{GapTopic}:2", "--control-port", "0"],
            ReadyTimeout);
    }

    public async Task DisposeAsync()
    {
        if (_broker is null)
        {
            return;
        }

        await using var broker = _broker;
        if (!await broker.StopAsync(StopTimeout))
        {
            throw new InvalidOperationException(
                $"The dev broker (pid {broker.Id}) did not exit cleanly on SIGTERM within {StopTimeout}:{Environment.NewLine}{broker.Output}");
        }
    }
}
