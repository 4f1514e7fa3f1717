namespace Kiln.Simulator.Plant;

/// <summary>
/// The demo plant's process, one second per <see cref="Step"/>: pure arithmetic on a seeded random source, no clock, no I/O.
/// <para>
/// The kiln feed wanders slowly about its set point (a mean-reverting random walk). Everything downstream follows it through
/// first-order lags: kiln speed and drive current rise with feed; the fuel follows the feed two minutes behind, so a rising
/// feed cools the burning zone until the fuel catches up, and the burning zone drives shell temperature, NOx and the inlet
/// oxygen (whose fall raises CO). The cooler and the clinker conveyor see the kiln's output, the conveyor a minute later. The
/// raw mill and the cement mill wander on feeds of their own. Each measurement carries a little noise.
/// </para>
/// </summary>
internal sealed class PlantModel
{
    private const double Dt = 1; // seconds per step
    private const double ConveyorDelaySeconds = 60;

    private readonly Random _random;
    private readonly Queue<double> _conveyor = new();

    // Process state.
    private double _kilnFeed = 300;     // t/h raw meal into the kiln
    private double _fuel = 0.11 * 300;  // t/h coal: follows the feed
    private double _fuelQuality;        // °C offset of the flame, a slow wander of its own
    private double _rawMillFeed = 420;  // t/h
    private double _cementMillFeed = 150; // t/h

    // Lagged measurements, keyed as the sensors are.
    private readonly Dictionary<string, double> _values = new(StringComparer.Ordinal);

    public PlantModel(int seed)
    {
        _random = new Random(seed);
        // Start at the steady state the targets describe, so the first minutes look like a plant already running.
        for (var i = 0; i < ConveyorDelaySeconds; i++)
        {
            _conveyor.Enqueue(_kilnFeed / 1.6);
        }

        foreach (var (id, target) in Targets())
        {
            _values[id] = target;
        }
    }

    /// <summary>The latest value of every sensor of <see cref="DemoPlant"/>.</summary>
    public IReadOnlyDictionary<string, double> Values => _values;

    /// <summary>Advances the plant by one second.</summary>
    public void Step()
    {
        _kilnFeed = Wander(_kilnFeed, mean: 300, reversionSeconds: 600, noise: 0.6, min: 270, max: 330);
        _fuel = Lag(_fuel, 0.11 * _kilnFeed, seconds: 120);
        _fuelQuality = Wander(_fuelQuality, mean: 0, reversionSeconds: 900, noise: 0.4, min: -15, max: 15);
        _rawMillFeed = Wander(_rawMillFeed, mean: 420, reversionSeconds: 300, noise: 0.8, min: 385, max: 455);
        _cementMillFeed = Wander(_cementMillFeed, mean: 150, reversionSeconds: 300, noise: 0.4, min: 132, max: 168);
        _conveyor.Enqueue(_kilnFeed / 1.6);
        _conveyor.Dequeue();

        foreach (var (id, target) in Targets())
        {
            _values[id] = Lag(_values[id], target, LagSeconds(id));
        }
    }

    /// <summary>What a sensor shows: its lagged value plus measurement noise (every quantity of this plant is at least 0).</summary>
    public double Measure(string sensorId) => Math.Max(0, _values[sensorId] + (NoiseOf(sensorId) * Gaussian()));

