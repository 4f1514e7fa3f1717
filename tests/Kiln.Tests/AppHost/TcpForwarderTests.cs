using System.Net;
using System.Net.Sockets;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Provisioning;

namespace Kiln.Tests.AppHost;

/// <summary>The fixed address in front of the development broker: what it forwards, and how closes travel through it.</summary>
public sealed class TcpForwarderTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly TcpForwarder _forwarder = TcpForwarder.Start(0);
    private readonly List<IDisposable> _owned = [];

    [Fact]
    public async Task Bytes_travel_both_ways_and_a_close_travels_through()
    {
        using var server = EchoServer();
        _forwarder.ForwardTo(server.Port);
        using var client = await ConnectAsync();
        var sent = new byte[3 * 1024 * 1024];
        Random.Shared.NextBytes(sent);

        var sending = Task.Run(async () =>
        {
            await client.SendAsync(sent);
            client.Shutdown(SocketShutdown.Send);
        });
        var echoed = await ReadToEndAsync(client);
        await sending;

        // The echo server closed after the client's close reached it, and its close reached the client.
        Assert.Equal(sent, echoed);
    }

    [Fact]
    public async Task A_dead_server_closes_its_connections_and_new_ones_reach_the_next_server()
    {
        var first = EchoServer();
        _forwarder.ForwardTo(first.Port);
        using var client = await ConnectAsync();
        await client.SendAsync("ping"u8.ToArray());
        Assert.Equal("ping"u8.ToArray(), await ReadExactlyAsync(client, 4));

        first.Dispose();
        _forwarder.ForwardTo(0);
        Assert.Empty(await ReadToEndAsync(client)); // closed, not hanging
        using (var refused = await ConnectAsync())
        {
            Assert.Empty(await ReadToEndAsync(refused)); // no server now: closed at once
        }

        using var second = EchoServer();
        _forwarder.ForwardTo(second.Port);
        using var again = await ConnectAsync();
        await again.SendAsync("pong"u8.ToArray());
        Assert.Equal("pong"u8.ToArray(), await ReadExactlyAsync(again, 4));
    }

    [Fact]
    public async Task Disposing_the_forwarder_closes_its_open_connections()
    {
        using var server = EchoServer();
        _forwarder.ForwardTo(server.Port);
        using var client = await ConnectAsync();
        await client.SendAsync("ping"u8.ToArray());
        await ReadExactlyAsync(client, 4);

        _forwarder.Dispose();

        Assert.Empty(await ReadToEndAsync(client));
    }

    public void Dispose()
    {
        _forwarder.Dispose();
        _owned.ForEach(o => o.Dispose());
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, _forwarder.Port);
        return socket;
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        using var deadline = new CancellationTokenSource(Deadline);
        for (var read = 0; read < count;)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, deadline.Token);
            Assert.True(received > 0, $"closed after {read} of {count} bytes");
            read += received;
        }

        return buffer;
    }

    /// <summary>Everything until the other side closes; a reset counts as a close.</summary>
    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var deadline = new CancellationTokenSource(Deadline);
        try
        {
            int count;
            while ((count = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
            {
                received.Write(buffer, 0, count);
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }

        return received.ToArray();
    }

    private EchoListener EchoServer()
    {
        var server = new EchoListener();
        _owned.Add(server);
        return server;
    }

    /// <summary>Sends back what it receives on each connection, and closes a connection when its client does.</summary>
    private sealed class EchoListener : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _accepted = [];
        private readonly CancellationTokenSource _stopping = new();

        public EchoListener()
        {
            _listener.Start();
            _ = ServeAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public void Dispose()
        {
            _stopping.Cancel();
            _listener.Stop();
            lock (_accepted)
            {
                _accepted.ForEach(s => s.Dispose());
            }
        }

        private async Task ServeAsync()
        {
            while (!_stopping.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stopping.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }

                lock (_accepted)
                {
                    _accepted.Add(socket);
                }

                _ = EchoAsync(socket);
            }
        }

        private static async Task EchoAsync(Socket socket)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int count;
                while ((count = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, count), SocketFlags.None);
                }

                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                socket.Dispose();
            }
        }
    }
}
