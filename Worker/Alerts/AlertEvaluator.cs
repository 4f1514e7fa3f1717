using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;

namespace Kiln.Worker.Alerts;

/// <summary>Where one sensor's evaluation stands: its newest evaluated reading and the conditions it has an open alert for.</summary>
internal sealed class SensorAlertState
{
    public DateTimeOffset? EvaluatedThrough { get; set; }

    public double? LastValue { get; set; }

    public HashSet<string> Open { get; } = new(StringComparer.Ordinal);

    public SensorAlertState Copy()
    {
        var copy = new SensorAlertState { EvaluatedThrough = EvaluatedThrough, LastValue = LastValue };
        copy.Open.UnionWith(Open);
        return copy;
    }
}

/// <summary>An alert to open or close, made by one reading.</summary>
internal readonly record struct AlertChange(
    string SensorId, string Condition, string Severity, double Threshold, string Transition, DateTimeOffset At, double Value);

/// <summary>
/// A sensor's rule applied to its readings in timestamp order. Only readings after the newest one evaluated count: a
/// redelivered, duplicated or late reading can neither open nor close an alert a second time. Pure: the caller loads and
/// saves the state in the same transaction as the changes.
/// </summary>
internal static class AlertEvaluator
{
    public const string ThresholdSeverity = "critical";
    public const string RateSeverity = "warning";

    /// <summary>Applies <paramref name="rule"/> to <paramref name="readings"/> (any order), updating <paramref name="state"/>.</summary>
    public static void Evaluate(string sensorId, AlertRule rule, SensorAlertState state, IEnumerable<ReadingMessage> readings, List<AlertChange> changes)
    {
        foreach (var reading in readings.OrderBy(r => r.Timestamp))
        {
            if (reading.Timestamp <= state.EvaluatedThrough)
            {
                continue; // already evaluated, or the same timestamp twice in one batch
            }

            void Set(string condition, bool open, bool recovered, string severity, double threshold)
            {
                if (!state.Open.Contains(condition) && open)
                {
                    state.Open.Add(condition);
                    changes.Add(new AlertChange(sensorId, condition, severity, threshold, AlertTransitions.Opened, reading.Timestamp, reading.Value));
                }
                else if (state.Open.Contains(condition) && recovered)
                {
                    state.Open.Remove(condition);
                    changes.Add(new AlertChange(sensorId, condition, severity, threshold, AlertTransitions.Closed, reading.Timestamp, reading.Value));
                }
            }

            var value = reading.Value;
            // A condition the rule no longer has closes at the next reading: nothing could close it otherwise.
            Set(AlertConditions.High, value > rule.High, rule.High is not { } high || value <= high - rule.Hysteresis, ThresholdSeverity, rule.High ?? 0);
            Set(AlertConditions.Low, value < rule.Low, rule.Low is not { } low || value >= low + rule.Hysteresis, ThresholdSeverity, rule.Low ?? 0);
            if (state is { EvaluatedThrough: { } previousAt, LastValue: { } previous } && rule.RateOfChange is { } limit)
            {
                var perMinute = Math.Abs(value - previous) / (reading.Timestamp - previousAt).TotalMinutes;
                Set(AlertConditions.Rate, perMinute > limit, perMinute <= limit, RateSeverity, limit);
            }
            else if (rule.RateOfChange is null)
            {
                Set(AlertConditions.Rate, open: false, recovered: true, RateSeverity, 0);
            }

            state.EvaluatedThrough = reading.Timestamp;
            state.LastValue = value;
        }
    }
}
