using System.Text;
using Kiln.Api.Extensions;
using Kiln.Shared.Sensors;

namespace Kiln.Api.Sensors;

internal sealed record SensorPage(IReadOnlyList<Sensor> Items, string? Next);

/// <summary>
/// A validated sensor list query: sensors by id, of one site or all, starting strictly after the id the cursor
/// carries (the last one of the previous page).
/// </summary>
internal sealed record SensorPageRequest(string? Site, int Limit, string? After)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>A request from the query's text (an empty parameter counts as absent), or the reason it is not one, in the client's terms.</summary>
    public static (SensorPageRequest? Request, string? Error) Parse(string? site, string? limit, string? cursor)
    {
        if (string.IsNullOrEmpty(site))
        {
            site = null; // ?site= lists every site, like no filter
        }
        else if (SensorId.ValidateSite(site) is { } siteProblem)
        {
            return (null, siteProblem);
        }

        if (!Paging.TryParseLimit(limit, out var pageSize))
        {
            return (null, Paging.LimitProblem);
        }

        string? after = null;
        if (!string.IsNullOrEmpty(cursor) && (after = DecodeCursor(cursor)) is null)
        {
            return (null, Paging.CursorProblem);
        }

        return (new SensorPageRequest(site, pageSize, after), null);
    }

    /// <summary>The cursor after a sensor: its id's UTF-8 bytes.</summary>
    public static string EncodeCursor(string id) => Paging.EncodeCursor(Encoding.UTF8.GetBytes(id));

    /// <summary>The id a cursor carries, or null when it is not a cursor <see cref="EncodeCursor"/> made.</summary>
    public static string? DecodeCursor(string cursor)
    {
        if (Paging.DecodeCursor(cursor) is not { } bytes)
        {
            return null;
        }

        try
        {
            var id = StrictUtf8.GetString(bytes);
            return SensorId.Validate(id) is null ? id : null;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
