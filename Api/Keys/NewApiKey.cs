using Kiln.Api.Security;

namespace Kiln.Api.Keys;

/// <summary>A key as an admin asks for it (<c>POST /api/v1/keys</c>): every field may be missing.</summary>
internal sealed record NewApiKey(string? Name, IReadOnlyList<string?>? Scopes, string? Site)
{
    public const int MaxNameLength = 100;
    public const int MaxSiteLength = 64;

    /// <summary>Null when the key may be created, else the reason it may not.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            return "name is required: say whose key it is (e.g. the gateway it is for)";
        }

        if (Name.Length > MaxNameLength || Name.Any(char.IsControl))
        {
            return $"name is at most {MaxNameLength} characters, without control characters";
        }

        if (Scopes is not { Count: > 0 })
        {
            return $"scopes is required: one or more of {string.Join(", ", ApiKeyScopes.All)}";
        }

        foreach (var scope in Scopes)
        {
            if (!ApiKeyScopes.All.Contains(scope))
            {
                return $"unknown scope {(scope is null ? "null" : $"'{scope}'")}: scopes are {string.Join(", ", ApiKeyScopes.All)}";
            }
        }

        if (Site is null)
        {
            return null;
        }

        if (Site.Length is 0 or > MaxSiteLength || !Site.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_'))
        {
            return $"site must be a site id as it starts a sensor id: 1 to {MaxSiteLength} lowercase letters, digits, '-' or '_'";
        }

        if (Scopes.Contains(ApiKeyScopes.Admin))
        {
            return "an admin key cannot be bound to a site: what admin keys do (keys, sensors) is not per site";
        }

        return null;
    }

    /// <summary>The scopes as stored: each once, in the order given.</summary>
    public IReadOnlyList<string> DistinctScopes => [.. Scopes!.OfType<string>().Distinct(StringComparer.Ordinal)];
}
