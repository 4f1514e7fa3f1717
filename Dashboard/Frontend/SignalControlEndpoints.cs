using Kiln.Dashboard.Otlp.Storage;
using Microsoft.AspNetCore.Mvc;

namespace Kiln.Dashboard.Frontend;

/// <summary>
/// The pages' pause and clear buttons: <c>POST /signals/{logs|traces|metrics}/pause</c> (form field <c>paused</c>) and
/// <c>POST /signals/{signal}/clear</c>, each a form with the antiforgery token and the login cookie, answered by a redirect
/// back to the page (<c>returnUrl</c>, local paths only).
/// </summary>
internal static class SignalControlEndpoints
{
    public static string PausePath(TelemetrySignal signal) => $"/signals/{signal.ToString().ToLowerInvariant()}/pause";

    public static string ClearPath(TelemetrySignal signal) => $"/signals/{signal.ToString().ToLowerInvariant()}/clear";

    public static IEndpointRouteBuilder MapSignalControls(this IEndpointRouteBuilder endpoints)
    {
        // Form binding makes these check the antiforgery token (UseAntiforgery); the fallback policy wants the cookie.
        endpoints.MapPost("/signals/{signal}/pause", (string signal, [FromForm] string? paused, [FromForm] string? returnUrl, ITelemetryStore store) =>
        {
            if (Parse(signal) is not { } parsed)
            {
                return UnknownSignal(signal);
            }

            if (!bool.TryParse(paused, out var value))
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                    detail: $"paused is '{paused}'; it must be true or false.");
            }

            store.SetPaused(parsed, value);
            return Back(returnUrl, parsed);
        });
        endpoints.MapPost("/signals/{signal}/clear", (string signal, [FromForm] string? returnUrl, ITelemetryStore store) =>
        {
            if (Parse(signal) is not { } parsed)
            {
                return UnknownSignal(signal);
            }

            store.Clear(parsed);
            return Back(returnUrl, parsed);
        });
        return endpoints;
    }

    private static TelemetrySignal? Parse(string signal) => signal.ToLowerInvariant() switch
    {
        "logs" => TelemetrySignal.Logs,
        "traces" => TelemetrySignal.Traces,
        "metrics" => TelemetrySignal.Metrics,
        _ => null,
    };

    private static IResult UnknownSignal(string signal) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown signal",
            detail: $"There is no signal '{signal}'; it is one of logs, traces, metrics.");

    private static IResult Back(string? returnUrl, TelemetrySignal signal)
    {
        // Only a path of this site: a form must not become an open redirect.
        var local = returnUrl is { Length: > 1 } && returnUrl[0] == '/' && returnUrl[1] != '/' && returnUrl[1] != '\\';
        return Results.Redirect(local ? returnUrl! : signal switch
        {
            TelemetrySignal.Logs => "/structuredlogs",
            TelemetrySignal.Traces => "/traces",
            _ => "/metrics",
        });
    }
}
