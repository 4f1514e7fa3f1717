using System.Net;
using Kiln.ServiceDefaults;

namespace Kiln.Api.RateLimits;

/// <summary>The bucket a request draws from: a policy and whom it counts (an API key's id, or a client address).</summary>
internal sealed record RateLimitBucket(RateLimitPolicy Policy, string Subject)
{
    /// <summary>
    /// Which bucket a request draws from, or null when it is not limited. A request with a valid key counts against that key
    /// on the endpoints that name a policy (ingest); other requests with a valid key are not limited. A request without a
    /// valid key counts against its client address, except the health probes, which orchestrators must always get through.
    /// </summary>
    /// <param name="endpointPolicy">The policy the endpoint names (<see cref="RateLimitMetadata"/>), if any.</param>
    /// <param name="keyId">The authenticated key's id; null for a request without a valid key.</param>
    public static RateLimitBucket? For(string? endpointPolicy, string? keyId, IPAddress? address, PathString path, RateLimitOptions options)
    {
        if (keyId is not null)
        {
            return endpointPolicy == options.Ingest.Name ? new RateLimitBucket(options.Ingest, keyId) : null;
        }

        if (path.StartsWithSegments(HealthEndpoints.HealthPath) || path.StartsWithSegments(HealthEndpoints.AlivePath))
        {
            return null;
        }

        var client = address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;
        return new RateLimitBucket(options.Anonymous, client?.ToString() ?? "unknown");
    }
}

/// <summary>Endpoint metadata: requests with a valid key count against that key in this policy's bucket.</summary>
internal sealed record RateLimitMetadata(string Policy);
