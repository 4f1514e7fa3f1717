using Kiln.Api.Readings;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kiln.Api.Extensions;

/// <summary>
/// The problem responses endpoints return (all RFC 9457; the trace id is added centrally). 400: the request
/// cannot be taken as what the endpoint reads (route, query, body shape); 422: it was read, but what it says
/// cannot be accepted.
/// </summary>
internal static class Problems
{
    public static ProblemHttpResult BadRequest(string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status400BadRequest);

    public static ProblemHttpResult Unprocessable(string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status422UnprocessableEntity);

    /// <summary>A batch in which every reading was rejected: an error, with each reading's reason, as a 202 would have listed them.</summary>
    public static ProblemHttpResult NothingAccepted(IReadOnlyList<RejectedReading> rejected) =>
        TypedResults.Problem(
            title: "No reading in the batch could be accepted.",
            detail: rejected.Count == 1
                ? $"The reading was rejected: {rejected[0].Reason}."
                : $"All {rejected.Count} readings were rejected; 'rejected' gives each one's reason (the first: {rejected[0].Reason}).",
            statusCode: StatusCodes.Status422UnprocessableEntity,
            extensions: new Dictionary<string, object?> { ["accepted"] = 0, ["rejected"] = rejected });

    public static ProblemHttpResult NotFound(string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status404NotFound);

    public static ProblemHttpResult UnknownSensor(string id) =>
        NotFound("Unknown sensor.", $"No sensor '{id}' exists; create it with PUT /api/v1/sensors/{id}.");
}
