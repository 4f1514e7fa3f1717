using System.Diagnostics.Metrics;
using Kiln.Worker.Ingestion;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Kiln.Tests.Worker;

/// <summary>A loss is an error line with the partition, offsets and count, a <c>kiln.readings.lost</c> increment and a Degraded health.</summary>
public sealed class ReadingLossTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-11-24T04:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly FakeLogger<ReadingLoss> _log = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MetricCollector<long> _lost;

    public ReadingLossTests() =>
        _lost = new MetricCollector<long>(Meters, LatestValueMetrics.MeterName, "kiln.readings.lost"); // the factory is the meters' scope

    private IMeterFactory Meters => _services.GetRequiredService<IMeterFactory>();

    [Fact]
    public async Task A_dropped_range_is_logged_counted_and_degrades_health_for_a_while()
    {
        var loss = new ReadingLoss(_clock, Meters, _log);
        Assert.Equal(HealthStatus.Healthy, (await loss.CheckHealthAsync(new HealthCheckContext())).Status);

        loss.Dropped("kiln.readings", 7, from: 1_000, to: 4_500);

        var error = Assert.Single(_log.Collector.GetSnapshot(), l => l.Level == LogLevel.Error).Message;
        Assert.Contains("3,500 readings lost on kiln.readings partition 7", error, StringComparison.Ordinal);
        Assert.Contains("offsets 1,000 to 4,499", error, StringComparison.Ordinal);
        var counted = Assert.Single(_lost.GetMeasurementSnapshot());
        Assert.Equal(3_500, counted.Value);
        Assert.Equal(7, counted.Tags["messaging.destination.partition.id"]);

        var health = await loss.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("3,500 readings lost", health.Description, StringComparison.Ordinal);

        _clock.Advance(ReadingLoss.DegradedFor);
        health = await loss.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Healthy, health.Status);
        Assert.Contains("3,500 readings lost since start", health.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_replaced_log_is_reported_even_when_the_count_is_unknown()
    {
        var loss = new ReadingLoss(_clock, Meters, _log);

        loss.Replaced("kiln.readings", [(3, 0), (4, 0)], "partition 3's end offset went back");

        var error = Assert.Single(_log.Collector.GetSnapshot(), l => l.Level == LogLevel.Error).Message;
        Assert.Contains("kiln.readings was replaced by a new, empty log (partition 3's end offset went back)", error, StringComparison.Ordinal);
        Assert.Contains("the partitions this replica read (3, 4)", error, StringComparison.Ordinal);
        Assert.Contains("count unknown", error, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Degraded, (await loss.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    public void Dispose()
    {
        _lost.Dispose();
        _services.Dispose();
    }
}
