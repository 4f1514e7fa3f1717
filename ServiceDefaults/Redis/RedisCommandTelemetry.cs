using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// A client span and a <c>db.client.operation.duration</c> measurement per Redis command, named per
/// the OpenTelemetry database conventions. StackExchange.Redis 3.4 has no ActivitySource or Meter of
/// its own, but its profiler records every command's name, endpoint and timings into whichever session
/// a callback picks on the caller's context. A session per current Activity therefore knows each
/// command's parent; a timer turns what the sessions collected into spans (with their real start and
/// end times) and measurements. OpenTelemetry.Instrumentation.StackExchangeRedis, which Aspire uses
/// and which is not served here, works the same way.
/// </summary>
/// <remarks>
/// The profiler does not say whether a command failed, so these spans carry no error status; the
/// failure surfaces as the caller's exception, in the caller's span. A command that completes more
/// than one drain interval after its parent span ended is not recorded.
/// </remarks>
public sealed class RedisCommandTelemetry : IDisposable
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

    private readonly bool _traced;
    private readonly bool _measured;
    private readonly ProfilingSession _withoutParent = new();
    private readonly ProfilingSession _untraced = new();
    private readonly ConcurrentDictionary<Activity, ParentSession> _byParent = new();
    private readonly Timer _drain;

    internal RedisCommandTelemetry(bool traced, bool measured)
    {
        _traced = traced;
        _measured = measured;

        // Without this the timer would capture the creator's Activity.Current and every drain would run under it.
        using (ExecutionContext.SuppressFlow())
        {
            _drain = new Timer(_ => Drain(), null, DrainInterval, DrainInterval);
        }
    }

    internal void Attach(IConnectionMultiplexer connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        connection.RegisterProfiler(SessionForCaller);
    }

    public void Dispose()
    {
        _drain.Dispose();
        Drain();
    }

    // Runs on the caller's context as each command is created.
    private ProfilingSession SessionForCaller()
    {
        var parent = Activity.Current;
        if (!_traced || parent is null)
        {
            return _traced ? _withoutParent : _untraced;
        }

        // An unsampled parent (a health probe's request, say) wants no child spans, but the duration still counts.
        return parent.Recorded ? _byParent.GetOrAdd(parent, static _ => new ParentSession()).Session : _untraced;
    }

    private void Drain()
    {
        // Spans without a parent must become roots, not children of whatever Activity the caller of Dispose has.
        var ambient = Activity.Current;
        Activity.Current = null;
        try
        {
            Record(_untraced.FinishProfiling(), parent: null, traced: false);
            Record(_withoutParent.FinishProfiling(), parent: null, traced: true);
            foreach (var (parent, entry) in _byParent)
            {
                var parentEnded = parent.IsStopped;
                Record(entry.Session.FinishProfiling(), parent, traced: true);

                // A command may complete just after its parent ends (fire and forget): keep the session one more round.
                if (parentEnded && entry.ParentSeenEnded)
                {
                    _byParent.TryRemove(parent, out _);
                }

                entry.ParentSeenEnded = parentEnded;
            }
        }
        finally
        {
            Activity.Current = ambient;
        }
    }

    private void Record(ProfiledCommandEnumerable commands, Activity? parent, bool traced)
    {
        foreach (var command in commands)
        {
            var tags = Tags(command);
            if (_measured)
            {
                OperationDuration.Record(command.ElapsedTime.TotalSeconds, tags);
            }

            if (traced)
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

        switch (command.EndPoint)
        {
            case IPEndPoint ip:
                tags.Add("server.address", ip.Address.ToString());
                tags.Add("server.port", ip.Port);
                break;
            case DnsEndPoint dns:
                tags.Add("server.address", dns.Host);
                tags.Add("server.port", dns.Port);
                break;
        }

        return tags;
    }

    private sealed class ParentSession
    {
        public ProfilingSession Session { get; } = new();

        public bool ParentSeenEnded { get; set; }
    }
}
