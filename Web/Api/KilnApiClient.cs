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
    public async Task<IReadOnlyList<SensorView>> SensorsAsync(CancellationToken cancellationToken) =>
        (await http.GetFromJsonAsync<SensorList>("/api/v1/sensors", cancellationToken))?.Items ?? [];

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

    private sealed record SensorList(IReadOnlyList<SensorView> Items);
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
