using System.Security.Claims;
using Kiln.Api.Extensions;
using Kiln.Api.Readings;
using Kiln.Api.Security;
using Kiln.Shared.Sensors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kiln.Api.Sensors;

internal static class SensorsApi
{
    public static IEndpointRouteBuilder MapSensorsApi(this IEndpointRouteBuilder app)
    {
        var sensors = app.MapGroup("/api/v1/sensors").WithTags("Sensors");

        sensors.MapPut("/{id}", PutSensor).RequireApiKey(ApiKeyScopes.Sensors).ProducesProblems(400, 413, 415, 422);
        sensors.MapGet("/", ListSensors).RequireApiKey(ApiKeyScopes.Read).ProducesProblems(400);
        sensors.MapGet("/{id}", GetSensor).RequireApiKey(ApiKeyScopes.Read).ProducesProblems(400, 404);
        sensors.MapGet("/{id}/latest", GetLatest).RequireApiKey(ApiKeyScopes.Read).ProducesProblems(400, 404);
        sensors.MapGet("/{id}/readings", GetReadings).RequireApiKey(ApiKeyScopes.Read).ProducesProblems(400, 404);
        return app;
    }

    private static async Task<Results<Created<Sensor>, Ok<Sensor>, ProblemHttpResult>> PutSensor(
        string id, SensorDefinition definition, ClaimsPrincipal user, SensorStore store, SensorCatalog catalog, CancellationToken cancellationToken)
    {
        if (SensorId.Validate(id) is { } idProblem)
        {
            return InvalidId(idProblem);
        }

        if (OtherSite(id, user) is { } refused)
        {
            return refused;
        }

        if (definition.Validate(id) is { } problem)
        {
            return Problems.Unprocessable("The sensor is not valid.", problem);
        }

        var (sensor, created) = await store.UpsertAsync(id, definition, cancellationToken);
        catalog.Remember(sensor);
        return created ? TypedResults.Created($"/api/v1/sensors/{id}", sensor) : TypedResults.Ok(sensor);
    }

    /// <summary>
    /// Sensors by id, a page at a time (<c>next</c> is the cursor of the following page, null on the last). A key bound to a
    /// site lists that site's sensors; asking for another site is refused.
    /// </summary>
    private static async Task<Results<Ok<SensorPage>, ProblemHttpResult>> ListSensors(
        string? site, string? limit, string? cursor, ClaimsPrincipal user, SensorStore store, CancellationToken cancellationToken)
    {
        var (request, error) = SensorPageRequest.Parse(site, limit, cursor);
        if (request is null)
        {
            return Problems.BadRequest("The query is not valid.", error!);
        }

        if (request.Site is { } asked && SiteAccess.Check(user, asked) is { } refused)
        {
            return refused;
        }

        return TypedResults.Ok(await store.PageAsync(request with { Site = request.Site ?? user.FindFirstValue(ApiKeyScopes.SiteClaim) }, cancellationToken));
    }

    private static async Task<Results<Ok<Sensor>, ProblemHttpResult>> GetSensor(
        string id, ClaimsPrincipal user, SensorStore store, CancellationToken cancellationToken)
    {
        if (SensorId.Validate(id) is { } problem)
        {
            return InvalidId(problem);
        }

        if (OtherSite(id, user) is { } refused)
        {
            return refused;
        }

        return await store.FindAsync(id, cancellationToken) is { } sensor ? TypedResults.Ok(sensor) : Problems.UnknownSensor(id);
    }

    private static async Task<Results<Ok<LatestReading>, ProblemHttpResult>> GetLatest(
        string id, ClaimsPrincipal user, SensorStore sensors, LatestValueStore latest, CancellationToken cancellationToken)
    {
        if (SensorId.Validate(id) is { } problem)
        {
            return InvalidId(problem);
        }

        if (OtherSite(id, user) is { } refused)
        {
            return refused;
        }

        if (await latest.FindAsync(id, cancellationToken) is { } reading)
        {
            return TypedResults.Ok(reading);
        }

        return await sensors.FindAsync(id, cancellationToken) is null
            ? Problems.UnknownSensor(id)
            : Problems.NotFound("No readings yet.", $"Sensor '{id}' exists but has no stored readings.");
    }

    /// <summary>The query parameters arrive as text and are parsed here, so a bad one is answered in the client's terms.</summary>
    private static async Task<Results<Ok<ReadingPage>, ProblemHttpResult>> GetReadings(
        string id, string? from, string? to, string? limit, string? cursor, ClaimsPrincipal user,
        SensorStore sensors, ReadingStore readings, CancellationToken cancellationToken)
    {
        if (SensorId.Validate(id) is { } idProblem)
        {
            return InvalidId(idProblem);
        }

        var (request, error) = ReadingPageRequest.Parse(id, from, to, limit, cursor);
        if (request is null)
        {
            return Problems.BadRequest("The query is not valid.", error!);
        }

        if (OtherSite(id, user) is { } refused)
        {
            return refused;
        }

        if (await sensors.FindAsync(id, cancellationToken) is null)
        {
            return Problems.UnknownSensor(id);
        }

        return TypedResults.Ok(await readings.PageAsync(request, cancellationToken));
    }

    private static ProblemHttpResult InvalidId(string problem) => Problems.BadRequest("The sensor id is not valid.", problem);

    /// <summary>
    /// A 403 when a site's key asks about another site's sensor. A sensor's site is its id's first segment (a sensor is
    /// stored only so), so the answer needs no lookup and says nothing about whether that sensor exists.
    /// </summary>
    private static ProblemHttpResult? OtherSite(string id, ClaimsPrincipal user) => SiteAccess.Check(user, SensorId.SiteOf(id));
}
