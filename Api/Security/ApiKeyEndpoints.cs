using Kiln.Api.Extensions;

namespace Kiln.Api.Security;

internal static class ApiKeyEndpoints
{
    /// <summary>
    /// The endpoint needs a key with <paramref name="scope"/>, and so can answer what every keyed endpoint can: 401 (no or
    /// unknown key), 403 (a key without the scope or for another site), 429 (requests without a valid key are limited per
    /// address) and 503 (a dependency, such as the key store, cannot be reached). Said once here, so the OpenAPI document
    /// lists them wherever they apply.
    /// </summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder endpoint, string scope) where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireAuthorization(scope).ProducesProblems(
            StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
}
