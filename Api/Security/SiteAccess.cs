using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kiln.Api.Security;

/// <summary>A key bound to a site may ingest and read that site's sensors only; a key without a site may use every site.</summary>
internal static class SiteAccess
{
    /// <summary>Null when <paramref name="user"/>'s key may use <paramref name="site"/>'s sensors, else why not.</summary>
    public static string? Refusal(ClaimsPrincipal user, string site)
    {
        var keySite = user.FindFirstValue(ApiKeyScopes.SiteClaim);
        return keySite is null || keySite == site ? null : $"This key is bound to site '{keySite}'; '{site}' is another site.";
    }

    /// <summary>A 403 for a request about <paramref name="site"/>'s sensors, or null when the key may make it.</summary>
    public static ProblemHttpResult? Check(ClaimsPrincipal user, string site) =>
        Refusal(user, site) is { } reason
            ? TypedResults.Problem(title: "This API key may not do that.", detail: reason, statusCode: StatusCodes.Status403Forbidden)
            : null;
}
