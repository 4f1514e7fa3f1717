using System.Buffers.Binary;

namespace Kiln.Shared.Readings;

/// <summary>
/// How a reading travels on <c>kiln.readings</c>: the message key is the sensor id (so one sensor's readings stay
/// in order on one partition) and the value is 17 bytes, not ~95 of JSON that repeated the key. The development
/// broker keeps 5 MiB per partition; the smaller a reading, the more of them it holds before it drops old ones.
/// <code>
/// byte  0      format, 1
/// bytes 1..8   device timestamp, Unix microseconds (the precision PostgreSQL stores), int64 big-endian
/// bytes 9..16  value, IEEE 754 double, big-endian
/// </code>
/// </summary>
public static class ReadingEncoding
{
    public const byte Format = 1;
    public const int Length = 17;

    private static readonly long MinMicroseconds = UnixMicroseconds.From(DateTimeOffset.MinValue);
    private static readonly long MaxMicroseconds = UnixMicroseconds.From(DateTimeOffset.MaxValue);

    public static byte[] Encode(ReadingMessage reading)
    {
        ArgumentNullException.ThrowIfNull(reading);

        var value = new byte[Length];
        value[0] = Format;
        BinaryPrimitives.WriteInt64BigEndian(value.AsSpan(1), UnixMicroseconds.From(reading.Timestamp));
        BinaryPrimitives.WriteDoubleBigEndian(value.AsSpan(9), reading.Value);
        return value;
    }

    /// <summary>Whether <paramref name="value"/> claims this format; JSON never starts with its format byte.</summary>
    public static bool IsEncoded(ReadOnlySpan<byte> value) => value.Length > 0 && value[0] == Format;

    /// <summary>The reading of <paramref name="sensorId"/> in <paramref name="value"/>, or why there is none.</summary>
    public static (ReadingMessage? Reading, string? Problem) Decode(string sensorId, ReadOnlySpan<byte> value)
    {
        if (value.Length != Length || value[0] != Format)
        {
            return (null, $"a format-{Format} reading is {Length} bytes, this value is {value.Length}");
        }

        var microseconds = BinaryPrimitives.ReadInt64BigEndian(value[1..]);
        if (microseconds < MinMicroseconds || microseconds > MaxMicroseconds)
        {
            return (null, $"timestamp {microseconds} µs after 1970 is out of range");
        }

        return (new ReadingMessage(sensorId, UnixMicroseconds.ToTimestamp(microseconds), BinaryPrimitives.ReadDoubleBigEndian(value[9..])), null);
    }
}
