using System.Diagnostics;
using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

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
    internal static string ErrorType(Exception exception) => exception switch
    {
        KafkaException kafka => kafka.Error.Code.ToString(),
        TimeoutException => "timeout",
        _ => exception.GetType().FullName ?? "_OTHER",
    };
}
