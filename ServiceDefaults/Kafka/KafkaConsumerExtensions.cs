using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

public static class KafkaConsumerExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="IConsumer{TKey, TValue}"/> for the broker named by
    /// <c>ConnectionStrings:{connectionName}</c>, and a "ready" health check named <paramref name="connectionName"/>
    /// (shared with a producer on the same connection).
    /// </summary>
    /// <param name="configure">Must set <see cref="ConsumerConfig.GroupId"/>; runs after Kiln's defaults.</param>
    /// <param name="configureBuilder">
    /// For deserializers or rebalance handlers; the log and error handlers are already set.
    /// </param>
    /// <remarks>
    /// Defaults: manual commits, earliest offset for a new group, 6 s session with 1 s heartbeats,
    /// reconnect backoff at most 1 s, range (eager) assignment. Keys and values use Confluent's
    /// built-in deserializers (string, byte[], int, long, ...) unless <paramref name="configureBuilder"/> sets others.
    /// The consuming loop should call <see cref="IConsumer{TKey, TValue}.Close"/> when it ends: disposing the
    /// container only disposes the consumer, which leaves the group by session timeout, not at once.
    /// </remarks>
    public static IHostApplicationBuilder AddKafkaConsumer<TKey, TValue>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<ConsumerConfig> configure,
        Action<ConsumerBuilder<TKey, TValue>>? configureBuilder = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);

        KafkaNativeLibrary.Load();
        var config = new ConsumerConfig
        {
            BootstrapServers = KafkaConnection.GetBootstrapServers(builder.Configuration, connectionName),
        };
        KafkaClientDefaults.Apply(config);
        configure(config);
        if (string.IsNullOrWhiteSpace(config.GroupId))
        {
            throw new InvalidOperationException($"Kafka consumer '{connectionName}' needs a GroupId: set it in configure.");
        }

        builder.Services.AddSingleton(serviceProvider => BuildConsumer(serviceProvider, config, connectionName, configureBuilder));
        KafkaHealthCheckRegistration.AddOnce(
            builder.Services, connectionName, serviceProvider => serviceProvider.GetRequiredService<IConsumer<TKey, TValue>>().Handle);

        return builder;
    }

    private static IConsumer<TKey, TValue> BuildConsumer<TKey, TValue>(
        IServiceProvider serviceProvider,
        ConsumerConfig config,
        string connectionName,
        Action<ConsumerBuilder<TKey, TValue>>? configureBuilder)
    {
        var logger = serviceProvider.GetRequiredService<ILoggerFactory>().CreateLogger($"Kiln.Kafka.Consumer.{connectionName}");
        var consumer = new ConsumerBuilder<TKey, TValue>(config)
            .SetLogHandler((_, message) => KafkaClientLogging.Log(logger, message))
            .SetErrorHandler((client, error) => KafkaClientLogging.Error(logger, client, error));

        configureBuilder?.Invoke(consumer);
        return consumer.Build();
    }
}
