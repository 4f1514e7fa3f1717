using Microsoft.Extensions.Configuration;

namespace Kiln.ServiceDefaults.ServiceDiscovery;

/// <summary>
/// Resolves <c>http://api</c>, <c>https://api</c> and <c>https+http://api</c> to the endpoints the
/// AppHost injected as <c>services__api__{endpoint}__{index}</c>, the configuration form that
/// Microsoft.Extensions.ServiceDiscovery reads (it cannot be restored here). A host with no such
/// entry is a real host name and is left alone.
/// </summary>
public sealed class ServiceEndpointResolver(IConfiguration configuration)
{
    private int _next;

    /// <summary>Returns the address to send to, or <paramref name="uri"/> unchanged when it names no service.</summary>
    public Uri Resolve(Uri uri)
    {
        var schemes = uri.Scheme.Split('+', StringSplitOptions.RemoveEmptyEntries);
        var service = configuration.GetSection("services").GetSection(uri.Host);
        if (!service.Exists())
        {
            return IsPlainHttp(schemes) ? uri : throw new InvalidOperationException(
                $"No endpoint is configured for service '{uri.Host}' (looked for services__{uri.Host}__{string.Join("/", schemes)}__0). " +
                "Run through the AppHost or set that variable.");
        }

        // Schemes are in order of preference: "https+http" takes https when the service has it.
        foreach (var scheme in schemes)
        {
            var endpoints = service.GetSection(scheme).GetChildren()
                .Select(e => e.Value)
                .Where(v => !string.IsNullOrWhiteSpace(v))
                .ToArray();
            if (endpoints.Length == 0)
            {
                continue;
            }

            // Round-robin across the service's replicas.
            var chosen = new Uri(endpoints[(uint)Interlocked.Increment(ref _next) % endpoints.Length]!);
            return new UriBuilder(uri) { Scheme = chosen.Scheme, Host = chosen.Host, Port = chosen.Port }.Uri;
        }

        throw new InvalidOperationException(
            $"Service '{uri.Host}' has no {string.Join(" or ", schemes)} endpoint configured (services__{uri.Host}__<endpoint>__<index>).");
    }

    private static bool IsPlainHttp(string[] schemes) =>
        schemes is ["http"] or ["https"];
}
