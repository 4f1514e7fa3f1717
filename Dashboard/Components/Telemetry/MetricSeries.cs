using System.Globalization;
using System.Text;
using Google.Protobuf.Collections;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Metrics;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Components.Telemetry;

/// <summary>One instrument's points as series, one per attribute set, each point a value to chart.</summary>
internal sealed class MetricSeries
{
    public const int MaxSeries = 8;

    private MetricSeries(string attributes, IReadOnlyList<(ulong Time, double Value, IReadOnlyList<string> Details)> points)
    {
        Attributes = attributes;
        Points = points;
    }

    /// <summary>The attribute set as <c>key=value, …</c> (empty when the points have none).</summary>
    public string Attributes { get; }

    public IReadOnlyList<(ulong Time, double Value, IReadOnlyList<string> Details)> Points { get; }

    public (ulong Time, double Value, IReadOnlyList<string> Details) Latest => Points[^1];

    /// <summary>What the chart plots for the instrument's kind.</summary>
    public static string ValueName(Metric.DataOneofCase kind) => kind switch
    {
        Metric.DataOneofCase.Sum => "sum",
        Metric.DataOneofCase.Gauge => "value",
        _ => "average (sum ÷ count)",
    };

    /// <summary>What the latest-values table shows besides the value, per kind.</summary>
    public static IReadOnlyList<string> DetailNames(Metric.DataOneofCase kind) => kind switch
    {
        Metric.DataOneofCase.Sum or Metric.DataOneofCase.Gauge => [],
        _ => ["count", "sum"],
    };

    public static IReadOnlyList<MetricSeries> From(MetricInstrumentSnapshot instrument)
    {
        var groups = new Dictionary<string, List<(ulong, double, IReadOnlyList<string>)>>(StringComparer.Ordinal);
        foreach (var point in instrument.Points)
        {
            if (Read(point) is not { } read)
            {
                continue;
            }

            var (attributes, value, details) = read;

            var key = TelemetryView.Attributes(attributes);
            if (!groups.TryGetValue(key, out var list))
            {
                groups[key] = list = [];
            }

            list.Add((point.TimeUnixNano, value, details));
        }

        return [.. groups.Select(g => new MetricSeries(g.Key, [.. g.Value.OrderBy(p => p.Item1)])).OrderBy(s => s.Attributes, StringComparer.Ordinal)];
    }

    private static (RepeatedField<KeyValue> Attributes, double Value, IReadOnlyList<string> Details)? Read(MetricPoint point) => point.DataPoint switch
    {
        NumberDataPoint n => (n.Attributes, n.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? n.AsInt : n.AsDouble, []),
        HistogramDataPoint h => (h.Attributes, Average(h.Count, h.HasSum ? h.Sum : 0), [TelemetryView.Count((long)h.Count), TelemetryView.Number(h.Sum)]),
        ExponentialHistogramDataPoint e => (e.Attributes, Average(e.Count, e.HasSum ? e.Sum : 0), [TelemetryView.Count((long)e.Count), TelemetryView.Number(e.Sum)]),
        SummaryDataPoint s => (s.Attributes, Average(s.Count, s.Sum), [TelemetryView.Count((long)s.Count), TelemetryView.Number(s.Sum)]),
        _ => null,
    };

    private static double Average(ulong count, double sum) => count == 0 ? 0 : sum / count;

    /// <summary>
    /// A line chart of the first <see cref="MaxSeries"/> series on shared axes, as SVG markup built from numbers only (no
    /// telemetry text goes into it, so nothing needs escaping).
    /// </summary>
    public static string Svg(IReadOnlyList<MetricSeries> series, int width = 820, int height = 260)
    {
        var shown = series.Take(MaxSeries).Where(s => s.Points.Count > 0).ToList();
        const int left = 70, right = 10, top = 10, bottom = 30;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"chart\">");
        if (shown.Count == 0)
        {
            svg.Append("</svg>");
            return svg.ToString();
        }

        var t0 = shown.Min(s => s.Points[0].Time);
        var t1 = shown.Max(s => s.Points[^1].Time);
        var min = Math.Min(0, shown.Min(s => s.Points.Min(p => p.Value)));
        var max = shown.Max(s => s.Points.Max(p => p.Value));
        if (max <= min)
        {
            max = min + 1;
        }

        double X(ulong t) => left + (t1 == t0 ? (width - left - right) / 2d : (t - t0) / (double)(t1 - t0) * (width - left - right));
        double Y(double v) => top + (1 - ((v - min) / (max - min))) * (height - top - bottom);
        var axis = "stroke=\"currentColor\" stroke-opacity=\"0.4\"";
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" {axis}/>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" {axis}/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{top + 10}\" text-anchor=\"end\" font-size=\"11\" fill=\"currentColor\">{TelemetryView.Number(max)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 4}\" y=\"{height - bottom}\" text-anchor=\"end\" font-size=\"11\" fill=\"currentColor\">{TelemetryView.Number(min)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{height - 10}\" font-size=\"11\" fill=\"currentColor\">{TelemetryView.Time(t0):HH:mm:ss}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width - right}\" y=\"{height - 10}\" text-anchor=\"end\" font-size=\"11\" fill=\"currentColor\">{TelemetryView.Time(t1):HH:mm:ss}</text>");
        for (var i = 0; i < shown.Count; i++)
        {
            var colour = TelemetryView.Colour(i.ToString(CultureInfo.InvariantCulture));
            var points = string.Join(" ", shown[i].Points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{X(p.Time):0.#},{Y(p.Value):0.#}")));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline class=\"series\" data-series=\"{i}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{points}\"/>");
            if (shown[i].Points.Count == 1)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{X(shown[i].Points[0].Time):0.#}\" cy=\"{Y(shown[i].Points[0].Value):0.#}\" r=\"3\" fill=\"{colour}\"/>");
            }
        }

        svg.Append("</svg>");
        return svg.ToString();
    }

    public static string SeriesColour(int index) => TelemetryView.Colour(index.ToString(CultureInfo.InvariantCulture));
}
