using Kiln.Dashboard.Authentication;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Api;

/// <summary>
/// <c>GET /api/resources</c> (Kiln's, for CI): <c>[{"name","type","state","health","urls","pid","restarts"}]</c> behind the
/// same <c>X-API-Key</c> as the telemetry API.
/// <para>
/// For now it knows only what telemetry tells: the names of the resources that reported, with <c>state</c> "Running"
/// for those and nothing it cannot know (type, health, urls, pid, restarts are null or empty). The resource-service
/// slice replaces <see cref="FromTelemetry"/> with the AppHost's own view (WatchResources).
/// </para>
/// </summary>
internal static class ResourcesApi
{
    public static IEndpointRouteBuilder MapResourcesApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/resources", (ITelemetryStore store) => Results.Json(FromTelemetry(store)))
            .RequireAuthorization(DashboardPolicies.Api);
        return endpoints;
    }

    internal sealed record ResourceSummary(string Name, string? Type, string? State, string? Health, IReadOnlyList<string> Urls, int? Pid, int? Restarts);

    private static IEnumerable<ResourceSummary> FromTelemetry(ITelemetryStore store) =>
        store.GetResources()
            .GroupBy(r => r.Name, StringComparer.Ordinal)
            .Select(g => new ResourceSummary(g.Key, Type: null, State: null, Health: null, Urls: [], Pid: null, Restarts: null));
}
