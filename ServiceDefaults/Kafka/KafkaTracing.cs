using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Text;
using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// Spans and metrics for sending and processing Kafka messages, named as the OpenTelemetry messaging semantic
/// conventions name them (spans <c>send {topic}</c> and <c>process {topic}</c>; <c>messaging.*</c> attributes and
/// metrics), with W3C trace context carried in message headers (<c>traceparent</c>, <c>tracestate</c>) so that
/// processing joins the trace that sent it. No OpenTelemetry instrumentation for Confluent.Kafka is available
/// here, so the services mark these operations themselves; the client registrations subscribe to both.
/// </summary>
public static class KafkaTracing
{
    public const string ActivitySourceName = "Kiln.Kafka";
    public const string MeterName = "Kiln.Kafka";

    private const string MessagingSystem = "kafka";

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

    private static readonly ConditionalWeakTable<IClient, KafkaClientAttributes> Clients = new();

    /// <summary>Remembers what the registration knows about a client it built (its broker, id and group).</summary>
    internal static void Describe(IClient client, KafkaClientAttributes attributes) => Clients.AddOrUpdate(client, attributes);

    /// <summary>
    /// Starts a <c>send {topic}</c> span (kind Producer) for <paramref name="messageCount"/> messages the caller is
    /// about to produce, and writes its context into <paramref name="headers"/> for every one of them to carry.
    /// Without a listener there is no span, but an ambient one (the HTTP request, say) is still propagated.
    /// When the deliveries are settled, <see cref="CountSent"/> counts them; disposing the operation records its
    /// duration (<c>messaging.client.operation.duration</c>).
    /// </summary>
    public static MessagingOperation StartSend(IClient producer, string topic, int messageCount, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentNullException.ThrowIfNull(headers);

        var client = AttributesOf(producer);
        var tags = OperationTags("send", "send", topic, partition: null);
        var spanTags = new List<KeyValuePair<string, object?>>(tags) { new("messaging.batch.message_count", messageCount) };
        client.AddTo(spanTags, withClientId: true);
        client.AddTo(tags, withClientId: false);

        var activity = Source.StartActivity($"send {topic}", ActivityKind.Producer, parentContext: default, spanTags);
        if ((activity ?? Activity.Current) is { } propagated)
        {
            DistributedContextPropagator.Current.Inject(propagated, headers, SetHeader);
        }

        return new MessagingOperation(activity, OperationDuration, tags);
    }

    /// <summary>
    /// Counts <c>messaging.client.sent.messages</c> per partition for deliveries started under a send operation:
    /// acknowledged ones, failed ones with their <c>error.type</c>, and ones still unanswered as <c>timeout</c>.
    /// </summary>
    public static void CountSent<TKey, TValue>(IClient producer, string topic, IReadOnlyList<Task<DeliveryResult<TKey, TValue>>> deliveries)
    {
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentNullException.ThrowIfNull(deliveries);

        var client = AttributesOf(producer);
        var outcomes = deliveries
            .Select(delivery => delivery.Status switch
            {
                TaskStatus.RanToCompletion => (Partition: (int?)delivery.Result.Partition.Value, Error: (string?)null),
                TaskStatus.Faulted => (null, MessagingOperation.ErrorType(delivery.Exception!.InnerException!)),
                _ => (null, "timeout"),
            })
            .CountBy(outcome => outcome);
        foreach (var ((partition, error), count) in outcomes)
        {
            var tags = OperationTags("send", operationType: null, topic, partition);
            client.AddTo(tags, withClientId: false);
            if (error is not null)
            {
                tags.Add(new("error.type", error));
            }

            SentMessages.Add(count, CollectionsMarshal.AsSpan(tags));
        }
    }

    /// <summary>The producer's span context from <paramref name="headers"/>, or null when it sent none.</summary>
    public static ActivityContext? ExtractContext(Headers headers)
    {
        ArgumentNullException.ThrowIfNull(headers);

        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, GetHeader, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : null;
    }

