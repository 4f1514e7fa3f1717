using System.Buffers.Binary;

namespace Kiln.Api.Extensions;

/// <summary>
/// A page's cursor: the key of its last item (a number), opaque to clients: base64url of 8 big-endian bytes. The next page
/// starts strictly after it (keyset pagination: no OFFSET, stable under inserts).
/// </summary>
internal static class Cursor
{
    public static string Encode(long key)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, key);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The key, or null when <paramref name="cursor"/> is not one this API returned.</summary>
    public static long? Decode(string cursor)
    {
        try
        {
            var bytes = Convert.FromBase64String(cursor.Replace('-', '+').Replace('_', '/') + "=");
            return bytes.Length == 8 ? BinaryPrimitives.ReadInt64BigEndian(bytes) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public const string Problem = "'cursor' is not a cursor this API returned; pass the 'next' of the previous page unchanged";
}
