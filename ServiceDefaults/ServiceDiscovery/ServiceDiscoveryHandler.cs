using Microsoft.Extensions.DependencyInjection;

namespace Kiln.ServiceDefaults.ServiceDiscovery;

/// <summary>Rewrites each request's service name to a concrete endpoint just before it is sent.</summary>
public sealed class ServiceDiscoveryHandler(ServiceEndpointResolver resolver) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { IsAbsoluteUri: true } uri)
        {
            request.RequestUri = resolver.Resolve(uri);
        }

        return base.SendAsync(request, cancellationToken);
    }
}

public static class ServiceDiscoveryExtensions
{
    public static IServiceCollection AddServiceDiscovery(this IServiceCollection services)
    {
        services.AddSingleton<ServiceEndpointResolver>();
        services.AddTransient<ServiceDiscoveryHandler>();
        return services;
    }

    /// <summary>Resolves service names per attempt, so a retry can reach another replica.</summary>
    public static IHttpClientBuilder AddServiceDiscovery(this IHttpClientBuilder builder) =>
        builder.AddHttpMessageHandler<ServiceDiscoveryHandler>();
}
