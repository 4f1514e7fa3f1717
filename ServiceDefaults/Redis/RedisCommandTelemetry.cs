using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// A client span and a <c>db.client.operation.duration</c> measurement per Redis command, per the OpenTelemetry
/// database conventions. StackExchange.Redis has no ActivitySource or Meter, but its profiler records each command
/// into whichever session a callback picks on the caller's context: a session per current Activity knows its commands'
/// parent, and a timer turns what the sessions collected into spans (with their real times) and measurements.
/// OpenTelemetry.Instrumentation.StackExchangeRedis, which Aspire uses and which is not served here, works the same way.
/// </summary>
/// <remarks>
/// Spans carry no error status (the profiler does not say whether a command failed; the caller's span does). A command
/// that completes more than a drain interval after its parent ended, or in the last one before the process ends, is
/// not recorded. Without a subscriber (the settings turn tracing or metrics off) a span or measurement is not made.
/// </remarks>
public static class RedisCommandTelemetry
{
    public const string ActivitySourceName = "Kiln.Redis";
    public const string MeterName = "Kiln.Redis";
    public const string OperationDurationName = "db.client.operation.duration";

    // How late a span may reach the exporter after its command completed.
    private static readonly TimeSpan DrainInterval = TimeSpan.FromSeconds(1);

    private static readonly ActivitySource Source = new(ActivitySourceName);
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

    private static readonly ProfilingSession WithoutParent = new();
    private static readonly ConcurrentDictionary<Activity, ProfilingSession> ByParent = new();
    private static readonly Timer Drainer = StartDrainer(); // referenced, or the timer would be collected

    /// <summary>Records <paramref name="connection"/>'s commands from now on.</summary>
    internal static void Attach(IConnectionMultiplexer connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        // Runs on the caller's context as each command is created. Without a tracing listener no command needs its parent.
        connection.RegisterProfiler(() =>
            Source.HasListeners() && Activity.Current is { } parent ? ByParent.GetOrAdd(parent, static _ => new ProfilingSession()) : WithoutParent);
    }

    private static Timer StartDrainer()
    {
        // Without this the timer would capture its creator's Activity.Current, and spans without a parent would become its children.
        using (ExecutionContext.SuppressFlow())
        {
            return new Timer(_ => Drain(), null, DrainInterval, DrainInterval);
        }
    }

    private static void Drain()
    {
        Record(WithoutParent.FinishProfiling(), parent: null);
        foreach (var (parent, session) in ByParent)
        {
            // A command may complete just after its parent ends (fire and forget): keep the session a drain interval longer.
            var ended = parent.IsStopped && parent.StartTimeUtc + parent.Duration < DateTime.UtcNow - DrainInterval;
            Record(session.FinishProfiling(), parent);
            if (ended)
            {
                ByParent.TryRemove(parent, out _);
            }
        }
    }

    private static void Record(ProfiledCommandEnumerable commands, Activity? parent)
    {
        foreach (var command in commands)
        {
            var tags = Tags(command);
            OperationDuration.Record(command.ElapsedTime.TotalSeconds, tags);

            // An unsampled parent (a health probe's request, say) wants no child spans, but the durations still count.
            if (parent is null || parent.Recorded)
            {
                var span = Source.StartActivity(command.Command, ActivityKind.Client, parent?.Context ?? default, tags,
                    startTime: command.CommandCreated);
                span?.SetEndTime(command.CommandCreated + command.ElapsedTime);
                span?.Stop();
            }
        }
    }

    private static TagList Tags(IProfiledCommand command)
    {
        var tags = new TagList
        {
            { "db.system.name", "redis" },
            { "db.operation.name", command.Command },
            { "db.namespace", command.Db.ToString(CultureInfo.InvariantCulture) },
        };
        var (address, port) = command.EndPoint switch
        {
            IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            DnsEndPoint dns => (dns.Host, dns.Port),
            _ => (null, 0),
        };
        if (address is not null)
        {
            tags.Add("server.address", address);
            tags.Add("server.port", port);
        }

        return tags;
    }
}
