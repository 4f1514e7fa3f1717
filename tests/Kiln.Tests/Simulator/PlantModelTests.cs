using Kiln.Api.Sensors;
using Kiln.Shared.Sensors;
using Kiln.Simulator.Plant;

namespace Kiln.Tests.Simulator;

/// <summary>The demo plant as pure code: valid for the Api, plausible, correlated, and leaving normal running only in excursions.</summary>
public sealed class PlantModelTests
{
    private const int Hours = 3600;

    [Fact]
    public void Every_sensor_and_rule_is_one_the_api_accepts()
    {
        Assert.Equal(DemoPlant.Sensors.Count, DemoPlant.Sensors.Select(s => s.Id).Distinct().Count());
        foreach (var sensor in DemoPlant.Sensors)
        {
            Assert.Null(SensorId.Validate(sensor.Id));
            Assert.Equal(DemoPlant.Site, sensor.Site);
            Assert.Null(new SensorDefinition(sensor.Site, sensor.Kind, sensor.Unit, sensor.Rule).Validate(sensor.Id));
        }

        // Kiln, raw mill, cement mill, clinker cooler, conveyor and stack, each with sensors that can alert.
        foreach (var asset in new[] { "kiln", "raw-mill", "cement-mill", "cooler", "conveyor", "stack" })
        {
            Assert.Contains(DemoPlant.Sensors, s => s.Id.StartsWith($"{DemoPlant.Site}.{asset}.", StringComparison.Ordinal) && s.Rule is not null);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(42)]
    [InlineData(20261124)]
    public void In_normal_running_every_value_stays_inside_its_rule_by_more_than_the_hysteresis(int seed)
    {
        var model = new PlantModel(seed);
        for (var tick = 0; tick < 6 * Hours; tick++)
        {
            model.Step();
            foreach (var sensor in DemoPlant.Sensors)
            {
                var value = model.Measure(sensor.Id);
                Assert.True(double.IsFinite(value) && value >= 0, $"{sensor.Id} = {value} at {tick} s");
                if (sensor.Rule is { } rule)
                {
                    Assert.True(rule.High is not { } high || value < high - rule.Hysteresis, $"{sensor.Id} = {value} at {tick} s, high {rule.High}");
                    Assert.True(rule.Low is not { } low || value > low + rule.Hysteresis, $"{sensor.Id} = {value} at {tick} s, low {rule.Low}");
                }
            }
        }
    }

    [Fact]
    public void The_same_seed_runs_the_same_plant()
    {
        var first = new PlantSimulation(7, 30, 180, 360);
        var second = new PlantSimulation(7, 30, 180, 360);
        var at = DateTimeOffset.UnixEpoch;
        for (var tick = 0; tick < 600; tick++)
        {
            Assert.Equal(first.Step(at), second.Step(at));
        }
    }

    [Fact]
    public void Drive_current_kiln_speed_and_cooler_follow_the_kiln_feed()
    {
        var series = Run(seed: 3, 4 * Hours, DemoPlant.KilnFeed, DemoPlant.DriveCurrent, DemoPlant.KilnSpeed, DemoPlant.GratePressure, DemoPlant.ClinkerTemperature);
        var feed = series[DemoPlant.KilnFeed];
        Assert.True(feed.Max() - feed.Min() > 20, $"the feed hardly moved: {feed.Min():0.0}–{feed.Max():0.0} t/h");
        foreach (var follower in new[] { DemoPlant.DriveCurrent, DemoPlant.KilnSpeed, DemoPlant.GratePressure, DemoPlant.ClinkerTemperature })
        {
            var r = Correlation(feed, series[follower], lag: 0);
            Assert.True(r > 0.6, $"{follower} correlates with the feed by only {r:0.00}");
        }
    }

    [Fact]
    public void The_conveyor_carries_the_kilns_output_a_minute_later()
    {
        var series = Run(seed: 5, 4 * Hours, DemoPlant.KilnFeed, DemoPlant.BeltLoad);
        var later = Correlation(series[DemoPlant.KilnFeed], series[DemoPlant.BeltLoad], lag: 60);
        var atOnce = Correlation(series[DemoPlant.KilnFeed], series[DemoPlant.BeltLoad], lag: 0);
        Assert.True(later > 0.8 && later > atOnce, $"load vs feed: {later:0.000} a minute later, {atOnce:0.000} at once");
    }

    [Fact]
    public void A_hotter_burning_zone_raises_nox_and_less_oxygen_raises_co()
    {
        var series = Run(seed: 11, 4 * Hours, DemoPlant.BurningZoneTemperature, DemoPlant.StackNox, DemoPlant.InletOxygen, DemoPlant.InletCarbonMonoxide);
        var nox = Correlation(series[DemoPlant.BurningZoneTemperature], series[DemoPlant.StackNox], lag: 30);
        var co = Correlation(series[DemoPlant.InletOxygen], series[DemoPlant.InletCarbonMonoxide], lag: 0);
        Assert.True(nox > 0.6, $"NOx vs burning zone: {nox:0.00}");
        Assert.True(co < -0.5, $"CO vs O2: {co:0.00}");
    }

    [Fact]
    public void An_excursion_crosses_its_threshold_and_comes_back_inside_by_the_hysteresis()
    {
        var simulation = new PlantSimulation(9, firstExcursionAfterSeconds: 30, 180, 360);
        var at = DateTimeOffset.UnixEpoch;
        var excursions = new List<(Excursion Excursion, bool Crossed, bool Recovered)>();
        for (var tick = 0; tick < 2 * Hours; tick++, at = at.AddSeconds(1))
        {
            var excursion = simulation.Excursion;
            var rule = DemoPlant.Sensor(excursion.SensorId).Rule!;
            var value = simulation.Step(at).Single(r => r.SensorId == excursion.SensorId).Value;
            if (excursions.Count == 0 || excursions[^1].Excursion != excursion)
            {
                excursions.Add((excursion, false, false));
            }

            var breached = rule.High is { } high ? value > high : value < rule.Low!.Value;
            var inside = rule.High is { } h ? value <= h - rule.Hysteresis : value >= rule.Low!.Value + rule.Hysteresis;
            var (e, crossed, recovered) = excursions[^1];
            excursions[^1] = (e, crossed || breached, recovered || (crossed && inside));
        }

        // The first comes 30 s after start, so a new user sees an alert within a minute; then one every 3 to 6 minutes.
        Assert.Equal(30, excursions[0].Excursion.StartTick);
        var finished = excursions.Where(e => e.Excursion.EndTick < 2 * Hours).ToList();
        Assert.InRange(finished.Count, 2 * 3600 / 360, 2 * 3600 / 180);
        Assert.All(finished, e => Assert.True(e.Crossed && e.Recovered, $"{e.Excursion}: crossed {e.Crossed}, came back {e.Recovered}"));
        Assert.True(finished.Select(e => e.Excursion.SensorId).Distinct().Count() > 10, "the excursions keep to a few sensors");
        Assert.Contains(finished, e => DemoPlant.Sensor(e.Excursion.SensorId).Rule!.High is null); // a low threshold crossed downwards too
    }

    [Fact]
    public void An_excursion_rises_holds_and_falls_back()
    {
        var excursion = new Excursion("cement1.kiln.shell-temp", StartTick: 100, Peak: 400);
        Assert.Equal(300, excursion.Apply(100, 300));
        Assert.Equal(400, excursion.Apply(100 + Excursion.RampSeconds, 300));
        Assert.Equal(400, excursion.Apply(100 + Excursion.RampSeconds + Excursion.HoldSeconds, 300));
        Assert.InRange(excursion.Apply(100 + Excursion.LengthSeconds - 1, 300), 300.1, 399.9);
        Assert.Equal(300, excursion.Apply(excursion.EndTick, 300));
    }

    private static Dictionary<string, double[]> Run(int seed, int ticks, params string[] sensors)
    {
        var model = new PlantModel(seed);
        var series = sensors.ToDictionary(s => s, _ => new double[ticks]);
        for (var tick = 0; tick < ticks; tick++)
        {
            model.Step();
            foreach (var sensor in sensors)
            {
                series[sensor][tick] = model.Measure(sensor);
            }
        }

        return series;
    }

    /// <summary>Pearson's r between <paramref name="cause"/> and <paramref name="effect"/> taken <paramref name="lag"/> ticks later.</summary>
    private static double Correlation(double[] cause, double[] effect, int lag)
    {
        var n = cause.Length - lag;
        var x = cause.AsSpan(0, n);
        var y = effect.AsSpan(lag, n);
        double mx = 0, my = 0;
        for (var i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
        mx /= n;
        my /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < n; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }

        return sxy / Math.Sqrt(sxx * syy);
    }
}