    /// <summary>Where each measurement is heading, from the process state (the lags then smooth the way there).</summary>
    private IEnumerable<(string Id, double Target)> Targets()
    {
        var fuelRatio = _fuel / _kilnFeed;
        var burningZone = 1450 + (8000 * (fuelRatio - 0.11)) + _fuelQuality;
        var speed = 3.6 + (0.008 * (_kilnFeed - 300));
        var oxygen = 3.0 - (150 * (fuelRatio - 0.11));
        var bz = Current(DemoPlant.BurningZoneTemperature, burningZone);
        var o2 = Current(DemoPlant.InletOxygen, oxygen);
        var millPower = 1500 + (18 * _cementMillFeed);

        yield return (DemoPlant.KilnFeed, _kilnFeed);
        yield return (DemoPlant.BurningZoneTemperature, burningZone);
        yield return (DemoPlant.ShellTemperature, 290 + (0.4 * (bz - 1450)) + (0.3 * (_kilnFeed - 300)));
        yield return (DemoPlant.DriveCurrent, 150 + (1.1 * _kilnFeed) + (60 * (Current(DemoPlant.KilnSpeed, speed) - 3.6)));
        yield return (DemoPlant.KilnSpeed, speed);
        yield return (DemoPlant.InletOxygen, oxygen);
        yield return (DemoPlant.InletCarbonMonoxide, 100 * Math.Exp(1.2 * (3.0 - o2)));
        yield return (DemoPlant.RawMillFeed, _rawMillFeed);
        yield return (DemoPlant.RawMillPower, 1200 + (5 * _rawMillFeed));
        yield return (DemoPlant.RawMillOutletTemperature, 90 + (0.1 * (_kilnFeed - 300)) - (0.08 * (_rawMillFeed - 420)));
        yield return (DemoPlant.CementMillPower, millPower);
        yield return (DemoPlant.SeparatorSpeed, 760 + (1.6 * _cementMillFeed));
        yield return (DemoPlant.CementMillOutletTemperature, 105 + (0.01 * (Current(DemoPlant.CementMillPower, millPower) - 4200)));
        yield return (DemoPlant.GratePressure, 50 + (0.25 * (_kilnFeed - 300)));
        yield return (DemoPlant.ClinkerTemperature, 110 + (0.6 * (_kilnFeed - 300)) + (0.1 * (bz - 1450)));
        yield return (DemoPlant.BeltSpeed, 1.6);
        yield return (DemoPlant.BeltLoad, _conveyor.Peek());
        yield return (DemoPlant.StackNox, 500 + (2.5 * (bz - 1450)));
        yield return (DemoPlant.StackSo2, 90 + (0.4 * (_rawMillFeed - 420)));
        yield return (DemoPlant.StackDust, 9 + (0.03 * (_kilnFeed - 300)));
    }

    /// <summary>A measurement's current value, or (while the constructor fills them in) its target.</summary>
    private double Current(string id, double target) => _values.TryGetValue(id, out var value) ? value : target;

    private static double LagSeconds(string id) => id switch
    {
        DemoPlant.KilnFeed or DemoPlant.RawMillFeed or DemoPlant.BeltSpeed or DemoPlant.BeltLoad => 1,
        DemoPlant.BurningZoneTemperature => 60,
        DemoPlant.ShellTemperature => 600,
        DemoPlant.DriveCurrent or DemoPlant.SeparatorSpeed => 20,
        DemoPlant.KilnSpeed => 60,
        DemoPlant.InletOxygen or DemoPlant.RawMillPower => 10,
        DemoPlant.InletCarbonMonoxide => 5,
        DemoPlant.RawMillOutletTemperature => 180,
        DemoPlant.CementMillPower => 15,
        DemoPlant.CementMillOutletTemperature => 300,
        DemoPlant.GratePressure or DemoPlant.StackNox => 30,
        DemoPlant.ClinkerTemperature => 120,
        _ => 10,
    };

    private static double NoiseOf(string id) => id switch
    {
        DemoPlant.KilnFeed => 0.8,
        DemoPlant.BurningZoneTemperature => 2,
        DemoPlant.ShellTemperature => 1,
        DemoPlant.DriveCurrent => 3,
        DemoPlant.KilnSpeed => 0.005,
        DemoPlant.InletOxygen => 0.06,
        DemoPlant.InletCarbonMonoxide => 8,
        DemoPlant.RawMillFeed => 1.5,
        DemoPlant.RawMillPower => 15,
        DemoPlant.RawMillOutletTemperature => 0.5,
        DemoPlant.CementMillPower => 20,
        DemoPlant.SeparatorSpeed => 2,
        DemoPlant.CementMillOutletTemperature => 0.3,
        DemoPlant.GratePressure => 0.6,
        DemoPlant.ClinkerTemperature => 2,
        DemoPlant.BeltSpeed => 0.005,
        DemoPlant.BeltLoad => 2,
        DemoPlant.StackNox => 8,
        DemoPlant.StackSo2 => 5,
        DemoPlant.StackDust => 0.7,
        _ => 0,
    };

    /// <summary>First-order lag: moves <paramref name="value"/> toward <paramref name="target"/> with time constant <paramref name="seconds"/>.</summary>
    private static double Lag(double value, double target, double seconds) =>
        value + ((target - value) * (1 - Math.Exp(-Dt / seconds)));

    /// <summary>Ornstein–Uhlenbeck step: pulled back to <paramref name="mean"/>, pushed by noise, kept inside its limits.</summary>
    private double Wander(double value, double mean, double reversionSeconds, double noise, double min, double max) =>
        Math.Clamp(value + ((mean - value) * Dt / reversionSeconds) + (noise * Math.Sqrt(Dt) * Gaussian()), min, max);

    /// <summary>A standard normal draw (Box–Muller).</summary>
    private double Gaussian()
    {
        var u = 1 - _random.NextDouble(); // (0, 1]: the logarithm stays finite
        var v = _random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
    }
}
