using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.ServiceDefaults;

/// <summary>The probe paths and tags shared by every service and the AppHost that polls them.</summary>
public static class HealthEndpoints
{
    public const string HealthPath = "/health";
    public const string AlivePath = "/alive";

    /// <summary>Checks with this tag answer <c>/alive</c>: the process is up, whatever its dependencies do.</summary>
    public const string LiveTag = "live";

    /// <summary>Checks with this tag are the dependencies a service needs to do its work.</summary>
    public const string ReadyTag = "ready";

    /// <summary>Writes every check's status and (safe) description, so a failing probe names its cause.</summary>
    internal static Task WriteReport(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description ?? e.Value.Exception?.Message }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, cancellationToken: context.RequestAborted);
    }
}
