using System.Buffers.Binary;
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

    public static (ReadingPageRequest? Request, string? Error) Parse(string id, DateTimeOffset? from, DateTimeOffset? to, int? limit, string? cursor)
    {
        if (Kiln.Shared.Sensors.SensorId.Validate(id) is { } idProblem)
        {
            return (null, idProblem);
        }

        // PostgreSQL's timestamptz takes UTC only; any offset the client sent is the same instant in UTC.
        var start = from?.ToUniversalTime() ?? DateTimeOffset.MinValue;
        var end = to?.ToUniversalTime() ?? DateTimeOffset.MaxValue;
        if (start >= end)
        {
            return (null, "'from' must be before 'to'");
        }

        if (limit is < 1 or > MaxLimit)
        {
            return (null, $"'limit' must be between 1 and {MaxLimit}");
        }

        DateTimeOffset? after = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (DecodeCursor(cursor) is not { } decoded)
            {
                return (null, "'cursor' is not a cursor this API returned");
            }

            after = decoded;
        }

        return (new ReadingPageRequest(id, start, end, limit ?? DefaultLimit, after), null);
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
