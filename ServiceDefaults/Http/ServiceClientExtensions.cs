using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kiln.ServiceDefaults.Http;

public static class ServiceClientExtensions
{
    /// <summary>
    /// A typed <see cref="HttpClient"/> for another service of the app, addressed by its resource name through service
    /// discovery (<c>https+http://{service}</c>, so it takes the service's https endpoint when it has one) with the
    /// standard resilience pipeline of every client, and the service's API key, when configured in
    /// <paramref name="apiKeySetting"/>, sent as <c>X-Api-Key</c> on every request.
    /// </summary>
    public static IHttpClientBuilder AddServiceClient<TClient>(this IHostApplicationBuilder builder, string service, string apiKeySetting)
        where TClient : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Services.AddHttpClient<TClient>(http =>
        {
            http.BaseAddress = new Uri($"https+http://{service}");
            if (builder.Configuration[apiKeySetting] is { Length: > 0 } key)
            {
                http.DefaultRequestHeaders.Add("X-Api-Key", key);
            }
        });
    }
}
