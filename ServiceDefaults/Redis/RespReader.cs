using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// Parses RESP2 and RESP3 frames from whatever bytes have arrived so far. A frame that is not yet
/// complete leaves the buffer untouched, so the caller simply retries once more bytes arrive.
/// </summary>
public static class RespReader
{
    // Deep enough for any real reply; shallow enough that a hostile peer cannot blow the stack.
    private const int MaxDepth = 128;

    // Redis' own proto-max-bulk-len default; anything larger is a corrupt stream, not a value.
    private const long MaxBulkLength = 512L * 1024 * 1024;

    private static ReadOnlySpan<byte> CrLf => "\r\n"u8;

    /// <summary>
    /// Tries to parse one complete frame from the start of <paramref name="buffer"/>. On success the
    /// buffer is advanced past it; on an incomplete frame it is left as it was.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not valid RESP.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out RespValue? value)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!TryReadValue(ref reader, depth: 0, out value))
        {
            return false;
        }

        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool TryReadValue(ref SequenceReader<byte> reader, int depth, [NotNullWhen(true)] out RespValue? value)
    {
        value = null;
        if (depth > MaxDepth)
        {
            throw new InvalidDataException($"RESP reply nests deeper than {MaxDepth} levels.");
        }

        if (!reader.TryRead(out var type) || !reader.TryReadTo(out ReadOnlySequence<byte> line, CrLf))
        {
            return false;
        }

        switch ((char)type)
        {
            case '+':
                value = RespValue.SimpleString(Decode(line));
                return true;
            case '-':
                value = RespValue.Error(Decode(line));
                return true;
            case ':':
                value = RespValue.FromInteger(ParseInteger(line));
                return true;
            case '(':
                value = RespValue.BigNumber(Decode(line));
                return true;
            case ',':
                value = RespValue.FromDouble(ParseDouble(line));
                return true;
            case '_':
                value = RespValue.Null;
                return true;
            case '#':
                value = ParseBoolean(line);
                return true;
            case '$':
                return TryReadBlob(ref reader, line, RespKind.BulkString, out value);
            case '!':
                return TryReadBlob(ref reader, line, RespKind.Error, out value);
            case '=':
                return TryReadBlob(ref reader, line, RespKind.BulkString, out value, isVerbatim: true);
            case '*':
                return TryReadAggregate(ref reader, line, RespKind.Array, depth, out value);
            case '~':
                return TryReadAggregate(ref reader, line, RespKind.Set, depth, out value);
            case '>':
                return TryReadAggregate(ref reader, line, RespKind.Push, depth, out value);
            case '%':
                return TryReadAggregate(ref reader, line, RespKind.Map, depth, out value);
            default:
                throw new InvalidDataException($"Unexpected RESP type byte 0x{type:X2}.");
        }
    }

    private static bool TryReadBlob(
        ref SequenceReader<byte> reader,
        ReadOnlySequence<byte> header,
        RespKind kind,
        [NotNullWhen(true)] out RespValue? value,
        bool isVerbatim = false)
    {
        value = null;
        var length = ParseInteger(header);
        if (length == -1)
        {
            value = RespValue.Null;
            return true;
        }

        if (length is < 0 or > MaxBulkLength)
        {
            throw new InvalidDataException($"RESP bulk length {length} is out of range.");
        }

        if (reader.Remaining < length + CrLf.Length)
        {
            return false;
        }

        var payload = reader.UnreadSequence.Slice(0, length);
        reader.Advance(length);
        if (!reader.IsNext(CrLf, advancePast: true))
        {
            throw new InvalidDataException("RESP bulk string is not terminated by CRLF.");
        }

        // Verbatim strings start with a three-letter format and a colon ("txt:"); callers want the text.
        if (isVerbatim && length >= 4)
        {
            payload = payload.Slice(4);
        }

        var text = Decode(payload);
        value = kind == RespKind.Error ? RespValue.Error(text) : RespValue.BulkString(text);
        return true;
    }

    private static bool TryReadAggregate(
        ref SequenceReader<byte> reader,
        ReadOnlySequence<byte> header,
        RespKind kind,
        int depth,
        [NotNullWhen(true)] out RespValue? value)
    {
        value = null;
        var count = ParseInteger(header);
        if (count == -1)
        {
            value = RespValue.Null;
            return true;
        }

        var itemCount = kind == RespKind.Map ? count * 2 : count;
        if (count < 0 || itemCount > int.MaxValue)
        {
            throw new InvalidDataException($"RESP aggregate length {count} is out of range.");
        }

        // Do not trust the declared count for the allocation: every item takes at least 3 bytes.
        var items = new List<RespValue>((int)Math.Min(itemCount, reader.Remaining / 3));
        for (var i = 0; i < itemCount; i++)
        {
            if (!TryReadValue(ref reader, depth + 1, out var item))
            {
                return false;
            }

            items.Add(item);
        }

        value = kind switch
        {
            RespKind.Map => RespValue.Map(items),
            RespKind.Set => RespValue.Set(items),
            RespKind.Push => RespValue.Push(items),
            _ => RespValue.Array(items),
        };
        return true;
    }

    private static RespValue ParseBoolean(ReadOnlySequence<byte> line) => line.IsSingleSegment && line.Length == 1
        ? line.FirstSpan[0] switch
        {
            (byte)'t' => RespValue.True,
            (byte)'f' => RespValue.False,
            _ => throw new InvalidDataException("RESP boolean is neither 't' nor 'f'."),
        }
        : throw new InvalidDataException("RESP boolean is neither 't' nor 'f'.");

    private static long ParseInteger(ReadOnlySequence<byte> line)
    {
        Span<byte> digits = stackalloc byte[20];
        if (line.Length is 0 or > 20)
        {
            throw new InvalidDataException("RESP integer is empty or too long.");
        }

        line.CopyTo(digits);
        digits = digits[..(int)line.Length];
        if (!Utf8Parser.TryParse(digits, out long value, out var consumed) || consumed != digits.Length)
        {
            throw new InvalidDataException("RESP integer is not a number.");
        }

        return value;
    }

    private static double ParseDouble(ReadOnlySequence<byte> line)
    {
        var text = Decode(line);
        return text switch
        {
            "inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            "nan" => double.NaN,
            _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) => value,
            _ => throw new InvalidDataException("RESP double is not a number."),
        };
    }

    private static string Decode(ReadOnlySequence<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
