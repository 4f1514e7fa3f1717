using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// The names to add to OpenTelemetry (<c>AddSource(RedisTelemetry.SourceName)</c>,
/// <c>AddMeter(RedisTelemetry.MeterName)</c>) and the instruments behind them, named per the
/// OpenTelemetry database semantic conventions.
/// </summary>
public static class RedisTelemetry
{
    public const string SourceName = "Kiln.Redis";
    public const string MeterName = "Kiln.Redis";
    public const string OperationDurationName = "db.client.operation.duration";

    internal static readonly ActivitySource Source = new(SourceName);

    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> OperationDuration = Meter.CreateHistogram(
        OperationDurationName,
        unit: "s",
        description: "Duration of Redis commands, from issue to reply.",
        advice: new InstrumentAdvice<double>
        {
            // Redis answers in well under a millisecond; the default buckets (starting at 5 ms) would hide everything.
            HistogramBucketBoundaries = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
        });

    internal static Activity? StartCommand(string operation, RedisClientOptions options)
    {
        var activity = Source.StartActivity(operation, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("db.system.name", "redis");
            activity.SetTag("db.operation.name", operation);
            activity.SetTag("server.address", options.Host);
            activity.SetTag("server.port", options.Port);
        }

        return activity;
    }

    internal static void StopCommand(Activity? activity, string operation, RedisClientOptions options, long startTimestamp, Exception? failure)
    {
        var tags = new TagList
        {
            { "db.system.name", "redis" },
            { "db.operation.name", operation },
            { "server.address", options.Host },
            { "server.port", options.Port },
        };

        if (failure is not null)
        {
            tags.Add("error.type", failure.GetType().FullName);
            activity?.SetTag("error.type", failure.GetType().FullName);
            // Our own messages name only the command, but some server errors quote arguments
            // ("unknown command … with args beginning with …"), so traces get just the error code.
            activity?.SetStatus(ActivityStatusCode.Error, failure is RedisServerException server ? server.ErrorCode : failure.Message);
        }

        OperationDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
        activity?.Dispose();
    }
}
