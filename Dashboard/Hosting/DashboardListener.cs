namespace Kiln.Dashboard.Hosting;

/// <summary>The dashboard's three listeners, each on its own port, as the Aspire dashboard has them.</summary>
internal enum DashboardListener
{
    /// <summary>Pages, login and the HTTP API (<c>ASPNETCORE_URLS</c>).</summary>
    Frontend,

    /// <summary>OTLP/gRPC, HTTP/2 only (<c>ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL</c>).</summary>
    OtlpGrpc,

    /// <summary>OTLP/HTTP (<c>ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL</c>).</summary>
    OtlpHttp,
}

/// <summary>Which listener a connection came in on: set on the connection by Kestrel, read per request.</summary>
internal sealed record ListenerFeature(DashboardListener Listener);

/// <summary>Endpoint metadata: the listener an endpoint answers on. Endpoints without it answer on the frontend only.</summary>
internal sealed record ListenerMetadata(DashboardListener Listener);

internal static class ListenerRouting
{
    /// <summary>
    /// Answers 404 for an endpoint reached through another listener than its own (the API through the OTLP port, an
    /// export through the frontend's), so each port serves exactly its protocol. Runs after routing.
    /// </summary>
    public static IApplicationBuilder UseListenerRouting(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var listener = context.Features.Get<ListenerFeature>()?.Listener ?? DashboardListener.Frontend;
        var wanted = context.GetEndpoint()?.Metadata.GetMetadata<ListenerMetadata>()?.Listener ?? DashboardListener.Frontend;
        if (listener != wanted)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        return next(context);
    });
}
