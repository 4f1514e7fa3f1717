using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

public static class KafkaProducerExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="IProducer{TKey, TValue}"/> for the broker named by
    /// <c>ConnectionStrings:{connectionName}</c>, and a "ready" health check named <paramref name="connectionName"/>.
    /// </summary>
    /// <param name="configure">Runs after Kiln's defaults and may change any of them.</param>
    /// <param name="configureBuilder">For serializers; the log and error handlers are already set.</param>
    /// <remarks>
    /// Defaults: idempotent, acks=all, linger 5 ms, reconnect backoff at most 1 s, message timeout 30 s.
    /// Keys and values use Confluent's built-in serializers (string, byte[], int, long, ...) unless
    /// <paramref name="configureBuilder"/> sets others.
    /// </remarks>
    public static IHostApplicationBuilder AddKafkaProducer<TKey, TValue>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<ProducerConfig>? configure = null,
        Action<ProducerBuilder<TKey, TValue>>? configureBuilder = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        KafkaNativeLibrary.Load();
        var config = new ProducerConfig
        {
            BootstrapServers = KafkaConnection.GetBootstrapServers(builder.Configuration, connectionName),
        };
        KafkaClientDefaults.Apply(config);
        configure?.Invoke(config);

        builder.Services.AddSingleton(serviceProvider => BuildProducer(serviceProvider, config, connectionName, configureBuilder));
        KafkaHealthCheckRegistration.AddOnce(
            builder.Services, connectionName, serviceProvider => serviceProvider.GetRequiredService<IProducer<TKey, TValue>>().Handle);

        return builder;
    }

    private static IProducer<TKey, TValue> BuildProducer<TKey, TValue>(
        IServiceProvider serviceProvider,
        ProducerConfig config,
        string connectionName,
        Action<ProducerBuilder<TKey, TValue>>? configureBuilder)
    {
        var logger = serviceProvider.GetRequiredService<ILoggerFactory>().CreateLogger($"Kiln.Kafka.Producer.{connectionName}");
        var producer = new ProducerBuilder<TKey, TValue>(config)
            .SetLogHandler((_, message) => KafkaClientLogging.Log(logger, message))
            .SetErrorHandler((client, error) => KafkaClientLogging.Error(logger, client, error));

        configureBuilder?.Invoke(producer);
        return producer.Build();
    }
}
