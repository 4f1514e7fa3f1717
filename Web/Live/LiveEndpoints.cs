namespace Kiln.Web.Live;

internal static class LiveEndpoints
{
    /// <summary><c>/live</c>: Server-Sent Events for signed-in operators (events <c>reading</c> and <c>alert</c>).</summary>
    public static IEndpointRouteBuilder MapLive(this IEndpointRouteBuilder app)
    {
        app.MapGet("/live", (LiveFeed feed, CancellationToken cancellationToken) => TypedResults.ServerSentEvents(feed.StreamAsync(cancellationToken)))
            .RequireAuthorization();
        return app;
    }
}
