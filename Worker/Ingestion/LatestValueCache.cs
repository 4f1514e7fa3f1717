using Kiln.Shared.Readings;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// The latest values in Redis, kept so that Redis never holds up storage. PostgreSQL is the system of record and Redis
/// holds what can be derived from it: a stored batch updates Redis within <see cref="LatestValueOptions.WriteTimeout"/>,
/// or, while Redis is unavailable, its sensors are marked stale for <see cref="LatestValueRepair"/> and the batch is
/// committed all the same. An outage is logged when it starts and when it ends, not per batch, and makes the Worker
/// Degraded (not Unhealthy: storage goes on) until every stale sensor is repaired.
/// </summary>
internal sealed class LatestValueCache : IHealthCheck
{
    private readonly IConnectionMultiplexer _cache;
    private readonly LatestValueWriter _writer;
    private readonly StaleSensors _stale;
    private readonly LatestValueOptions _options;
    private readonly LatestValueMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<LatestValueCache> _logger;
    private readonly Lock _lock = new();

    // Set while Redis is taken to be unavailable: why, and since when. Only the repair loop ends an outage, after a PING.
    private Outage? _outage;
    private string _lastConnectionFailure = "the connection to Redis is down";

    public LatestValueCache(IConnectionMultiplexer cache, LatestValueWriter writer, StaleSensors stale, LatestValueOptions options,
        LatestValueMetrics metrics, TimeProvider time, ILogger<LatestValueCache> logger)
    {
        (_cache, _writer, _stale, _options, _metrics, _time, _logger) = (cache, writer, stale, options, metrics, time, logger);
        // IsConnected says only that the connection is gone; this says why, for the log and the health report.
        cache.ConnectionFailed += (_, e) => _lastConnectionFailure = $"{e.FailureType}: {e.Exception?.Message ?? "connection lost"}";
    }

    /// <summary>True while no outage is known; a batch then writes to Redis.</summary>
    public bool IsAvailable => Volatile.Read(ref _outage) is null;

    /// <summary>Updates the latest values of a stored batch, or marks its sensors stale. Never throws for Redis.</summary>
    public async Task UpdateAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        // A dead multiplexer would make each batch wait out its backlog timeout; a known outage is left to the repair loop.
        if (IsAvailable && _cache.IsConnected)
        {
            try
            {
                await _writer.WriteAsync(readings, cancellationToken).WaitAsync(_options.WriteTimeout, _time, cancellationToken);
                return;
            }
            catch (Exception ex) when (IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
            {
                Unavailable(Describe(ex));
            }
        }
        else
        {
            Unavailable(_lastConnectionFailure);
        }

        MarkStale(readings.Select(r => r.SensorId).Distinct(StringComparer.Ordinal).ToList());
    }

    private void MarkStale(List<string> sensorIds)
    {
        if (_stale.Mark(sensorIds))
        {
            _logger.LogWarning(
                "More than {Capacity} sensors have stale latest values; their names are no longer kept, and every sensor's latest value will be repaired from PostgreSQL when Redis is back",
                _stale.Capacity);
        }

        _metrics.Skipped(sensorIds.Count);
    }

    /// <summary>Starts an outage, unless one is on: logged once, with the reason and what happens meanwhile.</summary>
    public void Unavailable(string reason)
    {
        lock (_lock)
        {
            if (_outage is not null)
            {
                return;
            }

            Volatile.Write(ref _outage, new Outage(reason, _time.GetUtcNow(), _time.GetTimestamp()));
        }

        _logger.LogWarning(
            "Redis is unavailable ({Reason}): readings are still stored in PostgreSQL and committed, and the latest values of their sensors will be repaired from PostgreSQL when Redis is back",
            reason);
    }

    /// <summary>
    /// Whether latest values can be written now. During an outage, a PING (within the write bound) on a reconnected
    /// multiplexer ends it, logged once.
    /// </summary>
    public async Task<bool> IsBackAsync(CancellationToken cancellationToken)
    {
        if (!_cache.IsConnected)
        {
            return false;
        }

        if (Volatile.Read(ref _outage) is not { } outage)
        {
            return true;
        }

        try
        {
            await _cache.GetDatabase().PingAsync().WaitAsync(_options.WriteTimeout, _time, cancellationToken);
        }
        catch (Exception ex) when (IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        lock (_lock)
        {
            _outage = null;
        }

        _logger.LogInformation("Redis is back after {Seconds:0.0} s; repairing the latest values of {Sensors} from PostgreSQL",
            _time.GetElapsedTime(outage.Started).TotalSeconds, _stale.Count is { } count ? $"{count} stale sensors" : "every sensor");
        return true;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var stale = _stale.Count is { } count ? $"{count} sensors" : "every sensor";
        var result = (Volatile.Read(ref _outage), _cache.IsConnected) switch
        {
            ({ } outage, _) => HealthCheckResult.Degraded(
                $"Redis is unavailable since {outage.Since:O} ({outage.Reason}); readings are still stored, and the latest values of {stale} will be repaired from PostgreSQL when it is back"),
            (null, false) => HealthCheckResult.Degraded(
                $"Redis is not connected ({_lastConnectionFailure}); readings are still stored, and latest values will be repaired from PostgreSQL when it is back"),
            _ when !_stale.IsEmpty => HealthCheckResult.Degraded($"The latest values of {stale} are being checked against PostgreSQL and repaired"),
            _ => HealthCheckResult.Healthy("Redis is connected; latest values are up to date"),
        };
        return Task.FromResult(result);
    }

    /// <summary>What waiting for Redis can cure; all of it leaves storage alone (the cache holds only derived state).</summary>
    internal static bool IsUnavailable(Exception ex) => ex is RedisException or TimeoutException;

    private string Describe(Exception ex) => ex switch
    {
        TimeoutException and not RedisTimeoutException => $"no answer within {_options.WriteTimeout.TotalMilliseconds:0} ms",
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };

    private sealed record Outage(string Reason, DateTimeOffset Since, long Started);
}
