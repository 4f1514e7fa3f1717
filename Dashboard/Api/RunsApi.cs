using Kiln.Dashboard.Authentication;
using Kiln.Dashboard.Persistence;

namespace Kiln.Dashboard.Api;

/// <summary>
/// <c>GET /api/runs</c> (Kiln's, beside <c>/api/resources</c>; Aspire's telemetry API has no run listing): the current run
/// and the kept past ones, newest first, with what each holds — the <c>runId</c> values the telemetry API takes — and,
/// for the current run, how many received items its file's writer has still to write.
/// </summary>
internal static class RunsApi
{
    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/runs", (TelemetryRuns runs) =>
            Results.Json(new[] { (runs.CurrentSummary(), true) }.Concat(runs.Past.Select(r => (r, false))).Select(run => new
            {
                runId = run.Item1.RunId,
                startedAt = run.Item1.StartedAt,
                current = run.Item2,
                traces = run.Item1.Traces,
                spans = run.Item1.Spans,
                logs = run.Item1.Logs,
                metricPoints = run.Item1.MetricPoints,
                consoleLines = run.Item1.ConsoleLines,
                // The current run's items received and not yet in its file (0 when written through; null for a past run).
                pendingWrites = run.Item2 ? runs.Writer?.Pending ?? 0 : (long?)null,
            }))).RequireAuthorization(DashboardPolicies.Api);
        return endpoints;
    }
}
