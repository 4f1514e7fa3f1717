using System.Net;
using System.Net.Http.Json;
using Kiln.ServiceDefaults.Http;
using Kiln.Shared;
using Kiln.Simulator.Plant;

namespace Kiln.Simulator.Feeding;

/// <summary>What the Api said to a request: taken, or not now (and when to try again), or never (a bug to report).</summary>
internal abstract record IngestAnswer
{
    public sealed record Taken(int Accepted, int Rejected, string? FirstRejection) : IngestAnswer;

    /// <summary>429, 5xx or no answer: try again later (at <see cref="RetryAfter"/> if the Api said).</summary>
    public sealed record NotNow(string Reason, TimeSpan? RetryAfter) : IngestAnswer;

    /// <summary>Any other refusal: the request itself is wrong, and sending it again will not help.</summary>
    public sealed record Refused(string Reason) : IngestAnswer;
}

/// <summary>
/// The Api as the simulator uses it: reached by name (<c>https+http://api</c>) through service discovery and the standard
/// resilience pipeline, with the simulator's own key.
/// </summary>
internal sealed class IngestClient(HttpClient http)
{
    public async Task<IngestAnswer> PutSensorAsync(PlantSensor sensor, CancellationToken cancellationToken)
    {
        var body = new { site = sensor.Site, kind = sensor.Kind, unit = sensor.Unit, rule = sensor.Rule };
        return await SendAsync(() => http.PutAsJsonAsync($"/api/v1/sensors/{sensor.Id}", body, cancellationToken), cancellationToken);
    }

    public async Task<IngestAnswer> PostReadingsAsync(IReadOnlyList<PlantReading> readings, CancellationToken cancellationToken)
    {
        var body = new { readings = readings.Select(r => new { sensorId = r.SensorId, timestamp = r.Timestamp, value = r.Value }) };
        return await SendAsync(() => http.PostAsJsonAsync("/api/v1/readings", body, cancellationToken), cancellationToken);
    }

    private static async Task<IngestAnswer> SendAsync(Func<Task<HttpResponseMessage>> send, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await send();
            if (response.IsSuccessStatusCode)
            {
                var result = response.StatusCode == HttpStatusCode.Accepted
                    ? await response.Content.ReadFromJsonAsync<IngestResult>(cancellationToken)
                    : null;
                return new IngestAnswer.Taken(result?.Accepted ?? 0, result?.Rejected.Count ?? 0, result is { Rejected.Count: > 0 } ? result.Rejected[0].Reason : null);
            }

            var detail = await ProblemDetailAsync(response, cancellationToken);
            var reason = $"{(int)response.StatusCode} {detail}";
            return response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500
                ? new IngestAnswer.NotNow(reason, response.Headers.RetryAfter?.Delta)
                : new IngestAnswer.Refused(reason);
        }
        catch (Exception ex) when (ex is HttpRequestException or Polly.ExecutionRejectedException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new IngestAnswer.NotNow(ex is OperationCanceledException ? "no answer in time" : ex.Message, null);
        }
    }

    private static async Task<string> ProblemDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<Problem>(cancellationToken);
            return problem?.Detail ?? problem?.Title ?? response.ReasonPhrase ?? "";
        }
        catch (System.Text.Json.JsonException)
        {
            return response.ReasonPhrase ?? "";
        }
    }

    private sealed record IngestResult(int Accepted, IReadOnlyList<Rejection> Rejected);

    private sealed record Rejection(int Index, string Reason);

    private sealed record Problem(string? Title, string? Detail);
}

internal static class IngestClientExtensions
{
    public static void AddIngestClient(this IHostApplicationBuilder builder) =>
        builder.AddServiceClient<IngestClient>(Topology.Resources.Api, apiKeySetting: "Kiln:Api:Key");
}
