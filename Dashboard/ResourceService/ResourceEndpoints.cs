using System.Text.Json;
using Grpc.Core;
using Kiln.Dashboard.Frontend;
using Microsoft.AspNetCore.Antiforgery;

namespace Kiln.Dashboard.ResourceService;

/// <summary>
/// What the Resources and Console logs pages call besides themselves, all behind the login cookie (the fallback policy):
/// a resource command (a POST form with its antiforgery token), and two Server-Sent Events streams the pages' scripts
/// follow — the catalog's changes, and one resource's console lines.
/// </summary>
internal static class ResourceEndpoints
{
    public static readonly string[] Commands = ["start", "stop", "restart"];

    public static IEndpointRouteBuilder MapResourceEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // Validated here rather than by the framework, so that a missing token is answered as problem details with a reason.
        endpoints.MapPost("/resources/{name}/commands/{command}", async (HttpContext context, string name, string command,
            ResourceCatalog catalog, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Missing or invalid antiforgery token",
                    detail: "A command is sent from the dashboard's own page: its form carries a token that this request lacks.");
            }

            if (!Commands.Contains(command, StringComparer.Ordinal))
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown command",
                    detail: $"'{command}' is not a command; a resource takes start, stop or restart.");
            }

            var (succeeded, message) = await catalog.ExecuteAsync(name, command, context.RequestAborted);
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            var back = form["returnUrl"].ToString() is { Length: > 0 } url && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal)
                ? url.Split('?')[0]
                : $"/resources/{Uri.EscapeDataString(name)}";
            return Results.Redirect($"{back}?result={(succeeded ? "ok" : "failed")}&message={Uri.EscapeDataString(message)}");
        }).DisableAntiforgery();

        endpoints.MapGet("/resources/events", async (HttpContext context, ResourceCatalog catalog) =>
        {
            EventStreams.Start(context);
            using var end = EventStreams.EndOf(context);
            var token = end.Token;
            try
            {
                while (!token.IsCancellationRequested)
                {
                    var version = catalog.Version;
                    await context.Response.WriteAsync($"data: {version}\n\n", token);
                    await context.Response.Body.FlushAsync(token);
                    await catalog.WaitForChangeAsync(version, token);
                }
            }
            catch (OperationCanceledException)
            {
                // The page closed, or the dashboard stops.
            }
        });

        endpoints.MapGet("/consolelogs/resource/{name}/stream", async (HttpContext context, string name, ResourceCatalog catalog) =>
        {
            using var end = EventStreams.EndOf(context);
            var token = end.Token;
            await using var lines = catalog.WatchConsoleLogsAsync(name, token).GetAsyncEnumerator(token);
            var started = false;
            try
            {
                while (await lines.MoveNextAsync())
                {
                    if (!started)
                    {
                        EventStreams.Start(context);
                        started = true;
                    }

                    await context.Response.WriteAsync("data: ", token);
                    await JsonSerializer.SerializeAsync(context.Response.Body,
                        lines.Current.Select(l => new ConsoleLine(l.LineNumber, l.Text, l.IsStdErr, l.SkippedBefore)), ConsoleJson.Default.IEnumerableConsoleLine, token);
                    await context.Response.WriteAsync("\n\n", token);
                    await context.Response.Body.FlushAsync(token);
                }
            }
            catch (RpcException ex) when (!started)
            {
                var status = ex.StatusCode == StatusCode.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status502BadGateway;
                await Results.Problem(statusCode: status, title: "No console logs", detail: ex.Status.Detail).ExecuteAsync(context);
                return;
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                return;
            }
            catch (RpcException ex)
            {
                // The AppHost went away mid-stream: the page's EventSource reconnects and gets the kept lines again.
                await context.Response.WriteAsync($"event: ended\ndata: {JsonSerializer.Serialize(ex.Status.Detail)}\n\n", CancellationToken.None);
                return;
            }

            if (!started)
            {
                // A dashboard without an AppHost has no console logs: the stream ends at once, and says why.
                EventStreams.Start(context);
                await context.Response.WriteAsync("event: ended\ndata: \"This dashboard is not connected to an AppHost.\"\n\n", token);
            }
        });
        return endpoints;
    }
}

/// <summary>One console line as the page's script reads it: number, text, stderr, lines skipped before it.</summary>
internal sealed record ConsoleLine(long N, string T, bool E, long S);

[System.Text.Json.Serialization.JsonSerializable(typeof(IEnumerable<ConsoleLine>))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ConsoleJson : System.Text.Json.Serialization.JsonSerializerContext;
