using System.Security.Cryptography;
using System.Text;

namespace Kiln.Shared.Security;

/// <summary>
/// The operator's sign-in password. The AppHost hands the Web only its hash: the password is 190 random bits
/// (32 characters of [A-Za-z0-9]), so a plain SHA-256 is enough, and the Web never holds the password itself.
/// </summary>
public static class OperatorPassword
{
    public static string Hash(string password) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(password)));

    /// <summary>Compares the candidate's hash with the expected one in constant time (64 hex digits each, whatever was typed).</summary>
    public static bool Matches(string candidate, string expectedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(candidate)), Encoding.ASCII.GetBytes(expectedHash.ToLowerInvariant()));
}
