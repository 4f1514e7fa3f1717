using System.Security.Cryptography;
using System.Text;

namespace Kiln.Shared.Security;

/// <summary>
/// API keys are stored only as this hash. Keys are 256-bit random secrets, so a plain SHA-256 is
/// enough (a slow password hash protects low-entropy secrets, which these are not).
/// </summary>
public static class ApiKeyHash
{
    public const string Prefix = "kiln_";

    public static string Compute(string key) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>A new key: a recognisable prefix and 32 random bytes, URL-safe.</summary>
    public static string NewKey() =>
        Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
