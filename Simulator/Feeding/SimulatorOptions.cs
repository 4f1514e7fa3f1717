namespace Kiln.Simulator.Feeding;

/// <summary><c>Kiln:Simulator</c>: the plant's seed and how often it leaves normal running.</summary>
internal sealed class SimulatorOptions
{
    /// <summary>Seeds the plant's randomness; none = a new plant each start.</summary>
    public int? Seed { get; set; }

    public TimeSpan FirstExcursionAfter { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan ExcursionEveryMin { get; set; } = TimeSpan.FromMinutes(3);

    public TimeSpan ExcursionEveryMax { get; set; } = TimeSpan.FromMinutes(6);

    /// <summary>While the Api cannot take readings they wait, up to this much plant time; older ones are dropped.</summary>
    public TimeSpan MaxBacklog { get; set; } = TimeSpan.FromMinutes(5);
}
