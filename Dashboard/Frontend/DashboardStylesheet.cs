namespace Kiln.Dashboard.Frontend;

/// <summary>
/// The pages' one stylesheet, compiled into the assembly and served from it: the dashboard runs from its build output in
/// any environment, where a wwwroot folder is not found outside Development.
/// </summary>
internal static class DashboardStylesheet
{
    public const string Path = "/dashboard.css";

    public static IEndpointRouteBuilder MapDashboardStylesheet(this IEndpointRouteBuilder endpoints)
    {
        using var stream = typeof(DashboardStylesheet).Assembly.GetManifestResourceStream("Kiln.Dashboard.dashboard.css")
            ?? throw new InvalidOperationException("The dashboard's stylesheet is not in its assembly.");
        using var reader = new StreamReader(stream);
        var css = reader.ReadToEnd();
        // Anyone may have the stylesheet: the login page uses it too, and it holds nothing of the telemetry.
        endpoints.MapGet(Path, () => Results.Text(css, "text/css; charset=utf-8")).AllowAnonymous();
        return endpoints;
    }
}
