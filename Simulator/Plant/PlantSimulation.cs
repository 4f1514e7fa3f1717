namespace Kiln.Simulator.Plant;

/// <summary>One reading, as posted to the Api.</summary>
internal sealed record PlantReading(string SensorId, DateTimeOffset Timestamp, double Value);

/// <summary>
/// The plant model and its excursions, one tick per second: <see cref="Step"/> gives every sensor's reading at the time it
/// is handed. Seeded, so a run can be repeated exactly.
/// </summary>
internal sealed class PlantSimulation(int seed, int firstExcursionAfterSeconds, int excursionEveryMinSeconds, int excursionEveryMaxSeconds)
{
    private readonly PlantModel _model = new(seed);
    private readonly ExcursionSchedule _excursions = new(seed + 1, firstExcursionAfterSeconds, excursionEveryMinSeconds, excursionEveryMaxSeconds, DemoPlant.Sensors);

    /// <summary>Ticks taken so far (seconds of plant time).</summary>
    public long Tick { get; private set; }

    /// <summary>The excursion under way, or the next one due.</summary>
    public Excursion Excursion => _excursions.Current;

    public IReadOnlyList<PlantReading> Step(DateTimeOffset at)
    {
        _model.Step();
        var excursion = _excursions.At(Tick);
        var readings = new PlantReading[DemoPlant.Sensors.Count];
        for (var i = 0; i < readings.Length; i++)
        {
            var id = DemoPlant.Sensors[i].Id;
            var value = _model.Measure(id);
            if (id == excursion.SensorId)
            {
                value = excursion.Apply(Tick, value);
            }

            readings[i] = new PlantReading(id, at, Math.Round(value, 3));
        }

        Tick++;
        return readings;
    }
}
