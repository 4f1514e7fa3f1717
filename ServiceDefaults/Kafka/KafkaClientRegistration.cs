using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>What the producer and consumer registrations share: the native library, logging and telemetry.</summary>
internal static class KafkaClientRegistration
{
    public const string LogCategory = "Kiln.Kafka";

    /// <summary>
    /// Loads and checks librdkafka now, so that a wrong build stops the service at startup rather than at its
    /// first message; logs which build it runs on once the host starts; subscribes to Kiln's Kafka telemetry.
    /// </summary>
    public static void AddCommon(IHostApplicationBuilder builder, bool tracing, bool metrics)
    {
        KafkaNativeLibrary.Load();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, NativeLibraryLog>());

        if (tracing)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracer => tracer.AddSource(KafkaTracing.ActivitySourceName));
        }

        if (metrics)
        {
            builder.Services.AddOpenTelemetry().WithMetrics(meter => meter.AddMeter(KafkaTracing.MeterName));
        }
    }

    public static ILogger ClientLogger(IServiceProvider serviceProvider, string role, string connectionName) =>
        serviceProvider.GetRequiredService<ILoggerFactory>().CreateLogger($"{LogCategory}.{role}.{connectionName}");

    /// <summary>Tells <see cref="KafkaTracing"/> which broker and group a client it will see was built for.</summary>
    public static TClient Described<TClient>(TClient client, ClientConfig config) where TClient : IClient
    {
        KafkaTracing.Describe(client, config);
        return client;
    }
}

/// <summary>Says once per service, at start, which librdkafka it runs on (version and file).</summary>
internal sealed class NativeLibraryLog(ILoggerFactory loggers) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var library = KafkaNativeLibrary.Load();
        loggers.CreateLogger(KafkaClientRegistration.LogCategory)
            .LogInformation("librdkafka {Version} loaded from {Path}", library.Version, library.Path);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
