namespace Kiln.AppHost.ResourceService;

/// <summary>
/// Which environment values a dashboard must mask. A value is secret when it holds one of the AppHost's generated secrets
/// (so a connection string with a password, or OTEL_EXPORTER_OTLP_HEADERS with the OTLP key, is caught without a list of
/// names to keep up to date), or when its name says it is one (a key's hash, a password's hash).
/// </summary>
internal static class EnvironmentSecrets
{
    private static readonly string[] SecretWords = ["KEY", "PASSWORD", "SECRET", "TOKEN", "HASH", "PWD"];

    public static bool IsSecret(string name, string value, IReadOnlyCollection<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(secrets);
        return SecretWords.Any(word => name.Contains(word, StringComparison.OrdinalIgnoreCase))
            || secrets.Any(secret => secret.Length > 0 && value.Contains(secret, StringComparison.Ordinal));
    }

    /// <summary>Every value of the AppHost's secrets (every string the record holds, so a secret added later is covered).</summary>
    public static IReadOnlyCollection<string> ValuesOf(Provisioning.Secrets secrets) =>
        [.. typeof(Provisioning.Secrets).GetProperties()
            .Where(p => p.PropertyType == typeof(string))
            .Select(p => (string?)p.GetValue(secrets))
            .OfType<string>()
            .Where(v => v.Length > 0)];
}
