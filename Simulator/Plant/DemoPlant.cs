using Kiln.Shared.Alerts;

namespace Kiln.Simulator.Plant;

/// <summary>One sensor of the demo plant, as the Api is told about it (<c>PUT /api/v1/sensors/{id}</c>).</summary>
internal sealed record PlantSensor(string Id, string Kind, string Unit, AlertRule? Rule)
{
    public string Site => Id[..Id.IndexOf('.', StringComparison.Ordinal)];
}

/// <summary>
/// The demo cement plant: one site, its kiln, raw mill, cement mill, clinker cooler, conveyor and stack. The rules sit well
/// outside what the plant does in normal running (<see cref="PlantModel"/>), so that only an excursion opens an alert.
/// </summary>
internal static class DemoPlant
{
    public const string Site = "cement1";

    public const string KilnFeed = Site + ".kiln.feed-rate";
    public const string BurningZoneTemperature = Site + ".kiln.burning-zone-temp";
    public const string ShellTemperature = Site + ".kiln.shell-temp";
    public const string DriveCurrent = Site + ".kiln.drive-current";
    public const string KilnSpeed = Site + ".kiln.speed";
    public const string InletOxygen = Site + ".kiln.inlet-o2";
    public const string InletCarbonMonoxide = Site + ".kiln.inlet-co";
    public const string RawMillFeed = Site + ".raw-mill.feed-rate";
    public const string RawMillPower = Site + ".raw-mill.power";
    public const string RawMillOutletTemperature = Site + ".raw-mill.outlet-temp";
    public const string CementMillPower = Site + ".cement-mill.power";
    public const string SeparatorSpeed = Site + ".cement-mill.separator-speed";
    public const string CementMillOutletTemperature = Site + ".cement-mill.outlet-temp";
    public const string GratePressure = Site + ".cooler.grate-pressure";
    public const string ClinkerTemperature = Site + ".cooler.clinker-temp";
    public const string BeltSpeed = Site + ".conveyor.belt-speed";
    public const string BeltLoad = Site + ".conveyor.load";
    public const string StackNox = Site + ".stack.nox";
    public const string StackSo2 = Site + ".stack.so2";
    public const string StackDust = Site + ".stack.dust";

    public static readonly IReadOnlyList<PlantSensor> Sensors =
    [
        new(KilnFeed, "flow", "t/h", null),
        new(BurningZoneTemperature, "temperature", "°C", new AlertRule(Low: 1350, High: 1530, Hysteresis: 10)),
        new(ShellTemperature, "temperature", "°C", new AlertRule(Low: null, High: 380, Hysteresis: 5)),
        new(DriveCurrent, "current", "A", new AlertRule(Low: null, High: 600, Hysteresis: 10)),
        new(KilnSpeed, "speed", "rpm", new AlertRule(Low: 3.0, High: 4.3, Hysteresis: 0.05)),
        new(InletOxygen, "concentration", "%", new AlertRule(Low: 1.0, High: 6.0, Hysteresis: 0.2)),
        new(InletCarbonMonoxide, "concentration", "ppm", new AlertRule(Low: null, High: 1000, Hysteresis: 50)),
        new(RawMillFeed, "flow", "t/h", null),
        new(RawMillPower, "power", "kW", new AlertRule(Low: null, High: 4200, Hysteresis: 50)),
        new(RawMillOutletTemperature, "temperature", "°C", new AlertRule(Low: null, High: 110, Hysteresis: 2)),
        new(CementMillPower, "power", "kW", new AlertRule(Low: null, High: 5200, Hysteresis: 50)),
        new(SeparatorSpeed, "speed", "rpm", new AlertRule(Low: 850, High: 1150, Hysteresis: 10)),
        new(CementMillOutletTemperature, "temperature", "°C", new AlertRule(Low: null, High: 125, Hysteresis: 2)),
        new(GratePressure, "pressure", "mbar", new AlertRule(Low: null, High: 70, Hysteresis: 2)),
        new(ClinkerTemperature, "temperature", "°C", new AlertRule(Low: null, High: 180, Hysteresis: 5)),
        new(BeltSpeed, "speed", "m/s", new AlertRule(Low: 1.2, High: null, Hysteresis: 0.05)),
        new(BeltLoad, "flow", "t/h", new AlertRule(Low: null, High: 260, Hysteresis: 5)),
        new(StackNox, "emission", "mg/Nm³", new AlertRule(Low: null, High: 800, Hysteresis: 20)),
        new(StackSo2, "emission", "mg/Nm³", new AlertRule(Low: null, High: 400, Hysteresis: 10)),
        new(StackDust, "emission", "mg/Nm³", new AlertRule(Low: null, High: 20, Hysteresis: 1)),
    ];

    public static PlantSensor Sensor(string id) => Sensors.Single(s => s.Id == id);
}
