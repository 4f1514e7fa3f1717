using System.Globalization;
using Kiln.Dashboard.ResourceService.V1;
using Resource = Kiln.Dashboard.ResourceService.V1.Resource;

namespace Kiln.Dashboard.Components.Resources;

/// <summary>How the resource pages word and colour what the AppHost reports.</summary>
internal static class ResourceText
{
    /// <summary>The state with what qualifies it, as the AppHost words it ("Running (Unhealthy)", "Waiting for pg").</summary>
    public static string State(Resource resource) => resource.StateText is { Length: > 0 } text ? text : resource.State;

    /// <summary>The stylesheet's class for the state's style: ok, info, warn, error.</summary>
    public static string StateClass(Resource resource) => resource.StateStyle switch
    {
        "success" => "ok",
        "info" => "info",
        "warning" => "warn",
        "error" => "error",
        _ => "",
    };

    public static string Health(HealthStatus health) => health switch
    {
        HealthStatus.Healthy => "Healthy",
        HealthStatus.Degraded => "Degraded",
        HealthStatus.Unhealthy => "Unhealthy",
        _ => "Unknown",
    };

    public static string HealthClass(HealthStatus health) => health switch
    {
        HealthStatus.Healthy => "ok",
        HealthStatus.Degraded => "warn",
        HealthStatus.Unhealthy => "error",
        _ => "muted",
    };

    /// <summary>UTC, to the second: the AppHost's and the browser's clocks are the same machine's.</summary>
    public static string Time(Google.Protobuf.WellKnownTypes.Timestamp? time) =>
        time is null ? "" : time.ToDateTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>The commands a resource shows (not hidden), in start, stop, restart order.</summary>
    public static IEnumerable<ResourceCommand> Commands(Resource resource) =>
        resource.Commands.Where(c => c.State != ResourceCommandState.Hidden)
            .OrderBy(c => Array.IndexOf(ResourceService.ResourceEndpoints.Commands, c.Name) is var i && i < 0 ? int.MaxValue : i);

    /// <summary>An id fit for an element (focus is restored by it after a live refresh).</summary>
    public static string Id(string prefix, string name) =>
        prefix + "-" + string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_'));
}
