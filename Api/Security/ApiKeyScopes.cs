namespace Kiln.Api.Security;

/// <summary>
/// What a key may do. Admin keys may also read and declare sensors; a sensors key may declare sensors (and, bound to a
/// site, only that site's), so that a gateway or a simulator that sets up its own sensors needs no admin key.
/// </summary>
internal static class ApiKeyScopes
{
    public const string Ingest = "ingest";
    public const string Read = "read";
    public const string Sensors = "sensors";
    public const string Admin = "admin";

    public const string ScopeClaim = "kiln:scope";
    public const string SiteClaim = "kiln:site";
    public const string Header = "X-Api-Key";

    public static readonly string[] All = [Ingest, Read, Sensors, Admin];
}
