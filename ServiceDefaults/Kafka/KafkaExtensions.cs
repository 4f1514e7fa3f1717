using Confluent.Kafka;
using Kiln.ServiceDefaults;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>Kafka client registrations in the shape of Aspire.Confluent.Kafka's, on Confluent.Kafka itself.</summary>
public static class KafkaExtensions
{
    private const string LogCategory = "Kiln.Kafka";

    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Registers a singleton <see cref="IProducer{TKey, TValue}"/> for the broker named by <c>ConnectionStrings:{connectionName}</c>,
    /// with settings from <c>Aspire:Confluent:Kafka:Producer</c>, a "ready" health check named <c>{connectionName}-producer</c>
    /// that asks over the producer's own connection, and Kiln's Kafka spans and metrics.
    /// </summary>
    /// <param name="configureSettings">Runs after configuration is bound and may change anything, Kiln's defaults included.</param>
    /// <param name="configureBuilder">For serializers; the log and error handlers are already set.</param>
    public static void AddKafkaProducer<TKey, TValue>(this IHostApplicationBuilder builder, string connectionName,
        Action<KafkaProducerSettings>? configureSettings = null, Action<ProducerBuilder<TKey, TValue>>? configureBuilder = null)
    {
        var settings = new KafkaProducerSettings();
        builder.AddKafkaClient("Producer", connectionName, serviceKey: null, settings, settings.Config, configureSettings, (onLog, onError) =>
        {
            var producer = new ProducerBuilder<TKey, TValue>(settings.Config).SetLogHandler(onLog).SetErrorHandler(onError);
            configureBuilder?.Invoke(producer);
            return producer.Build();
        });
    }

    /// <summary>
    /// Registers a singleton <see cref="IConsumer{TKey, TValue}"/> as <see cref="AddKafkaProducer{TKey, TValue}"/> does a producer, with
    /// settings from <c>Aspire:Confluent:Kafka:Consumer</c> and a health check named <c>{connectionName}-consumer</c>.
    /// </summary>
    /// <param name="configureSettings">Runs after configuration is bound; <see cref="ConsumerConfig.GroupId"/> must be set by then.</param>
    /// <param name="configureBuilder">For deserializers or rebalance handlers; the log and error handlers are already set.</param>
    /// <remarks>
    /// The consuming loop should call <see cref="IConsumer{TKey, TValue}.Close"/> when it ends: disposing the container
    /// only disposes the consumer, which then leaves its group by session timeout, not at once.
    /// </remarks>
    public static void AddKafkaConsumer<TKey, TValue>(this IHostApplicationBuilder builder, string connectionName,
        Action<KafkaConsumerSettings>? configureSettings = null, Action<ConsumerBuilder<TKey, TValue>>? configureBuilder = null) =>
        builder.AddKafkaConsumer(connectionName, serviceKey: null, configureSettings, configureBuilder);

    /// <summary>
    /// As <see cref="AddKafkaConsumer{TKey, TValue}(IHostApplicationBuilder, string, Action{KafkaConsumerSettings}?, Action{ConsumerBuilder{TKey, TValue}}?)"/>,
    /// registered under the service key <paramref name="name"/>: a second consumer of the same broker, with settings of its own.
    /// </summary>
    public static void AddKeyedKafkaConsumer<TKey, TValue>(this IHostApplicationBuilder builder, string name,
        Action<KafkaConsumerSettings>? configureSettings = null, Action<ConsumerBuilder<TKey, TValue>>? configureBuilder = null) =>
        builder.AddKafkaConsumer(name, serviceKey: name, configureSettings, configureBuilder);

    private static void AddKafkaConsumer<TKey, TValue>(this IHostApplicationBuilder builder, string connectionName, string? serviceKey,
        Action<KafkaConsumerSettings>? configureSettings, Action<ConsumerBuilder<TKey, TValue>>? configureBuilder)
    {
        var settings = new KafkaConsumerSettings();
        builder.AddKafkaClient("Consumer", connectionName, serviceKey, settings, settings.Config, configureSettings, (onLog, onError) =>
        {
            var consumer = new ConsumerBuilder<TKey, TValue>(settings.Config).SetLogHandler(onLog).SetErrorHandler(onError);
            configureBuilder?.Invoke(consumer);
            return consumer.Build();
        });
    }

