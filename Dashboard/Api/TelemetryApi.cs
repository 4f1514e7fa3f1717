using Google.Protobuf;
using Kiln.Dashboard.Authentication;
using Kiln.Dashboard.Otlp.Storage;
using Kiln.Dashboard.Persistence;

namespace Kiln.Dashboard.Api;

/// <summary>
/// The Aspire dashboard's telemetry HTTP API (<c>docs/specs/dashboard-http-api.md</c> in microsoft/aspire), so scripts
/// and tools written for it work here: <c>GET /api/telemetry/{resources,spans,logs,traces,traces/{traceId},console-logs}</c>
/// (each with <c>runId</c> for a kept past run) behind
/// <c>X-API-Key</c>, answering OTLP/JSON in <c>{"data","totalCount","returnedCount"}</c>, the most recent items when a
/// limit cuts (oldest first within them), and <c>?follow=true</c> streaming spans or logs as NDJSON, one per line.
/// </summary>
internal static class TelemetryApi
{
    private const int DefaultLimit = 200;
    private const int DefaultTraceLimit = 100;
    private const string Json = "application/json";
    private const string NdJson = "application/x-ndjson";

    public static IEndpointRouteBuilder MapTelemetryApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/telemetry").RequireAuthorization(DashboardPolicies.Api);
        api.MapGet("/resources", GetResourcesAsync);
        api.MapGet("/spans", GetSpansAsync);
        api.MapGet("/logs", GetLogsAsync);
        api.MapGet("/traces", GetTracesAsync);
        api.MapGet("/traces/{traceId}", GetTraceAsync);
        api.MapGet("/console-logs", GetConsoleLogsAsync);
        return endpoints;
    }

    private static async Task<IResult> GetResourcesAsync(HttpContext context, TelemetryRuns runs)
    {
        var (refusal, run) = await new TelemetryApiQuery(context.Request.Query).ResolveAsync(runs, context.RequestAborted);
        return refusal ?? Results.Json(run.Store.GetResources().Select(r => new
        {
            name = r.Name,
            instanceId = r.InstanceId,
            displayName = r.DisplayName,
            hasLogs = r.HasLogs,
            hasTraces = r.HasTraces,
            hasMetrics = r.HasMetrics,
        }));
    }

    private static async Task<IResult> GetSpansAsync(HttpContext context, TelemetryRuns runs)
    {
        var query = new TelemetryApiQuery(context.Request.Query);
        var (refusal, run) = await query.ResolveAsync(runs, context.RequestAborted);
        if (refusal is not null)
        {
            return refusal;
        }

        var store = run.Store;

        var spanQuery = new SpanQuery(query.ResourceNames, query.TraceId, query.HasError);
        if (query.Follow)
        {
            await StreamAsync(context, stop => store.WatchSpansAsync(spanQuery, stop), span => OtlpJson.ToTracesData([span]));
            return Results.Empty;
        }

        var spans = store.GetSpans(spanQuery);
        var returned = spans.TakeLast(query.Limit ?? DefaultLimit).ToList();
        return Results.Bytes(OtlpJson.Wrap(OtlpJson.ToTracesData(returned), spans.Count, returned.Count), Json);
    }

    private static async Task<IResult> GetLogsAsync(HttpContext context, TelemetryRuns runs)
    {
        var query = new TelemetryApiQuery(context.Request.Query);
        var (refusal, run) = await query.ResolveAsync(runs, context.RequestAborted);
        if (refusal is not null)
        {
            return refusal;
        }

        var store = run.Store;

        var logQuery = new LogQuery(query.ResourceNames, query.TraceId, query.MinSeverity);
        if (query.Follow)
        {
            await StreamAsync(context, stop => store.WatchLogsAsync(logQuery, stop), log => OtlpJson.ToLogsData([log]));
            return Results.Empty;
        }

        var logs = store.GetLogs(logQuery);
        var returned = logs.TakeLast(query.Limit ?? DefaultLimit).ToList();
        return Results.Bytes(OtlpJson.Wrap(OtlpJson.ToLogsData(returned), logs.Count, returned.Count), Json);
    }

    /// <summary>Traces as their spans in OTLP/JSON; the counts are of traces, as in Aspire's. No streaming.</summary>
    private static async Task<IResult> GetTracesAsync(HttpContext context, TelemetryRuns runs)
    {
        var query = new TelemetryApiQuery(context.Request.Query);
        if (query.Follow)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                detail: "Traces are a snapshot only; follow spans with GET /api/telemetry/spans?follow=true.");
        }

        var (refusal, run) = await query.ResolveAsync(runs, context.RequestAborted);
        if (refusal is not null)
        {
            return refusal;
        }

        var traces = run.Store.GetTraces(new TraceQuery(query.ResourceNames, query.HasError));
        var returned = traces.TakeLast(query.Limit ?? DefaultTraceLimit).ToList();
        return Results.Bytes(OtlpJson.Wrap(OtlpJson.ToTracesData(returned.SelectMany(t => t.Spans)), traces.Count, returned.Count), Json);
    }

    private static async Task<IResult> GetTraceAsync(string traceId, HttpContext context, TelemetryRuns runs)
    {
        var query = new TelemetryApiQuery(context.Request.Query);
        var (refusal, run) = await query.ResolveAsync(runs, context.RequestAborted);
        if (refusal is not null)
        {
            return refusal;
        }

        return run.Store.GetTrace(traceId) is { } trace
            ? Results.Bytes(OtlpJson.Wrap(OtlpJson.ToTracesData(trace.Spans), trace.Spans.Count, trace.Spans.Count), Json)
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Trace not found",
                detail: $"No trace '{traceId}' is stored (it may have been pushed out by newer ones, or cleared).");
    }

    /// <summary>
    /// The kept stdout and stderr lines of the run's resources, a snapshot only: <c>{"logs":[{"resourceName",
    /// "lineNumber","content","isError"}],"totalCount"}</c>, oldest first, the newest <c>limit</c> when one is given.
    /// <c>search</c> keeps lines in which every fragment (split on spaces) is in the text or the resource's name.
    /// </summary>
    private static async Task<IResult> GetConsoleLogsAsync(HttpContext context, TelemetryRuns runs)
    {
        var query = new TelemetryApiQuery(context.Request.Query);
        if (query.Follow)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                detail: "Console logs are a snapshot only; the dashboard's console page follows a resource live.");
        }

        var (refusal, run) = await query.ResolveAsync(runs, context.RequestAborted, consoleLogs: true);
        if (refusal is not null)
        {
            return refusal;
        }

        var fragments = query.Search?.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        var lines = run.Console.GetLines(query.ResourceNames)
            .Where(l => fragments.All(f => l.Content.Contains(f, StringComparison.OrdinalIgnoreCase)
                || l.ResourceName.Contains(f, StringComparison.OrdinalIgnoreCase)))
            .ToList();
        var returned = query.Limit is { } limit ? lines.TakeLast(limit) : lines;
        return Results.Json(new ConsoleLogsResponse(
            [.. returned.Select(l => new ConsoleLogEntry(l.ResourceName, l.LineNumber, l.Content, l.IsError))], lines.Count));
    }

    private sealed record ConsoleLogsResponse(IReadOnlyList<ConsoleLogEntry> Logs, int TotalCount);

    private sealed record ConsoleLogEntry(string ResourceName, long LineNumber, string Content, bool IsError);

    /// <summary>
    /// NDJSON until the client goes or the dashboard stops (a follow never holds up a shutdown): each item one line of
    /// OTLP/JSON, flushed as it comes.
    /// </summary>
    private static async Task StreamAsync<T>(HttpContext context, Func<CancellationToken, IAsyncEnumerable<T>> watch, Func<T, IMessage> toMessage)
    {
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var end = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        context.Response.ContentType = NdJson;
        context.Response.Headers.CacheControl = "no-cache";
        try
        {
            // Headers now, not with the first item: a client waiting for a quiet resource knows the stream is open.
            await context.Response.StartAsync(end.Token);
            await context.Response.Body.FlushAsync(end.Token);
            await foreach (var item in watch(end.Token))
            {
                await context.Response.Body.WriteAsync(OtlpJson.Line(toMessage(item)), end.Token);
                await context.Response.Body.WriteAsync("\n"u8.ToArray(), end.Token);
                await context.Response.Body.FlushAsync(end.Token);
            }
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
            // The client closed the stream, or the dashboard is stopping: the normal ends of a follow.
        }
    }
}
