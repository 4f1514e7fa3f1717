using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Hosting;

// The Kiln dashboard: an OTLP viewer (gRPC and HTTP/protobuf in, an HTTP API and pages out), run by the AppHost first,
// or alone: dotnet run --project Dashboard.
// The frontend's ASPNETCORE_URLS is read as a setting; left in the environment, Kestrel would also try to bind it and
// warn that the dashboard's own listeners override it.
var settings = new Dictionary<string, string?>();
if (Environment.GetEnvironmentVariable("ASPNETCORE_URLS") is { Length: > 0 } urls)
{
    settings["ASPNETCORE_URLS"] = urls;
    Environment.SetEnvironmentVariable("ASPNETCORE_URLS", null);
}

DashboardWebApplication dashboard;
try
{
    dashboard = DashboardWebApplication.Create(args, settings);
}
catch (DashboardConfigurationException ex)
{
    Console.Error.WriteLine($"dashboard: {ex.Message}");
    return 1;
}

await using (dashboard)
{
    await dashboard.RunAsync();
}

return 0;
