using Kiln.Shared.Schema;
using Npgsql;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Brings the latest values in Redis up to date with PostgreSQL once Redis is back: for the sensors this replica marked
/// stale, it reads the newest stored reading of each (a chunk per query) and writes it through the same newer-wins
/// script as the consumer, so a fresh reading written meanwhile is never overwritten by an older one. A step that
/// fails puts its sensors back; the rest wait for the next attempt. Each replica repairs what it skipped itself, and
/// a replica that starts repairs every sensor once, since one that stopped during an outage forgot what it skipped.
/// </summary>
internal sealed class LatestValueRepair(LatestValueCache cache, StaleSensors stale, LatestReadings database, LatestValueWriter writer,
    SchemaMigrator migrator, LatestValueOptions options, LatestValueMetrics metrics, TimeProvider time, ILogger<LatestValueRepair> logger)
    : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);
    private bool _schemaReady;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = options.RepairPollInterval;
        try
        {
            while (true)
            {
                await Task.Delay(delay, time, stoppingToken);
                if ((cache.IsAvailable && stale.IsEmpty) || !await cache.IsBackAsync(stoppingToken) || stale.IsEmpty)
                {
                    continue;
                }

                if (!_schemaReady)
                {
                    // The first repair (a starting replica's walk) may come before the consumer has applied the migrations that
                    // create what it reads. Applying them is idempotent, and an advisory lock makes the callers take turns.
                    try
                    {
                        await migrator.MigrateAsync(stoppingToken);
                        _schemaReady = true;
                    }
                    catch (NpgsqlException ex) when (!stoppingToken.IsCancellationRequested)
                    {
                        logger.LogDebug("Latest-value repair waits for PostgreSQL ({Reason})", ex.Message);
                        delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
                        continue;
                    }
                }

                delay = await RepairAsync(stoppingToken)
                    ? options.RepairPollInterval
                    : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Repairs stale sensors chunk by chunk until none is left (true) or a step fails (false).</summary>
    internal async Task<bool> RepairAsync(CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var (checkedSensors, repaired) = (0, 0);
        while (stale.Take(options.RepairChunkSize) is { } chunk)
        {
            try
            {
                var (found, behind) = await RepairAsync(chunk, cancellationToken);
                (checkedSensors, repaired) = (checkedSensors + found, repaired + behind);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (LatestValueCache.IsUnavailable(ex) || ex is NpgsqlException))
            {
                stale.GiveBack(chunk);
                if (LatestValueCache.IsUnavailable(ex))
                {
                    cache.Unavailable($"{ex.GetType().Name} while repairing: {ex.Message}");
                }

                logger.LogWarning(
                    "Repairing latest values stopped after {Repaired} sensors ({Reason}); what is left ({Remaining}) is kept for the next attempt",
                    checkedSensors, ex.Message, stale.Count is { } left ? $"{left} sensors" : "every sensor");
                return false;
            }
            catch
            {
                stale.GiveBack(chunk);
                throw;
            }
        }

        logger.LogInformation(
            "Repaired latest values from PostgreSQL in {Milliseconds:0} ms: {Checked} sensors written through, {Repaired} of them were behind in Redis",
            time.GetElapsedTime(started).TotalMilliseconds, checkedSensors, repaired);
        return true;
    }

    /// <returns>How many sensors had a stored reading to write, and how many of those were behind in Redis.</returns>
    private async Task<(int Found, int Behind)> RepairAsync(StaleChunk chunk, CancellationToken cancellationToken)
    {
        var sensorIds = chunk.Walk is { } step
            ? await database.SensorIdsAfterAsync(step.After, options.RepairChunkSize, cancellationToken)
            : chunk.SensorIds;
        var latest = sensorIds.Count == 0 ? [] : await database.FindAsync(sensorIds, cancellationToken);
        var behind = latest.Count == 0 ? 0 : await writer.WriteAsync(latest, cancellationToken).WaitAsync(options.WriteTimeout, time, cancellationToken);
        if (chunk.Walk is { } walked)
        {
            stale.Walked(walked, sensorIds.Count > 0 ? sensorIds[^1] : walked.After, end: sensorIds.Count < options.RepairChunkSize);
        }

        metrics.Repaired(behind);
        return (latest.Count, behind);
    }
}
