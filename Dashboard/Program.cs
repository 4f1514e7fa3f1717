using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Hosting;

// The Kiln dashboard: an OTLP viewer (gRPC and HTTP/protobuf in, an HTTP API and pages out), run by the AppHost first,
// or alone: dotnet run --project Dashboard.
DashboardWebApplication dashboard;
try
{
    dashboard = DashboardWebApplication.Create(args);
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
