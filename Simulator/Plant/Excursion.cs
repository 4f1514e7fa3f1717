using Kiln.Shared.Alerts;

namespace Kiln.Simulator.Plant;

/// <summary>
/// A sensor driven past its rule's threshold and back: over <see cref="RampSeconds"/> from the plant's value to
/// <see cref="Peak"/>, held there <see cref="HoldSeconds"/>, then back over <see cref="RampSeconds"/>. The peak lies beyond
/// the threshold by twice the hysteresis and 2 % of the threshold, so the alert opens on the way up; once over, the plant's
/// own value is inside the rule by more than the hysteresis, so it closes.
/// </summary>
internal sealed record Excursion(string SensorId, long StartTick, double Peak)
{
    public const int RampSeconds = 15;
    public const int HoldSeconds = 45;
    public const int LengthSeconds = RampSeconds + HoldSeconds + RampSeconds;

    public long EndTick => StartTick + LengthSeconds;

    /// <summary>The excursion of <paramref name="sensor"/> starting at <paramref name="startTick"/>: over its high threshold, else under its low one.</summary>
    public static Excursion Of(PlantSensor sensor, long startTick)
    {
        var rule = sensor.Rule ?? throw new ArgumentException($"{sensor.Id} has no rule to cross.", nameof(sensor));
        return new Excursion(sensor.Id, startTick, PeakBeyond(rule));
    }

    public static double PeakBeyond(AlertRule rule) => rule switch
    {
        { High: { } high } => high + Margin(rule, high),
        { Low: { } low } => low - Margin(rule, low),
        _ => throw new ArgumentException("The rule has no threshold to cross.", nameof(rule)),
    };

    /// <summary>How far the excursion has taken the sensor at <paramref name="tick"/>: 0 (the plant's own value) to 1 (the peak).</summary>
    public double Weight(long tick)
    {
        var t = tick - StartTick;
        return t switch
        {
            <= 0 => 0,
            < RampSeconds => (double)t / RampSeconds,
            <= RampSeconds + HoldSeconds => 1,
            < LengthSeconds => (double)(LengthSeconds - t) / RampSeconds,
            _ => 0,
        };
    }

    /// <summary>The value a sensor shows at <paramref name="tick"/>, given what the plant alone would show.</summary>
    public double Apply(long tick, double plantValue) => plantValue + (Weight(tick) * (Peak - plantValue));

    private static double Margin(AlertRule rule, double threshold) => (2 * rule.Hysteresis) + (0.02 * Math.Abs(threshold));
}

/// <summary>
/// When excursions happen and to which sensor: the first soon after start (so a new user sees an alert within a minute),
/// then one every few minutes, taking the sensors with rules in a shuffled rotation. Pure: ticks in, excursions out.
/// </summary>
internal sealed class ExcursionSchedule
{
    private readonly Random _random;
    private readonly int _everyMin;
    private readonly int _everyMax;
    private readonly List<PlantSensor> _rotation = [];
    private readonly IReadOnlyList<PlantSensor> _candidates;

    public ExcursionSchedule(int seed, int firstAfterSeconds, int everyMinSeconds, int everyMaxSeconds, IReadOnlyList<PlantSensor> sensors)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstAfterSeconds);
        ArgumentOutOfRangeException.ThrowIfLessThan(everyMinSeconds, Excursion.LengthSeconds + 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(everyMaxSeconds, everyMinSeconds);
        _random = new Random(seed);
        _everyMin = everyMinSeconds;
        _everyMax = everyMaxSeconds;
        _candidates = [.. sensors.Where(s => s.Rule is not null)];
        if (_candidates.Count == 0)
        {
            throw new ArgumentException("No sensor has a rule to cross.", nameof(sensors));
        }

        Current = Excursion.Of(NextSensor(), firstAfterSeconds);
    }

    /// <summary>The excursion under way at the last <see cref="At"/>, or the next one due.</summary>
    public Excursion Current { get; private set; }

    /// <summary>The excursion that shapes readings at <paramref name="tick"/> (ticks only go forward).</summary>
    public Excursion At(long tick)
    {
        while (tick >= Current.EndTick)
        {
            var gap = _random.Next(_everyMin, _everyMax + 1);
            Current = Excursion.Of(NextSensor(), Current.StartTick + gap);
        }

        return Current;
    }

    private PlantSensor NextSensor()
    {
        if (_rotation.Count == 0)
        {
            _rotation.AddRange(_candidates);
            for (var i = _rotation.Count - 1; i > 0; i--)
            {
                var j = _random.Next(i + 1);
                (_rotation[i], _rotation[j]) = (_rotation[j], _rotation[i]);
            }
        }

        var next = _rotation[^1];
        _rotation.RemoveAt(_rotation.Count - 1);
        return next;
    }
}
