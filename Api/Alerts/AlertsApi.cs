using System.Globalization;
using System.Security.Claims;
using Kiln.Api.Extensions;
using Kiln.Api.Security;
using Kiln.Shared.Sensors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kiln.Api.Alerts;

internal static class AlertsApi
{
    public const int MaxByLength = 128;

    public static IEndpointRouteBuilder MapAlertsApi(this IEndpointRouteBuilder app)
    {
        var alerts = app.MapGroup("/api/v1/alerts").WithTags("Alerts");
        alerts.MapGet("/", ListAlerts).RequireApiKey(ApiKeyScopes.Read).ProducesProblems(400);
        alerts.MapGet("/{id}", GetAlert).RequireApiKey(ApiKeyScopes.Read).ProducesProblems(400, 404);
        // Acknowledging changes what operators see and is produced to kiln.alerts: admin keys only.
        alerts.MapPost("/{id}/acknowledge", Acknowledge).RequireApiKey(ApiKeyScopes.Admin).ProducesProblems(400, 404, 409, 413, 415, 422);
        return app;
    }

    /// <summary>Newest first. A key bound to a site lists that site's alerts; asking for another is refused.</summary>
    private static async Task<Results<Ok<AlertPage>, ProblemHttpResult>> ListAlerts(
        string? state, string? site, string? sensorId, string? limit, string? cursor, ClaimsPrincipal user, AlertStore store,
        CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(state) && !AlertStates.All.Contains(state, StringComparer.Ordinal))
        {
            return Problems.BadRequest("The query is not valid.", $"'state' must be one of {string.Join(", ", AlertStates.All)}");
        }

        if (string.IsNullOrEmpty(site))
        {
            site = user.FindFirstValue(ApiKeyScopes.SiteClaim);
        }
        else if (SensorId.ValidateSite(site) is { } siteProblem)
        {
            return Problems.BadRequest("The query is not valid.", siteProblem);
        }

        if (string.IsNullOrEmpty(sensorId))
        {
            sensorId = null;
        }
        else if (SensorId.Validate(sensorId) is { } sensorProblem)
        {
            return Problems.BadRequest("The query is not valid.", sensorProblem);
        }
        else if (site is not null && SensorId.SiteOf(sensorId) != site)
        {
            return Problems.BadRequest("The query is not valid.", $"sensor '{sensorId}' is not at site '{site}'");
        }
        else
        {
            site = SensorId.SiteOf(sensorId);
        }

        if (site is not null && SiteAccess.Check(user, site) is { } refused)
        {
            return refused;
        }

        if (!Paging.TryParseLimit(limit, out var pageSize))
        {
            return Problems.BadRequest("The query is not valid.", Paging.LimitProblem);
        }

        long? before = null;
        if (!string.IsNullOrEmpty(cursor) && (before = Paging.DecodeInt64Cursor(cursor)) is null or <= 0)
        {
            return Problems.BadRequest("The query is not valid.", Paging.CursorProblem);
        }

        var items = await store.ListAsync(string.IsNullOrEmpty(state) ? null : state, site, sensorId, pageSize + 1, before, cancellationToken);
        // One more than asked tells whether a next page exists: the last page says so, never an empty page after it.
        return TypedResults.Ok(items.Count > pageSize
            ? new AlertPage(items.Take(pageSize).ToList(), Paging.EncodeCursor(items[pageSize - 1].Id))
            : new AlertPage(items, null));
    }

    private static async Task<Results<Ok<Alert>, ProblemHttpResult>> GetAlert(string id, ClaimsPrincipal user, AlertStore store, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } alertId)
        {
            return InvalidId();
        }

        return await store.FindAsync(alertId, cancellationToken) is not { } alert ? UnknownAlert(alertId)
            : SiteAccess.Check(user, alert.Site) is { } refused ? refused
            : TypedResults.Ok(alert);
    }

    /// <summary>
    /// Records who acknowledged an open alert: <c>by</c> from the body (an operator's name), else the key's name. Acknowledging
    /// again changes nothing and answers as the first time; a closed alert cannot be acknowledged (409).
    /// </summary>
    private static async Task<Results<Ok<Alert>, ProblemHttpResult>> Acknowledge(
        string id, Acknowledgement? body, ClaimsPrincipal user, AlertStore store, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } alertId)
        {
            return InvalidId();
        }

        var by = body?.By;
        if (by is not null && (string.IsNullOrWhiteSpace(by) || by.Length > MaxByLength || by.Any(char.IsControl)))
        {
            return Problems.Unprocessable("The acknowledgement is not valid.", $"'by' must be a name of 1 to {MaxByLength} characters without control characters");
        }

        if (await store.FindAsync(alertId, cancellationToken) is not { } alert)
        {
            return UnknownAlert(alertId);
        }

        if (SiteAccess.Check(user, alert.Site) is { } refused)
        {
            return refused;
        }

        var acknowledged = await store.AcknowledgeAsync(alertId, by ?? user.Identity?.Name ?? "unknown", cancellationToken);
        return acknowledged is { State: AlertStates.Closed, AcknowledgedAt: null }
            ? TypedResults.Problem(title: "The alert is closed.", detail: $"Alert {alertId} closed at {acknowledged.ClosedAt:O}; only an open alert can be acknowledged.",
                statusCode: StatusCodes.Status409Conflict)
            : TypedResults.Ok(acknowledged!);
    }

    private static long? ParseId(string id) =>
        long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : null;

    private static ProblemHttpResult InvalidId() => Problems.BadRequest("The alert id is not valid.", "an alert id is a positive whole number");

    private static ProblemHttpResult UnknownAlert(long id) => Problems.NotFound("Unknown alert.", $"No alert {id} exists.");

    internal sealed record AlertPage(IReadOnlyList<Alert> Items, string? Next);

    internal sealed record Acknowledgement(string? By);
}
