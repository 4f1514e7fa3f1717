using System.Net;
using System.Net.Http.Json;
using Kiln.Shared;

namespace Kiln.Web.Api;

internal sealed record SensorView(string Id, string Site, string Kind, string Unit);

internal sealed record LatestView(string SensorId, DateTimeOffset Timestamp, double Value);

/// <summary>
/// The Api as the Web UI sees it: reached by service name (<c>https+http://api</c>) through service
/// discovery and the standard resilience pipeline, with the read key the AppHost hands the Web.
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
            var page = await http.GetFromJsonAsync<SensorPage>(path, cancellationToken);
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

    /// <summary>The Api's largest page: the fewest round trips for the overview.</summary>
    private const int PageSize = 1000;

    private sealed record SensorPage(IReadOnlyList<SensorView> Items, string? Next);
}

internal static class KilnApiClientExtensions
{
    public static void AddKilnApiClient(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpClient<KilnApiClient>(http =>
        {
            http.BaseAddress = new Uri($"https+http://{Topology.Resources.Api}");
            if (builder.Configuration["Kiln:Api:Key"] is { Length: > 0 } key)
            {
                http.DefaultRequestHeaders.Add("X-Api-Key", key);
            }
        });
    }
}
