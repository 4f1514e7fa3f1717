using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>A Kafka producer registration in the shape of Aspire.Confluent.Kafka's, on Confluent.Kafka itself.</summary>
public static class KafkaProducerExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="IProducer{TKey, TValue}"/> for the broker named by
    /// <c>ConnectionStrings:{connectionName}</c>, with settings from <c>Aspire:Confluent:Kafka:Producer</c>, a "ready"
    /// health check named <c>{connectionName}-producer</c>, and Kiln's Kafka spans and metrics.
    /// </summary>
    /// <param name="configureSettings">Runs after configuration is bound and may change anything, Kiln's defaults included.</param>
    /// <param name="configureBuilder">For serializers; the log and error handlers are already set.</param>
    /// <remarks>
    /// Defaults (<see cref="KafkaClientDefaults"/>): idempotent, acks=all, linger 5 ms, zstd, reconnect backoff at most
    /// 1 s, message timeout 30 s. Keys and values use Confluent's built-in serializers (string, byte[], int, long, ...)
    /// unless <paramref name="configureBuilder"/> sets others.
    /// </remarks>
    public static void AddKafkaProducer<TKey, TValue>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<KafkaProducerSettings>? configureSettings = null,
        Action<IServiceProvider, ProducerBuilder<TKey, TValue>>? configureBuilder = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var settings = new KafkaProducerSettings();
        if (KafkaConnection.Bind(builder.Configuration, KafkaConnection.ProducerSection, connectionName, settings, settings.Config) is { } connectionString)
        {
            settings.ConnectionString = connectionString;
        }

        configureSettings?.Invoke(settings);
        KafkaConnection.Consolidate(settings.Config, settings.ConnectionString, connectionName, KafkaConnection.ProducerSection);

        KafkaClientRegistration.AddCommon(builder, tracing: !settings.DisableTracing, metrics: !settings.DisableMetrics);
        builder.Services.AddSingleton(serviceProvider => BuildProducer(serviceProvider, settings.Config, connectionName, configureBuilder));
        if (!settings.DisableHealthChecks)
        {
            KafkaHealthCheck.TryAdd(builder.Services, $"{connectionName}-producer",
                serviceProvider => serviceProvider.GetRequiredService<IProducer<TKey, TValue>>().Handle);
        }
    }

    /// <inheritdoc cref="AddKafkaProducer{TKey, TValue}(IHostApplicationBuilder, string, Action{KafkaProducerSettings}?, Action{IServiceProvider, ProducerBuilder{TKey, TValue}}?)"/>
    public static void AddKafkaProducer<TKey, TValue>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<KafkaProducerSettings>? configureSettings,
        Action<ProducerBuilder<TKey, TValue>>? configureBuilder) =>
        builder.AddKafkaProducer<TKey, TValue>(connectionName, configureSettings,
            configureBuilder is null ? null : (_, producer) => configureBuilder(producer));

    private static IProducer<TKey, TValue> BuildProducer<TKey, TValue>(
        IServiceProvider serviceProvider,
        ProducerConfig config,
        string connectionName,
        Action<IServiceProvider, ProducerBuilder<TKey, TValue>>? configureBuilder)
    {
        var logger = KafkaClientRegistration.ClientLogger(serviceProvider, "Producer", connectionName);
        var producer = new ProducerBuilder<TKey, TValue>(config)
            .SetLogHandler((_, message) => KafkaClientLogging.Log(logger, message))
            .SetErrorHandler((client, error) => KafkaClientLogging.Error(logger, client, error));

        configureBuilder?.Invoke(serviceProvider, producer);
        return KafkaClientRegistration.Described(producer.Build(), config);
    }
}
