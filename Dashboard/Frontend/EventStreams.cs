namespace Kiln.Dashboard.Frontend;

/// <summary>What every Server-Sent Events stream the pages follow does at its start and by which it ends.</summary>
internal static class EventStreams
{
    /// <summary>A stream ends when its page closes, or when the dashboard stops: an open page must not hold the stop.</summary>
    public static CancellationTokenSource EndOf(HttpContext context) => CancellationTokenSource.CreateLinkedTokenSource(
        context.RequestAborted, context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);

    /// <summary>Marks the response as an event stream that no cache or proxy holds back.</summary>
    public static void Start(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
    }
}
