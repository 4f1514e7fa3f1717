using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>
/// One send or process operation: its span (when someone listens) and its duration metric (always).
/// Dispose it when the operation ends; call <see cref="Fail"/> first if it failed.
/// </summary>
public sealed class MessagingOperation : IDisposable
{
    private readonly Histogram<double> _duration;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly List<KeyValuePair<string, object?>> _metricTags;
    private bool _ended;

    internal MessagingOperation(Activity? activity, Histogram<double> duration, List<KeyValuePair<string, object?>> metricTags)
    {
        Activity = activity;
        _duration = duration;
        _metricTags = metricTags;
    }

    /// <summary>The span, or null when no listener samples Kiln's Kafka spans.</summary>
    public Activity? Activity { get; }

    /// <summary>Marks the operation failed: <c>error.type</c> on the span and the metric, and an error status.</summary>
    public void Fail(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var errorType = ErrorType(exception);
        _metricTags.Add(new("error.type", errorType));
        Activity?.SetTag("error.type", errorType);
        Activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
    }

    public void Dispose()
    {
        if (_ended)
        {
            return;
        }

        _ended = true;
        _duration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, CollectionsMarshal.AsSpan(_metricTags));
        Activity?.Dispose();
    }

    /// <summary>Kafka's own error code where there is one (low cardinality, as the conventions ask), else the exception type.</summary>
    internal static string ErrorType(Exception exception) => exception switch
    {
        KafkaException kafka => kafka.Error.Code.ToString(),
        TimeoutException => "timeout",
        _ => exception.GetType().FullName ?? "_OTHER",
    };
}
