using System.Globalization;
using Kiln.Shared;
using Kiln.Shared.Readings;
using Kiln.Web.Api;
using StackExchange.Redis;

namespace Kiln.Web.Overview;

internal enum SensorState
{
    Ok,
    Alerting,
    Stale,
}

internal sealed record SensorRow(SensorView Sensor, LatestView? Latest, SensorState State, int OpenAlerts);

internal sealed record FleetSnapshot(IReadOnlyList<SensorRow> Sensors, int OpenAlerts, DateTimeOffset At)
{
    public IEnumerable<IGrouping<string, SensorRow>> Sites => Sensors.GroupBy(r => r.Sensor.Site).OrderBy(g => g.Key, StringComparer.Ordinal);
}

/// <summary>
/// What the overview shows: the sensors (from the Api, a page per 1,000), their latest values in one pipelined
/// round of HMGETs to Redis (the Worker's hashes; with 2,000 sensors one round trip, not 2,000 HTTP calls), and the
/// alerts still open (acknowledged or not) from the Api. When Redis cannot answer, latest values come from the Api.
/// </summary>
internal sealed class FleetOverview(KilnApiClient api, IConnectionMultiplexer cache, TimeProvider time, ILogger<FleetOverview> logger)
{
    /// <summary>A sensor with no reading for this long is stale.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(5);

    private const int AlertsShown = 5000;
    private const int ConcurrentApiReads = 8;

    public async Task<FleetSnapshot> LoadAsync(CancellationToken cancellationToken)
    {
        var sensorsTask = api.SensorsAsync(cancellationToken);
        var openTask = api.AlertsAsync("open", AlertsShown, cancellationToken);
        var acknowledgedTask = api.AlertsAsync("acknowledged", AlertsShown, cancellationToken);
        var sensors = await sensorsTask;
        var latest = await LatestAsync(sensors, cancellationToken);
        var alerting = (await openTask).Concat(await acknowledgedTask).CountBy(a => a.SensorId).ToDictionary(StringComparer.Ordinal);

        var now = time.GetUtcNow();
        var rows = sensors.Select((sensor, i) =>
        {
            var open = alerting.GetValueOrDefault(sensor.Id);
            return new SensorRow(sensor, latest[i], StateOf(latest[i], open, now), open);
        }).ToList();
        return new FleetSnapshot(rows, alerting.Values.Sum(), now);
    }

    public static SensorState StateOf(LatestView? latest, int openAlerts, DateTimeOffset now) =>
        openAlerts > 0 ? SensorState.Alerting
        : latest is null || now - latest.Timestamp > StaleAfter ? SensorState.Stale
        : SensorState.Ok;

    private async Task<LatestView?[]> LatestAsync(IReadOnlyList<SensorView> sensors, CancellationToken cancellationToken)
    {
        try
        {
            var database = cache.GetDatabase();
            var fields = new RedisValue[] { "ts", "value" };
            var reads = sensors.Select(s => database.HashGetAsync(Topology.Cache.LatestKey(s.Id), fields)).ToArray();
            var values = await Task.WhenAll(reads).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return [.. sensors.Select((s, i) => Parse(s.Id, values[i]))];
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Latest values from the Api: Redis did not answer ({Reason})", ex.Message);
            var latest = new LatestView?[sensors.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, sensors.Count),
                new ParallelOptions { MaxDegreeOfParallelism = ConcurrentApiReads, CancellationToken = cancellationToken },
                async (i, ct) => latest[i] = await api.LatestAsync(sensors[i].Id, ct));
            return latest;
        }
    }

    private static LatestView? Parse(string sensorId, RedisValue[] hash) =>
        hash is [{ HasValue: true } ts, { HasValue: true } value]
        && long.TryParse(ts.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var micros)
        && double.TryParse(value.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            ? new LatestView(sensorId, UnixMicroseconds.ToTimestamp(micros), v)
            : null;
}
