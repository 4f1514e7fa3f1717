using Google.Protobuf;
using Kiln.Dashboard.Otlp.Proto.Metrics;

namespace Kiln.Dashboard.Persistence;

/// <summary>
/// A metric as an instrument is stored: its name, description, unit and kind with the kind's settings (temporality,
/// monotonic), without points; each point is stored on its own and put back into a copy of the shell when read.
/// </summary>
internal static class MetricShell
{
    public static Metric Of(Metric metric)
    {
        var shell = new Metric { Name = metric.Name, Description = metric.Description, Unit = metric.Unit };
        switch (metric.DataCase)
        {
            case Metric.DataOneofCase.Gauge: shell.Gauge = new Gauge(); break;
            case Metric.DataOneofCase.Sum: shell.Sum = new Sum { AggregationTemporality = metric.Sum.AggregationTemporality, IsMonotonic = metric.Sum.IsMonotonic }; break;
            case Metric.DataOneofCase.Histogram: shell.Histogram = new Histogram { AggregationTemporality = metric.Histogram.AggregationTemporality }; break;
            case Metric.DataOneofCase.ExponentialHistogram:
                shell.ExponentialHistogram = new ExponentialHistogram { AggregationTemporality = metric.ExponentialHistogram.AggregationTemporality };
                break;
            case Metric.DataOneofCase.Summary: shell.Summary = new Summary(); break;
        }

        return shell;
    }

    public static IEnumerable<IMessage> Points(Metric metric) => metric.DataCase switch
    {
        Metric.DataOneofCase.Gauge => metric.Gauge.DataPoints,
        Metric.DataOneofCase.Sum => metric.Sum.DataPoints,
        Metric.DataOneofCase.Histogram => metric.Histogram.DataPoints,
        Metric.DataOneofCase.ExponentialHistogram => metric.ExponentialHistogram.DataPoints,
        Metric.DataOneofCase.Summary => metric.Summary.DataPoints,
        _ => [],
    };

    /// <summary>A copy of the shell holding the stored points (protobuf bytes, in order).</summary>
    public static Metric WithPoints(Metric shell, IEnumerable<byte[]> points)
    {
        var metric = shell.Clone();
        foreach (var bytes in points)
        {
            switch (metric.DataCase)
            {
                case Metric.DataOneofCase.Gauge: metric.Gauge.DataPoints.Add(NumberDataPoint.Parser.ParseFrom(bytes)); break;
                case Metric.DataOneofCase.Sum: metric.Sum.DataPoints.Add(NumberDataPoint.Parser.ParseFrom(bytes)); break;
                case Metric.DataOneofCase.Histogram: metric.Histogram.DataPoints.Add(HistogramDataPoint.Parser.ParseFrom(bytes)); break;
                case Metric.DataOneofCase.ExponentialHistogram:
                    metric.ExponentialHistogram.DataPoints.Add(ExponentialHistogramDataPoint.Parser.ParseFrom(bytes));
                    break;
                case Metric.DataOneofCase.Summary: metric.Summary.DataPoints.Add(SummaryDataPoint.Parser.ParseFrom(bytes)); break;
            }
        }

        return metric;
    }
}
