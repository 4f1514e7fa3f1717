using Kiln.Simulator.Plant;
using Microsoft.Extensions.Options;

namespace Kiln.Simulator.Feeding;

/// <summary>
/// Declares the demo plant's sensors to the Api, then posts every sensor's reading once a second. While the Api cannot take
/// them (no answer, 429, 5xx) readings wait, up to <see cref="SimulatorOptions.MaxBacklog"/> of plant time, and the feeder
/// tries again after a backoff (1 s doubling to 30 s, or the Api's <c>Retry-After</c>); it says once when the Api goes and
/// once when it is back, and never stops over it.
/// </summary>
internal sealed class PlantFeeder(IngestClient api, IOptions<SimulatorOptions> options, TimeProvider time, ILogger<PlantFeeder> logger)
    : BackgroundService
{
    private const int MaxBatch = 5000; // the Api's default batch limit
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    private readonly Queue<PlantReading> _pending = new();
    private readonly ApiBackoff _backoff = new();
    private long _dropped;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var seed = settings.Seed ?? Random.Shared.Next();
        var simulation = new PlantSimulation(seed, Seconds(settings.FirstExcursionAfter), Seconds(settings.ExcursionEveryMin), Seconds(settings.ExcursionEveryMax));
        logger.LogInformation("Demo plant {Site}: {Count} sensors, seed {Seed}; the first excursion ({Sensor}) comes after {Seconds} s",
            DemoPlant.Site, DemoPlant.Sensors.Count, seed, simulation.Excursion.SensorId, simulation.Excursion.StartTick);

        await DeclareSensorsAsync(stoppingToken);

        var next = time.GetUtcNow();
        var maxBacklogTicks = Math.Max(1, (int)(settings.MaxBacklog / Tick)) * DemoPlant.Sensors.Count;
        using var timer = new PeriodicTimer(Tick, time);
        Excursion? announced = null;
        do
        {
            // One tick per second of wall time, even when a slow POST made the timer skip a beat.
            var now = time.GetUtcNow();
            if (now - next > settings.MaxBacklog)
            {
                next = now - settings.MaxBacklog; // a suspended process: what it missed beyond the backlog would be dropped anyway
            }

            while (next <= now)
            {
                foreach (var reading in simulation.Step(next))
                {
                    _pending.Enqueue(reading);
                }

                next += Tick;
            }

            if (simulation.Excursion != announced && simulation.Tick > simulation.Excursion.StartTick)
            {
                announced = simulation.Excursion;
                logger.LogInformation("Excursion: {Sensor} goes to {Peak} and back over {Seconds} s", announced.SensorId, announced.Peak, Excursion.LengthSeconds);
            }

            while (_pending.Count > maxBacklogTicks)
            {
                _pending.Dequeue();
                _dropped++;
            }

            if (_backoff.MaySend(now))
            {
                try
                {
                    await SendPendingAsync(stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Nothing the Api or the network does may stop the plant; the AppHost would only restart it.
                    logger.LogError(ex, "Sending readings failed unexpectedly; retrying with backoff");
                    NoteFailure(ex.Message, now, null);
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>PUTs every sensor with its unit and rule, retrying while the Api cannot answer.</summary>
    private async Task DeclareSensorsAsync(CancellationToken stoppingToken)
    {
        foreach (var sensor in DemoPlant.Sensors)
        {
            while (true)
            {
                IngestAnswer answer;
                var sent = time.GetUtcNow();
                try
                {
                    answer = await api.PutSensorAsync(sensor, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogError(ex, "Declaring sensor {Sensor} failed unexpectedly", sensor.Id);
                    answer = new IngestAnswer.NotNow(ex.Message, null);
                }

                if (answer is IngestAnswer.NotNow notNow)
                {
                    NoteFailure(notNow.Reason, sent, notNow.RetryAfter);
                    await Task.Delay(_backoff.RetryAt - time.GetUtcNow() is { Ticks: > 0 } wait ? wait : TimeSpan.Zero, time, stoppingToken);
                    continue;
                }

                if (answer is IngestAnswer.Refused refused)
                {
                    logger.LogError("The Api refused sensor {Sensor}: {Reason}; its readings will be rejected", sensor.Id, refused.Reason);
                }

                NoteRecovery();
                break;
            }
        }

        logger.LogInformation("Declared {Count} sensors of {Site}", DemoPlant.Sensors.Count, DemoPlant.Site);
    }

    private async Task SendPendingAsync(CancellationToken stoppingToken)
    {
        while (_pending.Count > 0)
        {
            var batch = _pending.Take(MaxBatch).ToList();
            var sent = time.GetUtcNow();
            var answer = await api.PostReadingsAsync(batch, stoppingToken);
            switch (answer)
            {
                case IngestAnswer.NotNow notNow:
                    NoteFailure(notNow.Reason, sent, notNow.RetryAfter);
                    return;
                case IngestAnswer.Refused refused:
                    // A batch the Api will never take (a bug here): drop it rather than send it for ever.
                    logger.LogError("The Api refused {Count} readings: {Reason}", batch.Count, refused.Reason);
                    break;
                case IngestAnswer.Taken { Rejected: > 0 } taken:
                    logger.LogWarning("The Api rejected {Rejected} of {Count} readings, e.g. {Reason}", taken.Rejected, batch.Count, taken.FirstRejection);
                    break;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                _pending.Dequeue();
            }

            NoteRecovery();
        }
    }

    private void NoteFailure(string reason, DateTimeOffset sent, TimeSpan? retryAfter)
    {
        if (_backoff.Failed(sent, time.GetUtcNow(), retryAfter))
        {
            logger.LogWarning("The Api cannot take readings ({Reason}); the plant keeps running and its readings wait (up to {Backlog}), retrying with backoff",
                reason, options.Value.MaxBacklog);
        }
    }

    private void NoteRecovery()
    {
        if (_backoff.Succeeded(time.GetUtcNow()) is { } lasted)
        {
            logger.LogInformation("The Api answers again after {Seconds:0} s; {Dropped} readings older than the backlog were dropped meanwhile",
                lasted.TotalSeconds, _dropped);
        }

        _dropped = 0;
    }

    private static int Seconds(TimeSpan span) => (int)Math.Round(span.TotalSeconds);
}