    /// <summary>
    /// Counts a consumed batch (<c>messaging.client.consumed.messages</c>, per partition) and starts its
    /// <c>process {topic}</c> span (kind Consumer). Start it when processing starts, not before the wait in
    /// <c>Consume()</c>, and dispose it when the batch is done. Every producer context in the batch becomes a
    /// link; when all messages came from one send, that context is also the parent, so the processing shows up
    /// inside the trace that sent it.
    /// </summary>
    public static MessagingOperation StartProcess<TKey, TValue>(IClient consumer, IReadOnlyList<ConsumeResult<TKey, TValue>> batch)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentNullException.ThrowIfNull(batch);

        var client = AttributesOf(consumer);
        var topic = SingleOrNull(batch.Select(message => message.Topic));
        var partition = SingleOrNull(batch.Select(message => (int?)message.Partition.Value));
        CountConsumed(batch, client);

        var producers = new HashSet<ActivityContext>();
        foreach (var message in batch)
        {
            if (message.Message.Headers is { } headers && ExtractContext(headers) is { } context)
            {
                producers.Add(context);
            }
        }

        var tags = OperationTags("process", "process", topic, partition);
        var spanTags = new List<KeyValuePair<string, object?>>(tags);
        client.AddTo(spanTags, withClientId: true);
        client.AddTo(tags, withClientId: false);
        if (batch.Count == 1)
        {
            spanTags.Add(new("messaging.kafka.offset", batch[0].Offset.Value));
            if (batch[0].Message.Key is string key)
            {
                spanTags.Add(new("messaging.kafka.message.key", key));
            }
        }
        else
        {
            spanTags.Add(new("messaging.batch.message_count", batch.Count));
        }

        var activity = Source.StartActivity(
            topic is null ? "process" : $"process {topic}",
            ActivityKind.Consumer,
            parentContext: producers.Count == 1 ? producers.Single() : default,
            spanTags,
            [.. producers.Select(context => new ActivityLink(context))]);

        return new MessagingOperation(activity, ProcessDuration, tags);
    }

    private static void CountConsumed<TKey, TValue>(IReadOnlyList<ConsumeResult<TKey, TValue>> batch, KafkaClientAttributes client)
    {
        foreach (var (topicPartition, count) in batch.CountBy(message => message.TopicPartition))
        {
            var tags = OperationTags("poll", "receive", topicPartition.Topic, topicPartition.Partition.Value);
            client.AddTo(tags, withClientId: false);
            ConsumedMessages.Add(count, CollectionsMarshal.AsSpan(tags));
        }
    }

    private static KafkaClientAttributes AttributesOf(IClient client) =>
        Clients.TryGetValue(client, out var attributes) ? attributes : new KafkaClientAttributes(null, null, client.Name, null);

    /// <summary>The attributes a span and its metric share; the caller adds the client's.</summary>
    private static List<KeyValuePair<string, object?>> OperationTags(string operationName, string? operationType, string? topic, int? partition)
    {
        List<KeyValuePair<string, object?>> tags =
        [
            new("messaging.system", MessagingSystem),
            new("messaging.operation.name", operationName),
        ];
        if (operationType is not null)
        {
            tags.Add(new("messaging.operation.type", operationType));
        }

        if (topic is not null)
        {
            tags.Add(new("messaging.destination.name", topic));
        }

        if (partition is { } id)
        {
            tags.Add(new("messaging.destination.partition.id", id.ToString(CultureInfo.InvariantCulture)));
        }

        return tags;
    }

    private static T? SingleOrNull<T>(IEnumerable<T> values)
    {
        using var distinct = values.Distinct().GetEnumerator();
        if (!distinct.MoveNext())
        {
            return default;
        }

        var first = distinct.Current;
        return distinct.MoveNext() ? default : first;
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
}
