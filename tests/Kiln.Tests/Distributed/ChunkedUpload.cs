using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kiln.Tests.Distributed;

/// <summary>
/// Sends a body chunked (no length announced) over a connection of its own, and reads the answer even when the
/// server stops reading before the body ends. HttpClient reports the broken pipe of the rest of such a body
/// instead of the answer that arrived before it, which makes a body limit on chunked uploads untestable with it.
/// </summary>
internal static class ChunkedUpload
{
    public static async Task<HttpResponseMessage> SendAsync(Uri server, HttpMethod method, string path, IEnumerable<(string Name, string Value)> headers,
        byte[] body, TimeSpan within)
    {
        using var deadline = new CancellationTokenSource(within);
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, deadline.Token);
        var stream = client.GetStream();
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: {server.Authority}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()), deadline.Token);
        try
        {
            foreach (var chunk in body.Chunk(64 * 1024))
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"), deadline.Token);
                await stream.WriteAsync(chunk, deadline.Token);
                await stream.WriteAsync("\r\n"u8.ToArray(), deadline.Token);
            }

            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), deadline.Token);
        }
        catch (IOException)
        {
            // The server stopped reading: its answer is already on the way.
        }

        var received = new MemoryStream();
        try
        {
            await stream.CopyToAsync(received, deadline.Token);
        }
        catch (IOException)
        {
            // A reset after the answer: what arrived before it is kept.
        }

        return Parse(received.ToArray());
    }

    /// <summary>An HTTP/1.1 response: status line, headers, then a body either chunked or as long as what remains.</summary>
    private static HttpResponseMessage Parse(byte[] raw)
    {
        var split = raw.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(split > 0, $"no HTTP response arrived ({raw.Length} bytes)");
        var lines = Encoding.ASCII.GetString(raw, 0, split).Split("\r\n");
        var response = new HttpResponseMessage((HttpStatusCode)int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture));
        var body = raw.AsSpan(split + 4);
        var contentHeaders = new List<(string, string)>();
        var chunked = false;
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (name, value) = (line[..colon], line[(colon + 1)..].Trim());
            chunked |= name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase);
            if (!response.Headers.TryAddWithoutValidation(name, value))
            {
                contentHeaders.Add((name, value));
            }
        }

        response.Content = new ByteArrayContent(chunked ? Dechunk(body) : body.ToArray());
        foreach (var (name, value) in contentHeaders)
        {
            response.Content.Headers.TryAddWithoutValidation(name, value);
        }

        return response;
    }

    private static byte[] Dechunk(ReadOnlySpan<byte> body)
    {
        var content = new MemoryStream();
        while (body.IndexOf("\r\n"u8) is var end and > 0)
        {
            var size = int.Parse(Encoding.ASCII.GetString(body[..end]), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                break;
            }

            content.Write(body.Slice(end + 2, size));
            body = body[(end + 2 + size + 2)..];
        }

        return content.ToArray();
    }
}
