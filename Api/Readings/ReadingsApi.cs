using System.Globalization;
using System.Security.Claims;
using Kiln.Api.Extensions;
using Kiln.Api.RateLimits;
using Kiln.Api.Security;
using Kiln.Api.Sensors;
using Kiln.Shared.Sensors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kiln.Api.Readings;

internal static class ReadingsApi
{
    public static IEndpointRouteBuilder MapReadingsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/readings", PostReadings)
            .WithTags("Readings")
            .RequireApiKey(ApiKeyScopes.Ingest)
            .RequireRateLimit(RateLimitOptions.IngestPolicy)
            .ProducesProblems(400, 413, 415, 422);
        return app;
    }

    internal sealed record IngestResult(int Accepted, IReadOnlyList<RejectedReading> Rejected);

    /// <summary>
    /// 202 means every accepted reading is durably in Kafka, and lists the rejected ones; 422 means none could be
    /// accepted (each one's reason listed); 400 means the body is not a batch at all; 503 means retry (re-sending is safe).
    /// </summary>
    private static async Task<Results<Accepted<IngestResult>, ProblemHttpResult>> PostReadings(
        ReadingBatch batch, ClaimsPrincipal user, SensorCatalog catalog, IngestAdmission admission, ReadingPublisher publisher,
        IngestOptions options, TimeProvider clock, HttpContext http, CancellationToken cancellationToken)
    {
        if (batch.Readings is not { Count: > 0 } items)
        {
            return Problems.BadRequest("The batch is empty.", "Send {\"readings\":[...]} with at least one reading.");
        }

        if (items.Count > options.MaxBatchSize)
        {
            return Problems.BadRequest("The batch is too large.",
                $"The batch has {items.Count} readings; at most {options.MaxBatchSize} are accepted per request.");
        }

        var ids = items.Select(i => i?.SensorId).OfType<string>().Where(id => SensorId.Validate(id) is null).Distinct().ToList();
        var sites = await catalog.SitesOfAsync(ids, cancellationToken);
        var (accepted, rejected) = ReadingValidator.Validate(items, sites, user.FindFirstValue(ApiKeyScopes.SiteClaim), clock.GetUtcNow(), options);
        if (accepted.Count == 0)
        {
            return Problems.NothingAccepted(rejected);
        }

        if (admission.TryAdmit(accepted.Count) is { } refusal)
        {
            http.Response.Headers.RetryAfter = ((int)refusal.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return TypedResults.Problem(title: "Kiln cannot take more readings right now.", detail: refusal.Reason,
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (!await publisher.PublishAsync(accepted, cancellationToken))
        {
            http.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(
                title: "Kafka is not accepting readings right now.",
                detail: $"The broker did not acknowledge the batch within {options.DeliveryTimeout.TotalSeconds:0} s. Retry after 5 s; re-sending the same readings creates no duplicates.",
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return TypedResults.Accepted((string?)null, new IngestResult(accepted.Count, rejected));
    }
}
