using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kiln.Shared.Security;

namespace Kiln.AppHost.Provisioning;

/// <summary>
/// The secrets the AppHost generates once and keeps in <c>.apphost/secrets.json</c> (mode 600). They
/// are handed to the resources that need them and never printed or logged.
/// </summary>
internal sealed record Secrets
{
    /// <summary>The PostgreSQL superuser's, kept by the AppHost (and for an operator's psql); never handed to a service.</summary>
    public required string PostgresPassword { get; init; }

    /// <summary>The password of the role each database's services log in as (its owner, not a superuser).</summary>
    public string? DatabasePassword { get; init; }
    public required string CachePassword { get; init; }
    public required string AdminApiKey { get; init; }
    public required string IngestApiKey { get; init; }
    public required string ReadApiKey { get; init; }

    /// <summary>The Web's own Api key (admin scope, to acknowledge alerts): revocable apart from the operator's admin key, never sent to a browser.</summary>
    public string? WebApiKey { get; init; }

    /// <summary>The plant simulator's own Api key (scopes ingest and sensors, to declare its plant's sensors): revocable alone.</summary>
    public string? SimulatorApiKey { get; init; }

    /// <summary>The browser token of the dashboard's login URL (<c>/login?t=…</c>).</summary>
    public required string DashboardToken { get; init; }

    /// <summary>The dashboard's HTTP API key (<c>X-API-Key</c> on <c>/api/telemetry/…</c> and <c>/api/resources</c>).</summary>
    public string? DashboardApiKey { get; init; }

    public required string OperatorPassword { get; init; }
    public required string OtlpApiKey { get; init; }

    /// <summary>What a dashboard presents to the AppHost's resource service (<c>x-resource-service-api-key</c>).</summary>
    public string? ResourceServiceApiKey { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    /// <summary>
    /// The secrets in <paramref name="path"/>, or new ones. A file written before a secret existed (a service's database
    /// role, a later key) gets that secret generated and added; what it had is kept.
    /// </summary>
    public static Secrets LoadOrCreate(string path)
    {
        Secrets? loaded = null;
        if (File.Exists(path))
        {
            try
            {
                loaded = JsonSerializer.Deserialize<Secrets>(File.ReadAllText(path), Json) ?? throw new JsonException("empty");
            }
            catch (JsonException ex)
            {
                throw new ProvisioningException(
                    $"{path} is unreadable ({ex.Message}). Start with --fresh to generate new secrets (this also wipes local data).");
            }
        }

        var secrets = new Secrets
        {
            PostgresPassword = loaded?.PostgresPassword ?? NewPassword(),
            DatabasePassword = loaded?.DatabasePassword ?? NewPassword(),
            CachePassword = loaded?.CachePassword ?? NewPassword(),
            AdminApiKey = loaded?.AdminApiKey ?? ApiKeyHash.NewKey(),
            IngestApiKey = loaded?.IngestApiKey ?? ApiKeyHash.NewKey(),
            ReadApiKey = loaded?.ReadApiKey ?? ApiKeyHash.NewKey(),
            WebApiKey = loaded?.WebApiKey ?? ApiKeyHash.NewKey(),
            SimulatorApiKey = loaded?.SimulatorApiKey ?? ApiKeyHash.NewKey(),
            DashboardToken = loaded?.DashboardToken ?? NewPassword(),
            DashboardApiKey = loaded?.DashboardApiKey ?? NewPassword(),
            OperatorPassword = loaded?.OperatorPassword ?? NewPassword(),
            OtlpApiKey = loaded?.OtlpApiKey ?? NewPassword(),
            ResourceServiceApiKey = loaded?.ResourceServiceApiKey ?? NewPassword(),
        };

        if (secrets != loaded)
        {
            OwnerOnlyFile.Write(path, JsonSerializer.Serialize(secrets, Json));
        }

        return secrets;
    }

    /// <summary>32 characters from [A-Za-z0-9]: no quoting trouble in any connection string or config file.</summary>
    public static string NewPassword() =>
        RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);

    /// <summary>Never let a record's generated ToString put a secret in a log.</summary>
    public override string ToString() => "Secrets { *** }";
}
