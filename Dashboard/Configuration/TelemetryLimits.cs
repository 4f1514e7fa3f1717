using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Kiln.Dashboard.Configuration;

/// <summary>
/// How much telemetry the dashboard keeps in memory, with the Aspire dashboard's defaults and setting names
/// (<c>Dashboard:TelemetryLimits:MaxLogCount</c> …). Past a limit the oldest goes first.
/// </summary>
internal sealed record TelemetryLimits
{
    /// <summary>Structured log records kept, over every resource.</summary>
    public int MaxLogCount { get; init; } = 10_000;

    /// <summary>Traces kept (each with all its spans), over every resource.</summary>
    public int MaxTraceCount { get; init; } = 10_000;

    /// <summary>Metric data points kept, over every instrument of every resource.</summary>
    public int MaxMetricsCount { get; init; } = 50_000;

    /// <summary>Attributes kept per span, span event, link, log record and data point; the rest are counted as dropped.</summary>
    public int MaxAttributeCount { get; init; } = 128;

    /// <summary>Console lines kept per resource (in memory and in each stored run); not an Aspire setting.</summary>
    public int MaxConsoleLogCount { get; init; } = 10_000;

    public static TelemetryLimits Read(IConfigurationSection section)
    {
        var defaults = new TelemetryLimits();
        return new TelemetryLimits
        {
            MaxLogCount = Positive(section, nameof(MaxLogCount), defaults.MaxLogCount),
            MaxTraceCount = Positive(section, nameof(MaxTraceCount), defaults.MaxTraceCount),
            MaxMetricsCount = Positive(section, nameof(MaxMetricsCount), defaults.MaxMetricsCount),
            MaxAttributeCount = Positive(section, nameof(MaxAttributeCount), defaults.MaxAttributeCount),
            MaxConsoleLogCount = Positive(section, nameof(MaxConsoleLogCount), defaults.MaxConsoleLogCount),
        };
    }

    private static int Positive(IConfigurationSection section, string name, int fallback)
    {
        var text = section[name];
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new DashboardConfigurationException($"{section.Path}:{name} is '{text}'; it must be a whole number above 0.");
    }
}
