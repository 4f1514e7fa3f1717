using System.Diagnostics;
using System.Text;
using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// Spans for publishing and processing Kafka messages, with W3C trace context carried in message headers
/// (<c>traceparent</c>, <c>tracestate</c>) so a consumer's work links back to the request that produced it.
/// </summary>
public static class KafkaTracing
{
    public const string ActivitySourceName = "Kiln.Kafka";

    private static readonly ActivitySource Source = new(ActivitySourceName);

    /// <summary>
    /// Starts a Producer span <c>"{topic} publish"</c> and writes its context into <paramref name="headers"/>.
    /// Without a listener there is no span, but an ambient one (the HTTP request, say) is still propagated.
    /// </summary>
    public static Activity? StartPublish(string topic, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(headers);

        var activity = Source.StartActivity(
            $"{topic} publish",
            ActivityKind.Producer,
            parentContext: default,
            tags: MessagingTags(topic, "send"));

        if ((activity ?? Activity.Current) is { } propagated)
        {
            DistributedContextPropagator.Current.Inject(propagated, headers, SetHeader);
        }

        return activity;
    }

    /// <summary>The producer's span context from <paramref name="headers"/>, or null when it sent none.</summary>
    public static ActivityContext? ExtractContext(Headers headers)
    {
        ArgumentNullException.ThrowIfNull(headers);

        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, GetHeader, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : null;
    }

    /// <summary>
    /// Starts a Consumer span <c>"{topic} process"</c> for a batch. A batch mixes messages from many traces,
    /// so each producer context becomes a link rather than a parent.
    /// </summary>
    public static Activity? StartProcess(string topic, IEnumerable<ActivityContext> links, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(links);

        var tags = MessagingTags(topic, "process");
        tags.Add(new("messaging.batch.message_count", batchSize));
        return Source.StartActivity(
            $"{topic} process",
            ActivityKind.Consumer,
            parentContext: default,
            tags: tags,
            links: [.. links.Select(context => new ActivityLink(context))]);
    }

    private static List<KeyValuePair<string, object?>> MessagingTags(string topic, string operation) =>
    [
        new("messaging.system", "kafka"),
        new("messaging.destination.name", topic),
        new("messaging.operation.type", operation),
    ];

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
