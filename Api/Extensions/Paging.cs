using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;

namespace Kiln.Api.Extensions;

/// <summary>
/// What every paged list shares: the page size a client may ask for, and the opaque cursor that says where the next
/// page starts. A cursor is the position of the last item returned (keyset pagination: no OFFSET, stable under inserts),
/// as base64url bytes, so that clients pass it back unchanged instead of building one.
/// </summary>
internal static class Paging
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>No position a list pages by takes more: a longer cursor was not made here, and is refused before it is decoded.</summary>
    private const int MaxCursorLength = 256;

    public const string LimitProblem = "'limit' must be a whole number from 1 to 1000";

    public const string CursorProblem = "'cursor' is not a cursor this API returned; pass the 'next' of the previous page unchanged";

    /// <summary>The page size from the query's text (empty counts as absent), or false when it is not one.</summary>
    public static bool TryParseLimit(string? text, out int limit)
    {
        limit = DefaultLimit;
        return string.IsNullOrEmpty(text)
            || (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= MaxLimit);
    }

    public static string EncodeCursor(ReadOnlySpan<byte> position) => Base64Url.EncodeToString(position);

    /// <summary>A cursor whose position is a number: 8 bytes, big-endian.</summary>
    public static string EncodeCursor(long position)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, position);
        return EncodeCursor(bytes);
    }

    /// <summary>The number a cursor from <see cref="EncodeCursor(long)"/> carries, or null when it is not one.</summary>
    public static long? DecodeInt64Cursor(string cursor) =>
        DecodeCursor(cursor) is { Length: 8 } bytes ? BinaryPrimitives.ReadInt64BigEndian(bytes) : null;

    /// <summary>The position a cursor carries, or null when it is not base64url at all; the caller checks that the bytes are a position.</summary>
    public static byte[]? DecodeCursor(string cursor)
    {
        if (cursor.Length > MaxCursorLength)
        {
            return null;
        }

        try
        {
            return Base64Url.DecodeFromChars(cursor);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
