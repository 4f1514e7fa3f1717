using System.Text.Json;

namespace Kiln.Api.Readings;

/// <summary>
/// RFC 3339 date-times, which always carry their offset: <c>2026-11-22T09:00:00Z</c>, <c>…T09:00:00.5+01:00</c>.
/// System.Text.Json reads them, but also a date alone or a time without an offset, which it takes as the
/// server's local time: an instant that would depend on where the Api runs. So what it reads must also have
/// seconds and end in <c>Z</c> or <c>±hh:mm</c>.
/// </summary>
internal static class Rfc3339
{
    public const string Expectation = "an RFC 3339 date-time with seconds and a zone offset (Z or ±hh:mm), such as 2026-11-22T09:00:00Z";

    /// <summary>The longest date-time worth reading: nine fraction digits and an offset.</summary>
    private const int MaxLength = 40;

    /// <summary>The same, every character escaped as <c>\uXXXX</c>.</summary>
    private const int MaxEscapedLength = MaxLength * 6;

    /// <summary>Reads the current token of <paramref name="reader"/>; false when it is not an RFC 3339 date-time string.</summary>
    public static bool TryRead(ref Utf8JsonReader reader, out DateTimeOffset value)
    {
        value = default;
        var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (reader.TokenType != JsonTokenType.String || length > MaxEscapedLength)
        {
            return false;
        }

        // Serializers may escape '+' (System.Text.Json writes \u002B), and a body read from a pipe may split the
        // token across segments: judge the text itself.
        scoped ReadOnlySpan<byte> text = reader.ValueSpan;
        Span<byte> copy = stackalloc byte[MaxEscapedLength];
        if (reader.ValueIsEscaped || reader.HasValueSequence)
        {
            try
            {
                text = copy[..reader.CopyString(copy)];
            }
            catch (InvalidOperationException)
            {
                return false; // an escaped lone surrogate
            }
        }

        return HasSecondsAndOffset(text) && reader.TryGetDateTimeOffset(out value);
    }

    /// <summary>Parses a query parameter with the same reader as a body's timestamps.</summary>
    public static bool TryParse(string text, out DateTimeOffset value)
    {
        var reader = new Utf8JsonReader(JsonSerializer.SerializeToUtf8Bytes(text));
        reader.Read();
        return TryRead(ref reader, out value);
    }

    /// <summary><c>yyyy-MM-ddTHH:mm:ss</c>, any fraction, then <c>Z</c> or <c>±hh:mm</c>; the reader checks the rest.</summary>
    private static bool HasSecondsAndOffset(ReadOnlySpan<byte> text) =>
        text.Length is >= 20 and <= MaxLength && text[10] == 'T' && text[16] == ':' &&
        (text[^1] == 'Z' || (text[^6] is (byte)'+' or (byte)'-' && text[^3] == ':'));
}
