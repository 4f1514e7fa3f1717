using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>A Kafka consumer registration in the shape of Aspire.Confluent.Kafka's, on Confluent.Kafka itself.</summary>
public static class KafkaConsumerExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="IConsumer{TKey, TValue}"/> for the broker named by
    /// <c>ConnectionStrings:{connectionName}</c>, with settings from <c>Aspire:Confluent:Kafka:Consumer</c>, a "ready"
    /// health check named <c>{connectionName}-consumer</c> that asks over the consumer's own connection, and Kiln's
    /// Kafka spans and metrics.
    /// </summary>
    /// <param name="configureSettings">
    /// Must leave <see cref="ConsumerConfig.GroupId"/> set (here or in configuration); runs after configuration is bound.
    /// </param>
    /// <param name="configureBuilder">For deserializers or rebalance handlers; the log and error handlers are already set.</param>
    /// <remarks>
    /// Defaults (<see cref="KafkaClientDefaults"/>): manual commits, earliest offset for a new group, range (eager)
    /// assignment, reconnect backoff at most 1 s. Keys and values use Confluent's built-in deserializers unless
    /// <paramref name="configureBuilder"/> sets others. The consuming loop should call
    /// <see cref="IConsumer{TKey, TValue}.Close"/> when it ends: disposing the container only disposes the consumer,
    /// which then leaves its group by session timeout, not at once.
    /// </remarks>
    public static void AddKafkaConsumer<TKey, TValue>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<KafkaConsumerSettings>? configureSettings = null,
        Action<IServiceProvider, ConsumerBuilder<TKey, TValue>>? configureBuilder = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var settings = new KafkaConsumerSettings();
        if (KafkaConnection.Bind(builder.Configuration, KafkaConnection.ConsumerSection, connectionName, settings, settings.Config) is { } connectionString)
        {
            settings.ConnectionString = connectionString;
        }

        configureSettings?.Invoke(settings);
        KafkaConnection.Consolidate(settings.Config, settings.ConnectionString, connectionName, KafkaConnection.ConsumerSection);
        if (string.IsNullOrWhiteSpace(settings.Config.GroupId))
        {
            throw new InvalidOperationException(
                $"Kafka consumer '{connectionName}' needs a GroupId: set settings.Config.GroupId or {KafkaConnection.ConsumerSection}:Config:GroupId.");
        }

        KafkaClientRegistration.AddCommon(builder, tracing: !settings.DisableTracing, metrics: !settings.DisableMetrics);
        builder.Services.AddSingleton(serviceProvider => BuildConsumer(serviceProvider, settings.Config, connectionName, configureBuilder));
        if (!settings.DisableHealthChecks)
        {
            KafkaHealthCheck.TryAdd(builder.Services, $"{connectionName}-consumer",
                serviceProvider => serviceProvider.GetRequiredService<IConsumer<TKey, TValue>>().Handle);
        }
    }

    /// <inheritdoc cref="AddKafkaConsumer{TKey, TValue}(IHostApplicationBuilder, string, Action{KafkaConsumerSettings}?, Action{IServiceProvider, ConsumerBuilder{TKey, TValue}}?)"/>
    public static void AddKafkaConsumer<TKey, TValue>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<KafkaConsumerSettings>? configureSettings,
        Action<ConsumerBuilder<TKey, TValue>>? configureBuilder) =>
        builder.AddKafkaConsumer<TKey, TValue>(connectionName, configureSettings,
            configureBuilder is null ? null : (_, consumer) => configureBuilder(consumer));

    private static IConsumer<TKey, TValue> BuildConsumer<TKey, TValue>(
        IServiceProvider serviceProvider,
        ConsumerConfig config,
        string connectionName,
        Action<IServiceProvider, ConsumerBuilder<TKey, TValue>>? configureBuilder)
    {
        var logger = KafkaClientRegistration.ClientLogger(serviceProvider, "Consumer", connectionName);
        var consumer = new ConsumerBuilder<TKey, TValue>(config)
            .SetLogHandler((_, message) => KafkaClientLogging.Log(logger, message))
            .SetErrorHandler((client, error) => KafkaClientLogging.Error(logger, client, error));

        configureBuilder?.Invoke(serviceProvider, consumer);
        return KafkaClientRegistration.Described(consumer.Build(), config);
    }
}
