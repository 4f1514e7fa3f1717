using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Kiln.ServiceDefaults.Telemetry;

/// <summary>
/// ASP.NET Core's own server span lacks the route and a readable name without the (unavailable)
/// instrumentation package. This fills in what the instrumentation would: <c>http.route</c>, the
/// status code, a <c>GET /route</c> display name, and drops health probes from the trace stream.
/// </summary>
internal static class HttpServerActivityEnricher
{
    public static IApplicationBuilder UseHttpServerActivityEnricher(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var activity = context.Features.Get<IHttpActivityFeature>()?.Activity;
            if (activity is not null && IsHealthProbe(context.Request.Path))
            {
                activity.IsAllDataRequested = false;
                activity.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
            }

            try
            {
                await next(context);
            }
            finally
            {
                if (activity is { IsAllDataRequested: true })
                {
                    var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
                    if (route is not null)
                    {
                        activity.SetTag("http.route", route);
                        activity.DisplayName = $"{context.Request.Method} {route}";
                    }

                    activity.SetTag("http.response.status_code", context.Response.StatusCode);
                    if (context.Response.StatusCode >= 500)
                    {
                        activity.SetStatus(ActivityStatusCode.Error);
                    }
                }
            }
        });

    private static bool IsHealthProbe(PathString path) =>
        path.StartsWithSegments(HealthEndpoints.HealthPath) || path.StartsWithSegments(HealthEndpoints.AlivePath);
}
