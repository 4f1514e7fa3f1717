using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Storage;
using Kiln.Dashboard.Persistence;
using Kiln.Dashboard.ResourceService;

namespace Kiln.Dashboard.Frontend;

/// <summary>
/// The run a browser's telemetry pages show: the current one, or the past one it chose with the header's run selector
/// (remembered in a cookie, so every page follows it). A past run is read-only: no live updates, no pause or clear.
/// </summary>
internal sealed class SelectedRun(TelemetryRuns runs)
{
    public const string CookieName = "kiln-dashboard-run";

    private PastRun? _past;

    /// <summary>The past run shown, or null for the current one.</summary>
    public PastRun? Past => _past;

    public bool IsPast => _past is not null;

    /// <summary>A run the cookie named that is no longer kept: the pages say so and show the current run.</summary>
    public string? Missing { get; private set; }

    public ITelemetryStore Store => _past?.Store ?? runs.Current;

    public ConsoleLogStore Console => _past?.Console ?? runs.CurrentConsole;

    public RunSummary Summary => _past?.Summary ?? runs.CurrentSummary();

    public async Task ResolveAsync(HttpContext context)
    {
        if (context.Request.Cookies[CookieName] is not { Length: > 0 } runId || runId == runs.CurrentRunId)
        {
            return;
        }

        _past = RunSettings.IsRunId(runId) ? await runs.OpenPastAsync(runId, context.RequestAborted) : null;
        Missing = _past is null ? runId : null;
    }
}

/// <summary>
/// <c>GET /runs/select?runId=…&amp;returnUrl=…</c>: the header's run selector. An empty runId goes back to the current
/// run; an unknown one is a 404. The pages read the choice through <see cref="SelectedRun"/>, resolved before they render.
/// </summary>
internal static class RunSelection
{
    public const string Path = "/runs/select";

    public static IEndpointRouteBuilder MapRunSelection(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Path, (HttpContext context, TelemetryRuns runs, string? runId, string? returnUrl) =>
        {
            var back = returnUrl is { Length: > 0 } url && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) ? url : "/structuredlogs";
            if (string.IsNullOrEmpty(runId) || runId == runs.CurrentRunId)
            {
                context.Response.Cookies.Delete(SelectedRun.CookieName);
                return Results.Redirect(back);
            }

            if (!RunSettings.IsRunId(runId) || !runs.IsKnownPast(runId))
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Run not found",
                    detail: $"No run '{runId}' is kept; the runs page lists those that are.");
            }

            context.Response.Cookies.Append(SelectedRun.CookieName, runId, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                IsEssential = true,
            });
            return Results.Redirect(back);
        });
        return endpoints;
    }

    /// <summary>Resolves the chosen run before a page renders (pages render synchronously; reading a run file is not).</summary>
    public static IApplicationBuilder UseRunSelection(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Request.Cookies.ContainsKey(SelectedRun.CookieName) && !context.Request.Path.StartsWithSegments("/api"))
        {
            await context.RequestServices.GetRequiredService<SelectedRun>().ResolveAsync(context);
        }

        await next(context);
    });
}
