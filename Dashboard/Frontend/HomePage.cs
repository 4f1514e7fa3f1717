using System.Globalization;
using System.Net;
using System.Text;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Frontend;

/// <summary>
/// <c>/</c>: what the dashboard holds now, per signal, and the resources that reported. A placeholder until the UI
/// pages (resources, console logs, structured logs, traces, metrics) are built on <see cref="ITelemetryStore"/>.
/// </summary>
internal static class HomePage
{
    public static IEndpointRouteBuilder MapHomePage(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", (ITelemetryStore store) =>
        {
            var counts = store.GetCounts();
            var limits = store.Limits;
            var html = new StringBuilder();
            html.Append("""
                <!DOCTYPE html>
                <html lang="en">
                <head><meta charset="utf-8"><title>Kiln dashboard</title>
                <style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}td,th{padding:.2rem .8rem;text-align:left}</style></head>
                <body><h1>Kiln dashboard</h1>
                <table><tr><th>signal</th><th>held</th><th>limit</th><th></th></tr>
                """);
            Row(html, "structured logs", $"{counts.Logs:N0}", $"{limits.MaxLogCount:N0}", store.IsPaused(TelemetrySignal.Logs));
            Row(html, "traces", $"{counts.Traces:N0} ({counts.Spans:N0} spans)", $"{limits.MaxTraceCount:N0}", store.IsPaused(TelemetrySignal.Traces));
            Row(html, "metric points", $"{counts.MetricPoints:N0} ({counts.Instruments:N0} instruments)", $"{limits.MaxMetricsCount:N0}", store.IsPaused(TelemetrySignal.Metrics));
            html.Append("</table><h2>Resources that sent telemetry</h2><ul>");
            foreach (var resource in store.GetResources())
            {
                html.Append(CultureInfo.InvariantCulture, $"<li>{WebUtility.HtmlEncode(resource.DisplayName)}</li>");
            }

            html.Append("</ul></body></html>");
            return Results.Content(html.ToString(), "text/html; charset=utf-8");
        });
        return endpoints;
    }

    private static void Row(StringBuilder html, string signal, string held, string limit, bool paused) =>
        html.Append(CultureInfo.InvariantCulture,
            $"<tr><td>{signal}</td><td>{held}</td><td>{limit}</td><td>{(paused ? "paused" : "")}</td></tr>");
}
