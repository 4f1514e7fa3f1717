using System.Diagnostics.Metrics;

namespace Kiln.Worker.Ingestion;

/// <summary>What the cache outages cost: latest-value updates skipped, and sensors repaired afterwards.</summary>
internal sealed class LatestValueMetrics
{
    /// <summary>The Worker's own meter: these counters, and the readings lost and lag (<see cref="ReadingLoss"/>, <see cref="BrokerLogWatch"/>).</summary>
    public const string MeterName = "Kiln.Worker";

    private readonly Counter<long> _skipped;
    private readonly Counter<long> _repaired;

    public LatestValueMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _skipped = meter.CreateCounter<long>("kiln.cache.updates_skipped", "{sensor}",
            "Sensors whose latest value could not be written to Redis after their readings were stored, and were marked for repair.");
        _repaired = meter.CreateCounter<long>("kiln.cache.sensors_repaired", "{sensor}",
            "Sensors whose latest value was repaired in Redis from PostgreSQL.");
    }

    public void Skipped(int sensors) => _skipped.Add(sensors);

    public void Repaired(int sensors) => _repaired.Add(sensors);
}
