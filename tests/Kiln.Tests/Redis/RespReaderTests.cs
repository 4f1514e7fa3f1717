using System.Buffers;
using System.Text;
using Kiln.ServiceDefaults.Redis;

namespace Kiln.Tests.Redis;

public class RespReaderTests
{
    [Fact]
    public void Reads_simple_strings_errors_and_integers()
    {
        Assert.Equal(("OK", RespKind.SimpleString), TextOf(ReadOne("+OK\r\n")));
        Assert.Equal(("ERR unknown command", RespKind.Error), TextOf(ReadOne("-ERR unknown command\r\n")));

        var integer = ReadOne(":-42\r\n");
        Assert.Equal(RespKind.Integer, integer.Kind);
        Assert.Equal(-42, integer.IntegerValue);
        Assert.Equal(long.MaxValue, ReadOne($":{long.MaxValue}\r\n").IntegerValue);
    }

    [Fact]
    public void Reads_bulk_strings_including_empty_null_binary_safe_and_utf8()
    {
        Assert.Equal(("hello", RespKind.BulkString), TextOf(ReadOne("$5\r\nhello\r\n")));
        Assert.Equal(("", RespKind.BulkString), TextOf(ReadOne("$0\r\n\r\n")));
        Assert.Equal(("a\r\nb", RespKind.BulkString), TextOf(ReadOne("$4\r\na\r\nb\r\n")));
        Assert.Equal(("héllo ✓", RespKind.BulkString), TextOf(ReadOne($"${Encoding.UTF8.GetByteCount("héllo ✓")}\r\nhéllo ✓\r\n")));
        Assert.True(ReadOne("$-1\r\n").IsNull);
    }

    [Fact]
    public void Reads_arrays_including_empty_null_mixed_and_nested()
    {
        Assert.Empty(ReadOne("*0\r\n").Items);
        Assert.True(ReadOne("*-1\r\n").IsNull);

        var nested = ReadOne("*3\r\n:1\r\n*2\r\n+a\r\n*1\r\n$1\r\nb\r\n$-1\r\n");
        Assert.Equal(RespKind.Array, nested.Kind);
        Assert.Equal(3, nested.Items.Count);
        Assert.Equal(1, nested.Items[0].IntegerValue);
        Assert.Equal("a", nested.Items[1].Items[0].Text);
        Assert.Equal("b", nested.Items[1].Items[1].Items[0].Text);
        Assert.True(nested.Items[2].IsNull);
    }

    [Fact]
    public void Reads_resp3_types()
    {
        Assert.True(ReadOne("_\r\n").IsNull);
        Assert.True(ReadOne("#t\r\n").BooleanValue);
        Assert.False(ReadOne("#f\r\n").BooleanValue);
        Assert.Equal(3.25, ReadOne(",3.25\r\n").DoubleValue);
        Assert.Equal(double.NegativeInfinity, ReadOne(",-inf\r\n").DoubleValue);
        Assert.Equal(1e10, ReadOne(",1e10\r\n").DoubleValue);
        Assert.Equal(("3492890328409238509324850943850943825024385", RespKind.BigNumber), TextOf(ReadOne("(3492890328409238509324850943850943825024385\r\n")));
        Assert.Equal(("Some string", RespKind.BulkString), TextOf(ReadOne("=15\r\ntxt:Some string\r\n")));
        Assert.Equal(("SYNTAX invalid syntax", RespKind.Error), TextOf(ReadOne("!21\r\nSYNTAX invalid syntax\r\n")));

        var map = ReadOne("%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n");
        Assert.Equal(RespKind.Map, map.Kind);
        Assert.Equal(["first", "1", "second"], map.Items.Take(3).Select(i => i.AsString()));
        Assert.Equal(2, map.Items[3].Items[0].IntegerValue);

        var push = ReadOne(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nhey\r\n");
        Assert.Equal(RespKind.Push, push.Kind);
        Assert.Equal(["message", "ch", "hey"], push.Items.Select(i => i.AsString()));

        var set = ReadOne("~2\r\n+a\r\n+b\r\n");
        Assert.Equal(RespKind.Set, set.Kind);
        Assert.Equal(2, set.Items.Count);
    }

    [Theory]
    [InlineData("+OK\r\n")]
    [InlineData(":12345\r\n")]
    [InlineData("$12\r\nhello\r\nworld\r\n")]
    [InlineData("*3\r\n:1\r\n*2\r\n+a\r\n*1\r\n$1\r\nb\r\n$-1\r\n")]
    [InlineData("%1\r\n$3\r\nkey\r\n,1.5\r\n")]
    [InlineData(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nhé\r\n")]
    public void A_frame_split_at_every_byte_parses_only_once_complete(string frame)
    {
        var bytes = Encoding.UTF8.GetBytes(frame);
        var whole = ReadOne(frame);

        for (var available = 0; available < bytes.Length; available++)
        {
            var partial = new ReadOnlySequence<byte>(bytes, 0, available);
            Assert.False(RespReader.TryRead(ref partial, out _), $"parsed from only {available} of {bytes.Length} bytes");
            Assert.Equal(available, partial.Length);
        }

        // The same frame spread over one-byte segments, as a pipe may deliver it.
        var segmented = OneByteSegments(bytes);
        Assert.True(RespReader.TryRead(ref segmented, out var value));
        Assert.True(segmented.IsEmpty);
        Assert.Equal(whole.ToString(), value.ToString());
        Assert.Equal(Flatten(whole), Flatten(value));
    }

    [Fact]
    public void Consecutive_frames_are_read_one_at_a_time_leaving_the_rest()
    {
        var buffer = new ReadOnlySequence<byte>("+OK\r\n:7\r\n$3\r\nab"u8.ToArray());

        Assert.True(RespReader.TryRead(ref buffer, out var first));
        Assert.Equal("OK", first.Text);
        Assert.True(RespReader.TryRead(ref buffer, out var second));
        Assert.Equal(7, second.IntegerValue);
        Assert.False(RespReader.TryRead(ref buffer, out _));
        Assert.Equal("$3\r\nab"u8.ToArray(), buffer.ToArray());
    }

    [Theory]
    [InlineData("?what\r\n")]
    [InlineData(":12x\r\n")]
    [InlineData("$3\r\nabcd\r\n")]
    [InlineData("$-5\r\n")]
    [InlineData("#x\r\n")]
    [InlineData(",abc\r\n")]
    public void Malformed_input_is_rejected_as_invalid_data(string frame)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(frame));
        Assert.Throws<InvalidDataException>(() => RespReader.TryRead(ref buffer, out _));
    }

    private static RespValue ReadOne(string frame)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(frame));
        Assert.True(RespReader.TryRead(ref buffer, out var value));
        Assert.True(buffer.IsEmpty, "the whole frame should be consumed");
        return value;
    }

    private static (string?, RespKind) TextOf(RespValue value) => (value.Text, value.Kind);

    private static string Flatten(RespValue value) => value.Items.Count == 0
        ? $"{value.Kind}:{value.AsString()}"
        : $"{value.Kind}[{string.Join(",", value.Items.Select(Flatten))}]";

    private static ReadOnlySequence<byte> OneByteSegments(byte[] bytes)
    {
        var first = new Segment(bytes.AsMemory(0, 1), 0);
        var last = first;
        for (var i = 1; i < bytes.Length; i++)
        {
            last = last.Append(bytes.AsMemory(i, 1));
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
