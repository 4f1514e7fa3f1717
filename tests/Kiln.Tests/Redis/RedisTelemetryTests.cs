using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiln.ServiceDefaults.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Trace;
using StackExchange.Redis;

namespace Kiln.Tests.Redis;

/// <summary>
/// Spans go through the real OpenTelemetry SDK (its parent-based sampling decides what is kept), as
/// AddRedisClient wires them. Listeners are process-wide and other test classes run in parallel: only
/// this server's commands count.
/// </summary>
public sealed class RedisTelemetryTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IDisposable
{
    private static readonly ActivitySource TestSource = new("Kiln.Tests.Redis");
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ConcurrentQueue<Dictionary<string, object?>> _durations = new();
    private MeterListener? _meterListener;

    [Fact]
    public async Task Each_command_is_a_client_span_under_the_callers_span_per_the_database_conventions()
    {
        using var host = await StartHostAsync();
        var database = host.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var key = $"test:{Guid.NewGuid():N}";

        Activity parent;
        using (parent = TestSource.StartActivity("request")!)
        {
            await database.StringSetAsync(key, "v");
            await database.StringGetAsync(key);
        }

        await Eventually.TrueAsync(() => SpansOf(parent).Count == 2, Deadline, "both commands' spans");
        var get = Assert.Single(SpansOf(parent), s => s.DisplayName == "GET");
        Assert.Equal(ActivityKind.Client, get.Kind);
        Assert.Equal("redis", get.GetTagItem("db.system.name"));
        Assert.Equal("GET", get.GetTagItem("db.operation.name"));
        Assert.Equal("127.0.0.1", get.GetTagItem("server.address"));
        Assert.Equal(redis.Port, get.GetTagItem("server.port"));
        Assert.InRange(get.StartTimeUtc, parent.StartTimeUtc, parent.StartTimeUtc + parent.Duration);
        Assert.True(get.Duration > TimeSpan.Zero);
    }

    [Fact]
    public async Task Commands_under_an_unsampled_parent_make_no_spans_but_are_still_measured()
    {
        using var host = await StartHostAsync();
        var database = host.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var key = $"test:{Guid.NewGuid():N}";

        // What a health probe's request looks like once the ASP.NET Core instrumentation filtered it out.
        var probe = new Activity("probe") { ActivityTraceFlags = ActivityTraceFlags.None };
        using (probe.Start())
        {
            await database.StringSetAsync(key, "unsampled");
        }

        await Eventually.TrueAsync(() => _durations.Any(d => Equals(d["server.port"], redis.Port) && (string?)d["db.operation.name"] == "SET"),
            Deadline, "the SET to be measured");
        var measured = _durations.First(d => Equals(d["server.port"], redis.Port) && (string?)d["db.operation.name"] == "SET");
        Assert.Equal("redis", measured["db.system.name"]);
        Assert.Equal("127.0.0.1", measured["server.address"]);
        Assert.DoesNotContain(_spans, s => s.TraceId == probe.TraceId);
    }

    public void Dispose() => _meterListener?.Dispose();

    private async Task<IHost> StartHostAsync()
    {
        _meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == RedisCommandTelemetry.MeterName && instrument.Name == RedisCommandTelemetry.OperationDurationName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _meterListener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            _durations.Enqueue(copy);
        });
        _meterListener.Start();

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["ConnectionStrings:cache"] = redis.ConnectionString;
        builder.AddRedisClient("cache");
        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing
            .AddSource(TestSource.Name)
            .AddProcessor(new CollectingProcessor(_spans)));
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private List<Activity> SpansOf(Activity parent) =>
        _spans.Where(s => s.ParentSpanId == parent.SpanId && s.Source.Name == RedisCommandTelemetry.ActivitySourceName).ToList();

    private sealed class CollectingProcessor(ConcurrentQueue<Activity> spans) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data) => spans.Enqueue(data);
    }
}