    /// <summary>
    /// What a producer's and a consumer's registration share: everything but building the client, which is given the
    /// handlers of librdkafka's log lines and error events to set.
    /// </summary>
    private static void AddKafkaClient<TSettings, TClient>(this IHostApplicationBuilder builder, string role, string connectionName,
        string? serviceKey, TSettings settings, ClientConfig config, Action<TSettings>? configureSettings,
        Func<Action<IClient, LogMessage>, Action<IClient, Error>, TClient> build)
        where TSettings : ClientSettings
        where TClient : class, IClient
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Aspire.Confluent.Kafka's order. The binder does not fill a Confluent config (a key/value list): Config by hand.
        var section = $"Aspire:Confluent:Kafka:{role}";
        settings.Bind(builder.Configuration, section, connectionName);
        ClientSettings.BindSections(builder.Configuration, section, connectionName, config, ":Config");
        configureSettings?.Invoke(settings);
        if (!string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            config.BootstrapServers = settings.ConnectionString;
        }

        if (string.IsNullOrWhiteSpace(config.BootstrapServers))
        {
            throw new InvalidOperationException(
                $"Kafka connection '{connectionName}' has no bootstrap servers: set ConnectionStrings__{connectionName} " +
                $"(the AppHost does this for a resource reference) or {section}:Config:BootstrapServers.");
        }

        if (config is ConsumerConfig { GroupId: var groupId } && string.IsNullOrWhiteSpace(groupId))
        {
            throw new InvalidOperationException(
                $"Kafka consumer '{connectionName}' needs a GroupId: set settings.Config.GroupId or {section}:Config:GroupId.");
        }

        // Loaded and checked now, so that a wrong build stops the service at startup rather than at its first message.
        KafkaNativeLibrary.Load();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, NativeLibraryLog>());
        TClient Create(IServiceProvider services)
        {
            // librdkafka's log lines and error events go to the service's logs instead of stderr. It recovers from
            // everything but fatal errors by itself (a broker going away, for one): those are warnings.
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger($"{LogCategory}.{role}.{connectionName}");
            var client = build(
                (_, message) => logger.Log((LogLevel)message.LevelAs(LogLevelType.MicrosoftExtensionsLogging),
                    "{KafkaClient} {Facility}: {Message}", message.Name, message.Facility, message.Message),
                (source, error) => logger.Log(error.IsFatal ? LogLevel.Critical : LogLevel.Warning,
                    "{KafkaClient} error {Code}: {Reason}", source.Name, error.Code, error.Reason));
            KafkaTracing.Describe(client, config);
            return client;
        }

        if (serviceKey is null)
        {
            builder.Services.AddSingleton(Create);
        }
        else
        {
            builder.Services.AddKeyedSingleton(serviceKey, (services, _) => Create(services));
        }

        // The registration's timeout is a backstop only: the metadata request gives up on its own.
        settings.AddHealthCheck(builder, $"{connectionName}-{role.ToLowerInvariant()}", MetadataTimeout * 2,
            (services, _, _) => Task.FromResult(RequestMetadata(
                (serviceKey is null ? services.GetRequiredService<TClient>() : services.GetRequiredKeyedService<TClient>(serviceKey)).Handle)));
        settings.AddTelemetry(builder,
            tracing => tracing.AddSource(KafkaTracing.ActivitySourceName),
            metrics => metrics.AddMeter(KafkaTracing.MeterName));
    }

    // The health check asks for metadata over the client's own handle (a dependent admin client has no connections or
    // settings of its own), so it checks exactly what that client can reach; it blocks until MetadataTimeout at most.
    private static HealthCheckResult RequestMetadata(Handle clientHandle)
    {
        try
        {
            using var admin = new DependentAdminClientBuilder(clientHandle).Build();
            var metadata = admin.GetMetadata(MetadataTimeout);
            return metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s), {metadata.Topics.Count} topic(s)")
                : HealthCheckResult.Unhealthy("The cluster reported no brokers.");
        }
        catch (KafkaException e)
        {
            return HealthCheckResult.Unhealthy($"No metadata from the broker: {e.Error.Reason}", e);
        }
    }

    /// <summary>Says once per service, at start, which librdkafka it runs on (version and file).</summary>
    private sealed class NativeLibraryLog(ILoggerFactory loggers) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var library = KafkaNativeLibrary.Load();
            loggers.CreateLogger(LogCategory).LogInformation("librdkafka {Version} loaded from {Path}", library.Version, library.Path);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
