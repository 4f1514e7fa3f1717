namespace Kiln.Dashboard.Frontend;

/// <summary>
/// The pages' small scripts (a page's live region rendered again on each server-sent event: resources, traces,
/// metrics; the console log view), compiled into the assembly as the
/// stylesheet is and served at <c>/js/&lt;name&gt;.js</c>. Behind the login: only the dashboard's own pages load them.
/// </summary>
internal static class DashboardScripts
{
    public const string Live = "/js/live.js";
    public const string ConsoleLogs = "/js/console-logs.js";

    public static IEndpointRouteBuilder MapDashboardScripts(this IEndpointRouteBuilder endpoints)
    {
        foreach (var path in new[] { Live, ConsoleLogs })
        {
            var file = path[4..];
            using var stream = typeof(DashboardScripts).Assembly.GetManifestResourceStream($"Kiln.Dashboard.{file}")
                ?? throw new InvalidOperationException($"The dashboard's script {file} is not in its assembly.");
            using var reader = new StreamReader(stream);
            var script = reader.ReadToEnd();
            endpoints.MapGet(path, () => Results.Text(script, "text/javascript; charset=utf-8"));
        }

        return endpoints;
    }
}
