namespace Kiln.Shared.Alerts;

/// <summary>
/// A sensor's alert rule, stored with the sensor as JSON. A reading above <see cref="High"/> or below <see cref="Low"/> opens
/// a critical alert, which closes once a reading is back inside by at least <see cref="Hysteresis"/> (so a value hovering at
/// the threshold does not flap). A change faster than <see cref="RateOfChange"/> units per minute between two consecutive
/// readings opens a warning, which closes at the first change within it again.
/// </summary>
public sealed record AlertRule(double? Low, double? High, double Hysteresis = 0, double? RateOfChange = null)
{
    /// <summary>Null when the rule can work, else why not.</summary>
    public string? Validate()
    {
        double?[] values = [Low, High, Hysteresis, RateOfChange];
        if (values.Any(v => v is { } x && !double.IsFinite(x)))
        {
            return "rule values must be finite numbers";
        }

        if (Hysteresis < 0)
        {
            return "rule.hysteresis must not be negative";
        }

        if (Low is { } low && High is { } high && low >= high)
        {
            return "rule.low must be below rule.high";
        }

        if (RateOfChange is <= 0)
        {
            return "rule.rateOfChange (units per minute) must be positive";
        }

        return null;
    }
}

/// <summary>What an alert is about.</summary>
public static class AlertConditions
{
    public const string High = "high";
    public const string Low = "low";
    public const string Rate = "rate";
}

/// <summary>What happened to an alert, as <c>kiln.alerts</c> and the live channel carry it.</summary>
public static class AlertTransitions
{
    public const string Opened = "opened";
    public const string Acknowledged = "acknowledged";
    public const string Closed = "closed";
}

/// <summary>
/// One transition as it travels on <c>kiln.alerts</c> (key = sensor id, in transition order) and on the live channel.
/// <see cref="TransitionId"/> is unique and increasing: a consumer can tell a transition it has seen.
/// </summary>
public sealed record AlertTransitionMessage(
    long TransitionId, long AlertId, string SensorId, string Site, string Condition, string Severity, double Threshold,
    string Transition, DateTimeOffset At, double? Value, string? By);
