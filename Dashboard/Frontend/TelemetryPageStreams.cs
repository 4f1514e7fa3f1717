using System.Net.ServerSentEvents;
using System.Text.Json;
using Kiln.Dashboard.Components.Telemetry;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Frontend;

/// <summary>
/// What keeps the telemetry pages live, as server-sent events behind the login cookie, each with the page's own filters:
/// <list type="bullet">
/// <item><c>GET /structuredlogs/stream?resource=&amp;level=&amp;text=&amp;traceId=&amp;after=</c>: one JSON row per new
/// log (over <see cref="ITelemetryStore.WatchLogsAsync"/>), after <c>after</c>, the newest sequence the page shows; the
/// page adds the rows on top.</item>
/// <item><c>GET /traces/stream?resource=</c> and <c>GET /metrics/stream?resource=&amp;meter=&amp;instrument=</c>: an
/// event when the stream opens, then one per trace or instrument that received something (over
/// <see cref="ITelemetryStore.WatchChangesAsync"/>); the page (<c>live.js</c>) renders itself again, so its filters,
/// page and chart stay the server's. A paused signal stores nothing, so its page stays as it is.</item>
/// </list>
/// Only the current run streams: a past run's pages are static and do not ask.
/// </summary>
internal static class TelemetryPageStreams
{
    public const string LogsPath = "/structuredlogs/stream";
    public const string TracesPath = "/traces/stream";
    public const string MetricsPath = "/metrics/stream";

    public static IEndpointRouteBuilder MapTelemetryPageStreams(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(LogsPath, async (HttpContext context, ITelemetryStore store, string? resource, string? level, string? text, string? traceId, string? after) =>
        {
            var minSeverity = TelemetryView.MinSeverity(level);
            if (!string.IsNullOrEmpty(level) && minSeverity is null)
            {
                return BadRequest($"level is '{level}'; it must be one of {string.Join(", ", TelemetryView.Levels)}.");
            }

            long afterSequence = 0;
            if (!string.IsNullOrEmpty(after) && !long.TryParse(after, out afterSequence))
            {
                return BadRequest($"after is '{after}'; it must be a log's sequence number.");
            }

            var query = new LogQuery(string.IsNullOrEmpty(resource) ? null : [resource], string.IsNullOrEmpty(traceId) ? null : traceId, minSeverity);
            await Events(context, stop => store.WatchLogsAsync(query, stop)
                .Where(log => log.Sequence > afterSequence && TelemetryView.LogContains(log, text))
                .Select(log => new SseItem<string>(JsonSerializer.Serialize(new
                {
                    sequence = log.Sequence,
                    time = TelemetryView.TimeText(log.Record.TimeUnixNano != 0 ? log.Record.TimeUnixNano : log.Record.ObservedTimeUnixNano),
                    resource = log.Resource.DisplayName,
                    colour = TelemetryView.Colour(log.Resource),
                    level = TelemetryView.Level(log.Record),
                    levelClass = TelemetryView.LevelClass(log.Record),
                    message = TelemetryView.Message(log.Record),
                    traceId = log.TraceId,
                })) { EventId = log.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
            return Results.Empty;
        });

        endpoints.MapGet(TracesPath, (HttpContext context, ITelemetryStore store, string? resource) =>
            Changes(context, store, TelemetrySignal.Traces, c => string.IsNullOrEmpty(resource) || c.Resource.Matches(resource)));

        endpoints.MapGet(MetricsPath, (HttpContext context, ITelemetryStore store, string? resource, string? meter, string? instrument) =>
            Changes(context, store, TelemetrySignal.Metrics, c =>
                (string.IsNullOrEmpty(resource) || c.Resource.Matches(resource))
                && (string.IsNullOrEmpty(meter) || c.Meter == meter)
                && (string.IsNullOrEmpty(instrument) || c.Name == instrument)));
        return endpoints;
    }

    /// <summary>
    /// An event at once (something may have arrived between the page's rendering and this stream's opening), then one
    /// per change <paramref name="selects"/> keeps; the data is the trace id or the instrument's name.
    /// </summary>
    private static Task Changes(HttpContext context, ITelemetryStore store, TelemetrySignal signal, Func<TelemetryChange, bool> selects) =>
        Events(context, stop => Opened(store.WatchChangesAsync(signal, stop), selects, stop));

    private static async IAsyncEnumerable<SseItem<string>> Opened(IAsyncEnumerable<TelemetryChange> changes, Func<TelemetryChange, bool> selects,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The first MoveNextAsync registers the watcher before the "open" event is sent: whatever the page's refresh on
        // "open" misses is then a change this stream reports.
        await using var items = changes.GetAsyncEnumerator(cancellationToken);
        var next = items.MoveNextAsync();
        yield return new SseItem<string>("open");
        while (await next)
        {
            if (selects(items.Current))
            {
                yield return new SseItem<string>(items.Current.Name);
            }

            next = items.MoveNextAsync();
        }
    }

    /// <summary>
    /// Writes the events (<c>id:</c> when there is one, <c>data:</c>) until the page goes away or the dashboard stops (an
    /// open page must not hold the stop). The headers go at once, so a page knows its stream is open before any event.
    /// </summary>
    private static async Task Events(HttpContext context, Func<CancellationToken, IAsyncEnumerable<SseItem<string>>> events)
    {
        using var end = EventStreams.EndOf(context);
        EventStreams.Start(context);
        var response = context.Response;
        try
        {
            await response.Body.FlushAsync(end.Token);
            await foreach (var item in events(end.Token).WithCancellation(end.Token))
            {
                var id = item.EventId is { } eventId ? $"id: {eventId}\n" : "";
                await response.WriteAsync($"{id}data: {item.Data}\n\n", end.Token);
                await response.Body.FlushAsync(end.Token);
            }
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
            // The page went away, or the dashboard is stopping.
        }
    }

    private static IResult BadRequest(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: detail);
}
