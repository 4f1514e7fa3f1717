using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Kiln.ServiceDefaults.Http;
using Kiln.Shared;
using Kiln.Shared.Alerts;

namespace Kiln.Web.Api;

internal sealed record SensorView(string Id, string Site, string Kind, string Unit);

internal sealed record LatestView(string SensorId, DateTimeOffset Timestamp, double Value);

internal sealed record SensorDetail(string Id, string Site, string Kind, string Unit, AlertRule? Rule);

internal sealed record RollupPoint(DateTimeOffset Start, long Count, double Min, double Max, double Avg);

internal sealed record AlertView(
    long Id, string SensorId, string Site, string Condition, string Severity, double Threshold, string State,
    DateTimeOffset OpenedAt, double OpenedValue, DateTimeOffset? ClosedAt, double? ClosedValue,
    DateTimeOffset? AcknowledgedAt, string? AcknowledgedBy);

/// <summary>
/// The Api as the Web UI sees it: reached by service name (<c>https+http://api</c>) through service
/// discovery and the standard resilience pipeline, with the Web's own key (server side only).
/// </summary>
internal sealed class KilnApiClient(HttpClient http)
{
    /// <summary>Every sensor: the Api lists them a page at a time, so this follows each page's <c>next</c> to the last.</summary>
    public async Task<IReadOnlyList<SensorView>> SensorsAsync(CancellationToken cancellationToken)
    {
        var sensors = new List<SensorView>();
        string? cursor = null;
        do
        {
            var path = $"/api/v1/sensors?limit={PageSize}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var page = await http.GetFromJsonAsync<Page<SensorView>>(path, cancellationToken);
            sensors.AddRange(page?.Items ?? []);
            cursor = page?.Next;
        }
        while (cursor is not null);
        return sensors;
    }

    public async Task<LatestView?> LatestAsync(string sensorId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"/api/v1/sensors/{Uri.EscapeDataString(sensorId)}/latest", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<LatestView>(cancellationToken);
    }

    /// <returns>Null when the Api knows no such sensor.</returns>
    public async Task<SensorDetail?> SensorAsync(string sensorId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"/api/v1/sensors/{Uri.EscapeDataString(sensorId)}", cancellationToken);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<SensorDetail>(cancellationToken);
    }

    /// <summary>Rollups of <paramref name="bucket"/> (<c>1m</c>, <c>1h</c>, <c>1d</c>) from <paramref name="from"/> to <paramref name="to"/>, oldest first.</summary>
    public async Task<IReadOnlyList<RollupPoint>> RollupsAsync(string sensorId, string bucket, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var path = $"/api/v1/sensors/{Uri.EscapeDataString(sensorId)}/rollups?bucket={bucket}"
            + $"&from={Uri.EscapeDataString(from.ToString("O", CultureInfo.InvariantCulture))}&to={Uri.EscapeDataString(to.ToString("O", CultureInfo.InvariantCulture))}";
        var series = await http.GetFromJsonAsync<RollupSeries>(path, cancellationToken);
        return series?.Items ?? [];
    }

    /// <summary>
    /// Every reading from <paramref name="from"/> to <paramref name="to"/>, oldest first, each a point of its own (its value
    /// the minimum, maximum and average), read a page of the Api's largest size at a time; null when there are more than
    /// <paramref name="max"/>, for the caller to draw rollups instead.
    /// </summary>
    public async Task<IReadOnlyList<RollupPoint>?> ReadingsAsync(string sensorId, DateTimeOffset from, DateTimeOffset to, int max, CancellationToken cancellationToken)
    {
        var points = new List<RollupPoint>();
        string? cursor = null;
        do
        {
            var path = $"/api/v1/sensors/{Uri.EscapeDataString(sensorId)}/readings?limit={PageSize}"
                + $"&from={Uri.EscapeDataString(from.ToString("O", CultureInfo.InvariantCulture))}&to={Uri.EscapeDataString(to.ToString("O", CultureInfo.InvariantCulture))}"
                + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var page = await http.GetFromJsonAsync<Page<Reading>>(path, cancellationToken);
            points.AddRange((page?.Items ?? []).Select(r => new RollupPoint(r.Timestamp, 1, r.Value, r.Value, r.Value)));
            if (points.Count > max)
            {
                return null;
            }

            cursor = page?.Next;
        }
        while (cursor is not null);
        return points;
    }

    /// <summary>A sensor's alerts, newest first, whatever their state.</summary>
    public async Task<IReadOnlyList<AlertView>> AlertsOfAsync(string sensorId, int limit, CancellationToken cancellationToken)
    {
        var page = await http.GetFromJsonAsync<Page<AlertView>>($"/api/v1/alerts?sensorId={Uri.EscapeDataString(sensorId)}&limit={limit}", cancellationToken);
        return page?.Items ?? [];
    }

    /// <summary>Alerts in one state (<c>open</c>, <c>acknowledged</c>, <c>closed</c>), newest first, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<AlertView>> AlertsAsync(string state, int limit, CancellationToken cancellationToken)
    {
        var alerts = new List<AlertView>();
        string? cursor = null;
        do
        {
            var path = $"/api/v1/alerts?state={state}&limit={Math.Min(PageSize, limit - alerts.Count)}"
                + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var page = await http.GetFromJsonAsync<Page<AlertView>>(path, cancellationToken);
            alerts.AddRange(page?.Items ?? []);
            cursor = page?.Next;
        }
        while (cursor is not null && alerts.Count < limit);
        return alerts;
    }

    /// <returns>False when the Api refuses (the alert is unknown or already closed); true once it is acknowledged.</returns>
    public async Task<bool> AcknowledgeAsync(long alertId, string by, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync($"/api/v1/alerts/{alertId}/acknowledge", new { by }, cancellationToken);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            return false;
        }

        response.EnsureSuccessStatusCode();
        return true;
    }

    /// <summary>The Api's largest page: the fewest round trips for the overview.</summary>
    private const int PageSize = 1000;

    private sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

    private sealed record Reading(DateTimeOffset Timestamp, double Value);

    private sealed record RollupSeries(IReadOnlyList<RollupPoint> Items);
}

internal static class KilnApiClientExtensions
{
    public static void AddKilnApiClient(this IHostApplicationBuilder builder) =>
        builder.AddServiceClient<KilnApiClient>(Topology.Resources.Api, apiKeySetting: "Kiln:Api:Key");

    /// <summary>
    /// How long a page waits for the Api before it renders the "Api down" banner. The standard pipeline's own budget
    /// (30 s of retries) suits a background call, not an operator looking at a page; its retries stop at this deadline.
    /// </summary>
    public static CancellationTokenSource PageDeadline() => new(TimeSpan.FromSeconds(4));

    /// <summary>Transport failures, and the resilience pipeline giving up (timeout, open circuit, limiter): the Api is unreachable.
    /// A page's own deadline passing (<see cref="PageDeadline"/>) counts too.</summary>
    public static bool IsApiUnreachable(this Exception ex) =>
        ex is HttpRequestException or Polly.ExecutionRejectedException or OperationCanceledException;

    /// <summary>What the banner says went wrong.</summary>
    public static string Reason(this Exception ex) => ex is OperationCanceledException ? "no answer in time" : ex.Message;
}
