using System.Globalization;
using System.Text;
using Kiln.Web.Api;

namespace Kiln.Web.Sensors;

/// <summary>
/// Where a series of rollups lands in an SVG of <see cref="Width"/> × <see cref="Height"/>: time runs left to right over
/// [from, to], values bottom to top over the data's range (widened to include the rule's thresholds, so a breach is seen
/// against its line). Pure: the page only writes out what this computes.
/// </summary>
internal sealed class ChartGeometry
{
    public const double Width = 720;
    public const double Height = 240;
    private const double Pad = 8;

    private readonly DateTimeOffset _from;
    private readonly DateTimeOffset _to;

    public ChartGeometry(IReadOnlyList<RollupPoint> points, DateTimeOffset from, DateTimeOffset to, params double?[] thresholds)
    {
        _from = from;
        _to = to;
        var values = points.SelectMany(p => new[] { p.Min, p.Max }).Concat(thresholds.OfType<double>()).ToList();
        Low = values.Count == 0 ? 0 : values.Min();
        High = values.Count == 0 ? 1 : values.Max();
        if (High - Low < 1e-9)
        {
            (Low, High) = (Low - 1, High + 1);
        }

        Average = Polyline(points.Select(p => (p.Start, p.Avg)));
        // The min–max band: along the maxima, back along the minima.
        Band = Polyline(points.Select(p => (p.Start, p.Max)).Concat(points.Reverse().Select(p => (p.Start, p.Min))));
    }

    public double Low { get; }
    public double High { get; }

    /// <summary>The averages, as the <c>points</c> of a polyline.</summary>
    public string Average { get; }

    /// <summary>Between minimum and maximum, as the <c>points</c> of a polygon.</summary>
    public string Band { get; }

    public double Y(double value) => Pad + ((High - value) / (High - Low) * (Height - (2 * Pad)));

    public double X(DateTimeOffset at) => Pad + ((at - _from) / (_to - _from) * (Width - (2 * Pad)));

    public static string Format(double coordinate) => coordinate.ToString("0.#", CultureInfo.InvariantCulture);

    private string Polyline(IEnumerable<(DateTimeOffset At, double Value)> points)
    {
        var text = new StringBuilder();
        foreach (var (at, value) in points)
        {
            text.Append(Format(X(at))).Append(',').Append(Format(Y(value))).Append(' ');
        }

        return text.ToString().TrimEnd();
    }
}
