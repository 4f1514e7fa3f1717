using System.Buffers.Binary;
using System.Globalization;
using Kiln.Shared.Sensors;

namespace Kiln.Api.Readings;

internal sealed record ReadingItem(DateTimeOffset Timestamp, double Value);

internal sealed record ReadingPage(IReadOnlyList<ReadingItem> Items, string? Next);

/// <summary>
/// A validated page query. The cursor is opaque to clients: the timestamp of the last item returned,
/// so the next page starts strictly after it (keyset pagination: no OFFSET, stable under inserts).
/// </summary>
internal sealed record ReadingPageRequest(string SensorId, DateTimeOffset From, DateTimeOffset To, int Limit, DateTimeOffset? After)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>A request from the query's text (an empty parameter counts as absent), or the reason it is not one, in the client's terms.</summary>
    public static (ReadingPageRequest? Request, string? Error) Parse(string id, string? from, string? to, string? limit, string? cursor)
    {
        if (Kiln.Shared.Sensors.SensorId.Validate(id) is { } idProblem)
        {
            return (null, idProblem);
        }

        if (!TryParseBound("from", from, out var start, out var error) || !TryParseBound("to", to, out var end, out error))
        {
            return (null, error);
        }

        // PostgreSQL's timestamptz takes UTC only; any offset the client sent is the same instant in UTC.
        start = start?.ToUniversalTime();
        end = end?.ToUniversalTime();
        if (start >= end)
        {
            return (null, "'from' must be before 'to'");
        }

        var pageSize = DefaultLimit;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > MaxLimit))
        {
            return (null, $"'limit' must be a whole number from 1 to {MaxLimit}");
        }

        DateTimeOffset? after = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (DecodeCursor(cursor) is not { } decoded)
            {
                return (null, "'cursor' is not a cursor this API returned; pass the 'next' of the previous page unchanged");
            }

            after = decoded;
        }

        return (new ReadingPageRequest(id, start ?? DateTimeOffset.MinValue, end ?? DateTimeOffset.MaxValue, pageSize, after), null);
    }

    internal static bool TryParseBound(string name, string? text, out DateTimeOffset? bound, out string? error)
    {
        bound = null;
        error = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (Rfc3339.TryParse(text, out var parsed))
        {
            bound = parsed;
            return true;
        }

        // An unencoded '+' in a query string arrives as a space.
        error = text.Contains(' ', StringComparison.Ordinal)
            ? $"'{name}' must be {Rfc3339.Expectation}; encode a '+' offset as %2B"
            : $"'{name}' must be {Rfc3339.Expectation}";
        return false;
    }

    public static string EncodeCursor(DateTimeOffset timestamp)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, timestamp.UtcTicks);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static DateTimeOffset? DecodeCursor(string cursor)
    {
        try
        {
            var base64 = cursor.Replace('-', '+').Replace('_', '/') + "=";
            var bytes = Convert.FromBase64String(base64);
            if (bytes.Length != 8)
            {
                return null;
            }

            var ticks = BinaryPrimitives.ReadInt64BigEndian(bytes);
            return ticks is < 0 || ticks > DateTimeOffset.MaxValue.UtcTicks ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
