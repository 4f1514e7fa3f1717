using System.Text.Json;
using Kiln.Dashboard.Components.Telemetry;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Frontend;

/// <summary>
/// What keeps the Structured logs page live: <c>GET /structuredlogs/stream</c>, server-sent events (one JSON row per
/// new log) over <see cref="ITelemetryStore.WatchLogsAsync"/>, with the page's filters (<c>resource</c>, <c>level</c>,
/// <c>text</c>, <c>traceId</c>) and <c>after</c>, the newest sequence the page already shows. Needs the login cookie.
/// </summary>
internal static class StructuredLogStream
{
    public const string Path = "/structuredlogs/stream";

    public static IEndpointRouteBuilder MapStructuredLogStream(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Path, async (HttpContext context, ITelemetryStore store, string? resource, string? level, string? text, string? traceId, string? after) =>
        {
            var minSeverity = TelemetryView.MinSeverity(level);
            if (!string.IsNullOrEmpty(level) && minSeverity is null)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                    detail: $"level is '{level}'; it must be one of {string.Join(", ", TelemetryView.Levels)}.");
            }

            long afterSequence = 0;
            if (!string.IsNullOrEmpty(after) && !long.TryParse(after, out afterSequence))
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                    detail: $"after is '{after}'; it must be a log's sequence number.");
            }

            var query = new LogQuery(string.IsNullOrEmpty(resource) ? null : [resource], string.IsNullOrEmpty(traceId) ? null : traceId, minSeverity);
            // Ends when the page goes away or the dashboard stops (an open page must not hold the stop).
            var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            using var end = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            await response.Body.FlushAsync(end.Token);
            try
            {
                await foreach (var log in store.WatchLogsAsync(query, end.Token))
                {
                    if (log.Sequence <= afterSequence || !TelemetryView.LogContains(log, text))
                    {
                        continue;
                    }

                    var row = JsonSerializer.Serialize(new
                    {
                        sequence = log.Sequence,
                        time = TelemetryView.TimeText(log.Record.TimeUnixNano != 0 ? log.Record.TimeUnixNano : log.Record.ObservedTimeUnixNano),
                        resource = log.Resource.DisplayName,
                        colour = TelemetryView.Colour(log.Resource),
                        level = TelemetryView.Level(log.Record),
                        levelClass = TelemetryView.LevelClass(log.Record),
                        message = TelemetryView.Message(log.Record),
                        traceId = log.TraceId,
                    });
                    await response.WriteAsync($"id: {log.Sequence}\ndata: {row}\n\n", end.Token);
                    await response.Body.FlushAsync(end.Token);
                }
            }
            catch (OperationCanceledException) when (end.IsCancellationRequested)
            {
                // The page went away, or the dashboard is stopping.
            }

            return Results.Empty;
        });
        return endpoints;
    }
}
