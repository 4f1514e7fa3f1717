using System.Buffers;
using System.Text;
using Kiln.ServiceDefaults.Redis;

namespace Kiln.Tests.Redis;

public class RespWriterTests
{
    [Fact]
    public void Commands_are_arrays_of_bulk_strings()
    {
        var bytes = RespWriter.EncodeCommand("SET", ["key", "value"]);

        Assert.Equal("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Lengths_count_utf8_bytes_not_characters()
    {
        var bytes = RespWriter.EncodeCommand("SET", ["clé", "✓"]);

        Assert.Equal("*3\r\n$3\r\nSET\r\n$4\r\nclé\r\n$3\r\n✓\r\n", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Empty_arguments_and_long_argument_lists_are_encoded_exactly()
    {
        string[] args = ["", .. Enumerable.Range(0, 11).Select(i => new string('x', i * 5))];

        var bytes = RespWriter.EncodeCommand("RPUSH", args);

        var expected = new StringBuilder("*13\r\n$5\r\nRPUSH\r\n");
        foreach (var arg in args)
        {
            expected.Append($"${arg.Length}\r\n{arg}\r\n");
        }

        Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(bytes));
        Assert.Equal(bytes.Length, RespWriter.GetEncodedLength("RPUSH", args));
    }

    [Fact]
    public void Writing_to_a_buffer_writer_matches_encoding_and_round_trips_through_the_reader()
    {
        var output = new ArrayBufferWriter<byte>();
        RespWriter.WriteCommand(output, "HSET", ["h", "f", "v"]);
        RespWriter.WriteCommand(output, "PING", []);

        Assert.Equal([.. RespWriter.EncodeCommand("HSET", ["h", "f", "v"]), .. RespWriter.EncodeCommand("PING", [])], output.WrittenSpan.ToArray());

        var buffer = new ReadOnlySequence<byte>(output.WrittenMemory);
        Assert.True(RespReader.TryRead(ref buffer, out var hset));
        Assert.Equal(["HSET", "h", "f", "v"], hset.Items.Select(i => i.Text));
        Assert.True(RespReader.TryRead(ref buffer, out var ping));
        Assert.Equal("PING", Assert.Single(ping.Items).Text);
    }
}
