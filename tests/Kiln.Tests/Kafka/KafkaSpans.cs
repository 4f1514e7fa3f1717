using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiln.ServiceDefaults.Kafka;

namespace Kiln.Tests.Kafka;

/// <summary>Records what Kiln's Kafka telemetry emits, as an OpenTelemetry exporter would see it.</summary>
internal static class KafkaSpans
{
    public static ActivityListener Listen(ConcurrentQueue<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == KafkaTracing.ActivitySourceName,
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}

/// <summary>One measurement of a Kiln Kafka instrument, with its tags.</summary>
internal sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

internal sealed class KafkaMeasurements : IDisposable
{
    private readonly MeterListener _listener = new();

    public KafkaMeasurements()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == KafkaTracing.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public ConcurrentQueue<Measurement> All { get; } = new();

    /// <summary>Measurements of <paramref name="instrument"/> for <paramref name="topic"/> (tests share the meter).</summary>
    public List<Measurement> Of(string instrument, string topic) =>
        [.. All.Where(m => m.Instrument == instrument && Equals(m.Tags.GetValueOrDefault("messaging.destination.name"), topic))];

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        All.Enqueue(new Measurement(instrument.Name, value, tags.ToArray().ToDictionary(tag => tag.Key, tag => tag.Value)));
}
