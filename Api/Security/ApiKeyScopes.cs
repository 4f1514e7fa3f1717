namespace Kiln.Api.Security;

/// <summary>What a key may do. Admin keys may also read.</summary>
internal static class ApiKeyScopes
{
    public const string Ingest = "ingest";
    public const string Read = "read";
    public const string Admin = "admin";

    public const string ScopeClaim = "kiln:scope";
    public const string SiteClaim = "kiln:site";
    public const string Header = "X-Api-Key";

    public static readonly string[] All = [Ingest, Read, Admin];
}
