using System.Buffers.Binary;
using Kiln.Api.Extensions;
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

        if (!Paging.TryParseLimit(limit, out var pageSize))
        {
            return (null, Paging.LimitProblem);
        }

        DateTimeOffset? after = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (DecodeCursor(cursor) is not { } decoded)
            {
                return (null, Paging.CursorProblem);
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

    /// <summary>The cursor after a reading: its timestamp's UTC ticks.</summary>
    public static string EncodeCursor(DateTimeOffset timestamp) => Paging.EncodeCursor(timestamp.UtcTicks);

    public static DateTimeOffset? DecodeCursor(string cursor) =>
        Paging.DecodeInt64Cursor(cursor) is { } ticks && ticks >= 0 && ticks <= DateTimeOffset.MaxValue.UtcTicks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
}
