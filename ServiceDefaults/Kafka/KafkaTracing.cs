using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// Spans (<c>send {topic}</c>, <c>process {topic}</c>) and <c>messaging.*</c> metrics for sending and processing Kafka
/// messages, per the OpenTelemetry messaging conventions, with W3C trace context carried in message headers so that
/// processing joins the trace that sent it. No OpenTelemetry instrumentation for Confluent.Kafka is served here, so
/// the services mark these operations themselves; the client registrations subscribe to the source and the meter.
/// </summary>
public static class KafkaTracing
{
    public const string ActivitySourceName = "Kiln.Kafka";
    public const string MeterName = "Kiln.Kafka";

    // The W3C trace-context headers, as the runtime's default propagator writes them.
    private const string TraceParentHeader = "traceparent";
    private const string TraceStateHeader = "tracestate";

    private static readonly ActivitySource Source = new(ActivitySourceName);
    private static readonly Meter Meter = new(MeterName);

    // The conventions' advice for both duration histograms.
    private static readonly InstrumentAdvice<double> DurationBuckets = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    };

    private static readonly Counter<long> SentMessages = Meter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Number of messages producer attempted to send to the broker.");

    private static readonly Counter<long> ConsumedMessages = Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Number of messages that were delivered to the application.");

    private static readonly Histogram<double> OperationDuration = Meter.CreateHistogram(
        "messaging.client.operation.duration", "s", "Duration of messaging operation initiated by a producer or consumer client.",
        tags: null, advice: DurationBuckets);

    private static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram(
        "messaging.process.duration", "s", "Duration of processing operation.", tags: null, advice: DurationBuckets);

    private static readonly ConditionalWeakTable<IClient, ClientAttributes> Clients = new();

    /// <summary>Remembers the broker (the first bootstrap server) and, for a consumer, the group a client was built for.</summary>
    internal static void Describe(IClient client, ClientConfig config)
    {
        // host:port, [v6]:port or a bare host, read as a URI's authority
        var first = config.BootstrapServers?.Split(',', StringSplitOptions.TrimEntries)[0];
        var broker = Uri.TryCreate($"kafka://{first}", UriKind.Absolute, out var uri) && uri.IdnHost.Length > 0 ? uri : null;
        Clients.AddOrUpdate(client, new(broker?.IdnHost, broker is { IsDefaultPort: false } ? broker.Port : null, (config as ConsumerConfig)?.GroupId));
    }

    /// <summary>
    /// Starts a <c>send {topic}</c> span (kind Producer) for <paramref name="messageCount"/> messages the caller is about
    /// to produce, and writes its context (or, without a listener, the ambient one) into <paramref name="headers"/> for
    /// each of them to carry. Disposing the operation counts the messages as sent, with its error if it failed.
    /// </summary>
    public static MessagingOperation StartSend(IClient producer, string topic, int messageCount, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentNullException.ThrowIfNull(headers);

        var tags = MetricTags(producer, "send", "send", topic, partition: null);
        var activity = Source.StartActivity($"send {topic}", ActivityKind.Producer, parentContext: default, tags);
        activity?.SetTag("messaging.client.id", producer.Name);
        activity?.SetTag("messaging.batch.message_count", messageCount);
        if ((activity ?? Activity.Current) is { } propagated)
        {
            DistributedContextPropagator.Current.Inject(propagated, headers, SetHeader);
        }

        return new MessagingOperation(activity, tags, (seconds, attributes) =>
        {
            OperationDuration.Record(seconds, attributes);
            SentMessages.Add(messageCount, attributes);
        });
    }

    /// <summary>The producer's span context from <paramref name="headers"/>, or null when it sent none.</summary>
    public static ActivityContext? ExtractContext(Headers headers)
    {
        ArgumentNullException.ThrowIfNull(headers);

        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, GetHeader, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : null;
    }

    /// <summary>
    /// Counts a consumed batch per partition and starts its <c>process {topic}</c> span (kind Consumer): start it once
    /// <c>Consume()</c> has returned, dispose it when the batch is done. Every sender's context becomes a link; when all
    /// the messages came from one send, that is also the parent, so the processing shows in the trace that sent it.
    /// </summary>
    public static MessagingOperation StartProcess<TKey, TValue>(IClient consumer, IReadOnlyList<ConsumeResult<TKey, TValue>> batch)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentNullException.ThrowIfNull(batch);

        var partitions = batch.CountBy(message => message.TopicPartition).ToList();
        foreach (var (partition, count) in partitions)
        {
            ConsumedMessages.Add(count, MetricTags(consumer, "poll", "receive", partition.Topic, partition.Partition.Value));
        }

        // The batch's topic and partition are named where it has only one.
        var topic = partitions.DistinctBy(partition => partition.Key.Topic).Count() == 1 ? partitions[0].Key.Topic : null;
        var tags = MetricTags(consumer, "process", "process", topic, partitions.Count == 1 ? partitions[0].Key.Partition.Value : null);
        var senders = Source.HasListeners() ? Senders(batch) : [];
        var activity = Source.StartActivity(topic is null ? "process" : $"process {topic}", ActivityKind.Consumer,
            parentContext: senders.Count == 1 ? senders[0] : default, tags, [.. senders.Select(context => new ActivityLink(context))]);
        activity?.SetTag("messaging.client.id", consumer.Name);
        if (batch is [var message])
        {
            activity?.SetTag("messaging.kafka.offset", message.Offset.Value);
            activity?.SetTag("messaging.kafka.message.key", message.Message.Key as string);
        }
        else
        {
            activity?.SetTag("messaging.batch.message_count", batch.Count);
        }

        return new MessagingOperation(activity, tags, (seconds, attributes) => ProcessDuration.Record(seconds, attributes));
    }

    /// <summary>
    /// The distinct sender contexts of a batch. The messages of one send carry the same context header and lie next to
    /// each other on their partition, so a header equal to the one before it is not read again: under load the Worker
    /// spent about 8 % of its CPU parsing the same header per message and boxing the results.
    /// </summary>
    private static List<ActivityContext> Senders<TKey, TValue>(IReadOnlyList<ConsumeResult<TKey, TValue>> batch)
    {
        var senders = new List<ActivityContext>();
        var seen = new HashSet<ActivityContext>();
        byte[]? previousParent = null, previousState = null;
        foreach (var result in batch)
        {
            if (result.Message.Headers is not { } headers)
            {
                continue;
            }

            // Without a W3C header (another propagator wrote it, or none did) the propagator reads every message.
            if (headers.TryGetLastBytes(TraceParentHeader, out var parent))
            {
                headers.TryGetLastBytes(TraceStateHeader, out var state);
                if (previousParent is not null && parent.AsSpan().SequenceEqual(previousParent) && state.AsSpan().SequenceEqual(previousState))
                {
                    continue;
                }

                (previousParent, previousState) = (parent, state);
            }

            if (ExtractContext(headers) is { } context && seen.Add(context))
            {
                senders.Add(context);
            }
        }

        return senders;
    }

    // An operation's metric attributes, leaving out those not known. Its span adds the client's id, which on a metric
    // would multiply the series without telling anything new.
    private static TagList MetricTags(IClient client, string operationName, string operationType, string? topic, int? partition)
    {
        var tags = new TagList
        {
            { "messaging.system", "kafka" },
            { "messaging.operation.name", operationName },
            { "messaging.operation.type", operationType },
        };
        Clients.TryGetValue(client, out var attributes);
        AddIfKnown("messaging.destination.name", topic);
        AddIfKnown("messaging.destination.partition.id", partition?.ToString(CultureInfo.InvariantCulture));
        AddIfKnown("server.address", attributes?.ServerAddress);
        AddIfKnown("server.port", attributes?.ServerPort);
        AddIfKnown("messaging.consumer.group.name", attributes?.ConsumerGroup);
        return tags;

        void AddIfKnown(string key, object? value)
        {
            if (value is not null)
            {
                tags.Add(key, value);
            }
        }
    }

    private static void SetHeader(object? carrier, string name, string value)
    {
        if (carrier is Headers headers)
        {
            headers.Remove(name); // a re-sent message carries the latest context only
            headers.Add(name, Encoding.UTF8.GetBytes(value));
        }
    }

    private static void GetHeader(object? carrier, string name, out string? value, out IEnumerable<string>? values)
    {
        values = null;
        value = carrier is Headers headers && headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
    }

    /// <summary>What the conventions want to know about a client but its messages do not say.</summary>
    private sealed record ClientAttributes(string? ServerAddress, int? ServerPort, string? ConsumerGroup);
}

