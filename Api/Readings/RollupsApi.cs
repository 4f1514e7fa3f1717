using System.Security.Claims;
using Kiln.Api.Extensions;
using Kiln.Api.Security;
using Kiln.Api.Sensors;
using Kiln.Shared.Sensors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kiln.Api.Readings;

internal static class RollupsApi
{
    public static IEndpointRouteBuilder MapRollupsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/sensors/{id}/rollups", GetRollups)
            .WithTags("Sensors")
            .RequireApiKey(ApiKeyScopes.Read)
            .ProducesProblems(400, 404);
        return app;
    }

    /// <summary>
    /// Count, min, max and average of a sensor's readings per bucket (1m, 1h or 1d, UTC), oldest first; a bucket without
    /// readings is left out. The query parameters arrive as text and are parsed here, so a bad one is answered in the
    /// client's terms.
    /// </summary>
    private static async Task<Results<Ok<RollupSeries>, ProblemHttpResult>> GetRollups(
        string id, string? bucket, string? from, string? to, ClaimsPrincipal user,
        SensorStore sensors, RollupStore rollups, CancellationToken cancellationToken)
    {
        if (SensorId.Validate(id) is { } idProblem)
        {
            return Problems.BadRequest("The sensor id is not valid.", idProblem);
        }

        var (request, error) = RollupRequest.Parse(id, bucket, from, to);
        if (request is null)
        {
            return Problems.BadRequest("The query is not valid.", error!);
        }

        // A sensor's site is its id's first segment: the refusal needs no lookup and says nothing about whether it exists.
        if (SiteAccess.Check(user, SensorId.SiteOf(id)) is { } refused)
        {
            return refused;
        }

        if (await sensors.FindAsync(id, cancellationToken) is null)
        {
            return Problems.UnknownSensor(id);
        }

        return TypedResults.Ok(await rollups.ReadAsync(request, cancellationToken));
    }
}
