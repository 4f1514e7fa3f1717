using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;
using Kiln.Worker.Alerts;

namespace Kiln.Tests.Worker;

/// <summary>A rule applied to readings: when alerts open and close, and that nothing is evaluated twice.</summary>
public sealed class AlertEvaluatorTests
{
    private const string Sensor = "kiln1.burner.temp";
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 6, 0, 0, TimeSpan.Zero);

    private static List<AlertChange> Evaluate(AlertRule rule, SensorAlertState state, params double[] values) =>
        Evaluate(rule, state, values.Select((v, i) => new ReadingMessage(Sensor, T0.AddSeconds(i), v)).ToArray());

    private static List<AlertChange> Evaluate(AlertRule rule, SensorAlertState state, params ReadingMessage[] readings)
    {
        var changes = new List<AlertChange>();
        AlertEvaluator.Evaluate(Sensor, rule, state, readings, changes);
        return changes;
    }

    private static string Describe(IEnumerable<AlertChange> changes) =>
        string.Join(" ", changes.Select(c => $"{c.Transition}:{c.Condition}@{c.Value}"));

    [Fact]
    public void A_breach_opens_once_and_does_not_flap_inside_the_hysteresis_band()
    {
        var changes = Evaluate(new AlertRule(null, 100, Hysteresis: 5), new SensorAlertState(), 90, 101, 99, 102, 96, 100.5, 95, 94, 101);

        // 99, 96 and 100.5 are inside the band (above 95): the alert stays open; 95 closes it; 101 opens a new one.
        Assert.Equal("opened:high@101 closed:high@95 opened:high@101", Describe(changes));
        Assert.All(changes, c => Assert.Equal(AlertEvaluator.ThresholdSeverity, c.Severity));
    }

    [Fact]
    public void Low_thresholds_close_above_the_band()
    {
        var changes = Evaluate(new AlertRule(10, null, Hysteresis: 2), new SensorAlertState(), 12, 9, 11.9, 12, 8);

        Assert.Equal("opened:low@9 closed:low@12 opened:low@8", Describe(changes));
        Assert.Equal(10, changes[0].Threshold);
    }

    [Fact]
    public void Readings_are_evaluated_in_timestamp_order_whatever_order_they_arrive_in()
    {
        var rule = new AlertRule(null, 100);
        var changes = Evaluate(rule, new SensorAlertState(),
            new ReadingMessage(Sensor, T0.AddSeconds(2), 50), new ReadingMessage(Sensor, T0, 50), new ReadingMessage(Sensor, T0.AddSeconds(1), 150));

        Assert.Equal("opened:high@150 closed:high@50", Describe(changes));
        Assert.Equal(T0.AddSeconds(1), changes[0].At);
        Assert.Equal(T0.AddSeconds(2), changes[1].At);
    }

    [Fact]
    public void A_redelivered_duplicated_or_late_reading_changes_nothing()
    {
        var rule = new AlertRule(null, 100);
        var state = new SensorAlertState();
        var batch = new[] { new ReadingMessage(Sensor, T0, 150), new ReadingMessage(Sensor, T0.AddSeconds(1), 50) };
        Assert.Equal(2, Evaluate(rule, state, batch).Count);

        Assert.Empty(Evaluate(rule, state, batch)); // the same batch again
        Assert.Empty(Evaluate(rule, state, new ReadingMessage(Sensor, T0.AddMilliseconds(500), 500))); // late: before the newest evaluated
        Assert.Empty(Evaluate(rule, state, new ReadingMessage(Sensor, T0.AddSeconds(2), 60), new ReadingMessage(Sensor, T0.AddSeconds(2), 160)));
        Assert.Equal(T0.AddSeconds(2), state.EvaluatedThrough);
    }

    [Fact]
    public void A_rate_of_change_is_per_minute_between_consecutive_readings_and_carries_over_batches()
    {
        var rule = new AlertRule(null, null, RateOfChange: 60); // at most 60 units per minute: 1 per second
        var state = new SensorAlertState();

        Assert.Empty(Evaluate(rule, state, new ReadingMessage(Sensor, T0, 0), new ReadingMessage(Sensor, T0.AddSeconds(10), 10)));
        var changes = Evaluate(rule, state, new ReadingMessage(Sensor, T0.AddSeconds(20), 30), new ReadingMessage(Sensor, T0.AddSeconds(30), 35));

        Assert.Equal("opened:rate@30 closed:rate@35", Describe(changes));
        Assert.Equal(AlertEvaluator.RateSeverity, changes[0].Severity);
    }

    [Fact]
    public void A_condition_taken_out_of_the_rule_closes_at_the_next_reading()
    {
        var state = new SensorAlertState();
        Assert.Single(Evaluate(new AlertRule(null, 100), state, 150));

        var changes = Evaluate(new AlertRule(null, null, RateOfChange: 1000), new SensorAlertState { EvaluatedThrough = state.EvaluatedThrough, LastValue = 150, Open = { "high" } },
            new ReadingMessage(Sensor, T0.AddSeconds(5), 160));

        Assert.Equal("closed:high@160", Describe(changes));
    }
}