/// <summary>
/// One send or process operation: its span (when someone listens) and its metrics (always), recorded when it is
/// disposed; call <see cref="Fail"/> first if it failed.
/// </summary>
public sealed class MessagingOperation : IDisposable
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly Action<double, TagList> _record;
    private TagList _metricTags;
    private bool _ended;

    /// <param name="record">Records the operation's metrics, given its duration in seconds and its attributes.</param>
    internal MessagingOperation(Activity? activity, TagList metricTags, Action<double, TagList> record)
    {
        Activity = activity;
        _metricTags = metricTags;
        _record = record;
    }

    /// <summary>The span, or null when no listener samples Kiln's Kafka spans.</summary>
    public Activity? Activity { get; }

    /// <summary>Marks the operation failed: <c>error.type</c> on the span and the metrics, and an error status.</summary>
    public void Fail(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var errorType = ErrorType(exception);
        _metricTags.Add("error.type", errorType);
        Activity?.SetTag("error.type", errorType);
        Activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
    }

    public void Dispose()
    {
        if (!_ended)
        {
            _ended = true;
            _record(Stopwatch.GetElapsedTime(_started).TotalSeconds, _metricTags);
            Activity?.Dispose();
        }
    }

    // Kafka's own error code where there is one (low cardinality, as the conventions ask), else the exception's type.
    private static string ErrorType(Exception exception) => exception switch
    {
        KafkaException kafka => kafka.Error.Code.ToString(),
        TimeoutException => "timeout",
        _ => exception.GetType().FullName ?? "_OTHER",
    };
}
