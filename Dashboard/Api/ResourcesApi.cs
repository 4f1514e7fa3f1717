using Kiln.Dashboard.Authentication;
using Kiln.Dashboard.ResourceService;
using Kiln.Dashboard.ResourceService.V1;
using Resource = Kiln.Dashboard.ResourceService.V1.Resource;

namespace Kiln.Dashboard.Api;

/// <summary>
/// <c>GET /api/resources</c> (Kiln's, for CI): <c>[{"name","type","state","health","urls","pid","restarts"}]</c> behind the
/// same <c>X-API-Key</c> as the telemetry API, from the AppHost's resource service (<see cref="ResourceCatalog"/>): every
/// resource the AppHost runs, whether or not it sends telemetry. A dashboard started alone has none and answers <c>[]</c>.
/// </summary>
internal static class ResourcesApi
{
    public static IEndpointRouteBuilder MapResourcesApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/resources", (ResourceCatalog catalog) => Results.Json(catalog.Resources.Select(Summarise)))
            .RequireAuthorization(DashboardPolicies.Api);
        return endpoints;
    }

    /// <param name="Health">Healthy, Degraded or Unhealthy; null before a first check and while not running.</param>
    internal sealed record ResourceSummary(string Name, string Type, string State, string? Health, IReadOnlyList<string> Urls, int? Pid, int Restarts);

    internal static ResourceSummary Summarise(Resource resource) => new(
        resource.Name,
        resource.ResourceType,
        resource.State,
        HealthText(resource.HealthStatus),
        [.. resource.Urls.Select(u => u.FullUrl)],
        resource.HasProcessId ? resource.ProcessId : null,
        resource.Restarts);

    internal static string? HealthText(HealthStatus health) => health switch
    {
        HealthStatus.Healthy => "Healthy",
        HealthStatus.Degraded => "Degraded",
        HealthStatus.Unhealthy => "Unhealthy",
        _ => null,
    };
}
