using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>Encodes commands the way every Redis server accepts them: an array of UTF-8 bulk strings.</summary>
public static class RespWriter
{
    /// <summary>Encodes <c>command arg1 arg2…</c> into a new array, sized exactly.</summary>
    public static byte[] EncodeCommand(string command, ReadOnlySpan<string> args)
    {
        var bytes = new byte[GetEncodedLength(command, args)];
        Write(bytes, command, args);
        return bytes;
    }

    /// <summary>Appends <c>command arg1 arg2…</c> to <paramref name="output"/>.</summary>
    public static void WriteCommand(IBufferWriter<byte> output, string command, ReadOnlySpan<string> args)
    {
        ArgumentNullException.ThrowIfNull(output);
        var length = GetEncodedLength(command, args);
        var written = Write(output.GetSpan(length), command, args);
        output.Advance(written);
    }

    public static int GetEncodedLength(string command, ReadOnlySpan<string> args)
    {
        ArgumentNullException.ThrowIfNull(command);
        var length = HeaderLength(args.Length + 1) + BulkLength(command);
        foreach (var arg in args)
        {
            ArgumentNullException.ThrowIfNull(arg, nameof(args));
            length += BulkLength(arg);
        }

        return length;
    }

    private static int Write(Span<byte> destination, string command, ReadOnlySpan<string> args)
    {
        var position = WriteHeader(destination, (byte)'*', args.Length + 1);
        position += WriteBulk(destination[position..], command);
        foreach (var arg in args)
        {
            position += WriteBulk(destination[position..], arg);
        }

        return position;
    }

    private static int BulkLength(string value)
    {
        var byteCount = Encoding.UTF8.GetByteCount(value);
        return HeaderLength(byteCount) + byteCount + 2;
    }

    private static int HeaderLength(int count) => 1 + DigitCount(count) + 2;

    private static int WriteBulk(Span<byte> destination, string value)
    {
        var byteCount = Encoding.UTF8.GetByteCount(value);
        var position = WriteHeader(destination, (byte)'$', byteCount);
        position += Encoding.UTF8.GetBytes(value, destination[position..]);
        destination[position++] = (byte)'\r';
        destination[position++] = (byte)'\n';
        return position;
    }

    private static int WriteHeader(Span<byte> destination, byte type, int count)
    {
        destination[0] = type;
        Utf8Formatter.TryFormat(count, destination[1..], out var digits);
        destination[1 + digits] = (byte)'\r';
        destination[2 + digits] = (byte)'\n';
        return 3 + digits;
    }

    private static int DigitCount(int value)
    {
        var digits = 1;
        while (value >= 10)
        {
            value /= 10;
            digits++;
        }

        return digits;
    }
}
