using System.Security.Cryptography;
using System.Text;

namespace Kiln.Dashboard.Authentication;

/// <summary>
/// Compares a presented key or token with the configured ones in constant time: both are hashed first, so neither
/// the content nor the length of a secret shows in how long a refusal takes.
/// </summary>
internal sealed class SecretComparer(IEnumerable<string> secrets)
{
    private readonly byte[][] _hashes = [.. secrets.Select(Hash)];

    public bool Matches(string? presented)
    {
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        var hash = Hash(presented);
        var matched = false;
        foreach (var candidate in _hashes)
        {
            matched |= CryptographicOperations.FixedTimeEquals(hash, candidate);
        }

        return matched;
    }

    private static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));
}
