using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiln.ServiceDefaults.Redis;

namespace Kiln.Tests.Redis;

public sealed class RedisTelemetryTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IDisposable
{
    // Listeners are process-wide and other test classes run in parallel: keep only this server's data.
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ConcurrentQueue<(double Seconds, Dictionary<string, object?> Tags)> _durations = new();
    private ActivityListener? _activityListener;
    private MeterListener? _meterListener;

    [Fact]
    public async Task Each_command_is_a_client_span_and_a_duration_measurement()
    {
        Listen();
        await using var client = redis.CreateClient();
        var key = $"test:{Guid.NewGuid():N}";
        await client.SetAsync(key, "v");
        await client.GetAsync(key);
        await Assert.ThrowsAsync<RedisServerException>(() => client.ExecuteAsync("INCR", key));

        var spans = _spans.Where(a => Equals(a.GetTagItem("server.port"), redis.Port)).ToList();
        var get = Assert.Single(spans, a => a.DisplayName == "GET");
        Assert.Equal(ActivityKind.Client, get.Kind);
        Assert.Equal("redis", get.GetTagItem("db.system.name"));
        Assert.Equal("GET", get.GetTagItem("db.operation.name"));
        Assert.Equal("127.0.0.1", get.GetTagItem("server.address"));
        Assert.Equal(ActivityStatusCode.Unset, get.Status);

        var incr = Assert.Single(spans, a => a.DisplayName == "INCR");
        Assert.Equal(ActivityStatusCode.Error, incr.Status);
        Assert.Equal("ERR", incr.StatusDescription); // "ERR value is not an integer…": only the code reaches the trace
        Assert.Equal(typeof(RedisServerException).FullName, incr.GetTagItem("error.type"));

        var durations = _durations.Where(d => Equals(d.Tags["server.port"], redis.Port)).ToList();
        Assert.Contains(durations, d => (string?)d.Tags["db.operation.name"] == "SET" && d.Seconds > 0);
        Assert.Contains(durations, d => (string?)d.Tags["db.operation.name"] == "INCR" && d.Tags.ContainsKey("error.type"));
    }

    public void Dispose()
    {
        _activityListener?.Dispose();
        _meterListener?.Dispose();
    }

    private void Listen()
    {
        _activityListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RedisTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_activityListener);

        _meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == RedisTelemetry.MeterName && instrument.Name == RedisTelemetry.OperationDurationName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _meterListener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            _durations.Enqueue((value, copy));
        });
        _meterListener.Start();
    }
}
