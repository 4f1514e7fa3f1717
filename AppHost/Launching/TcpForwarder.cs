using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Kiln.AppHost.Launching;

/// <summary>
/// A fixed loopback address in front of a server whose own port changes when it restarts, as Aspire's DCP
/// puts a proxy in front of every endpoint: each accepted connection is joined to a new connection to the
/// server's current port, and bytes are copied both ways in large blocks, socket to socket. When the server
/// dies its connections close here too, and clients reconnect to the same address, reaching the new server.
/// </summary>
internal sealed class TcpForwarder : IAsyncDisposable
{
    // Per direction and connection, from the shared pool. A Kafka fetch response or produce request is often
    // hundreds of KiB; blocks this large let one copy move most of what the kernel has buffered.
    private const int BlockSize = 256 * 1024;

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, Connection> _connections = new();
    private readonly Task _accepting;
    private long _accepted;
    private volatile int _targetPort;

    private TcpForwarder(Socket listener)
    {
        _listener = listener;
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>The port clients are given; it never changes.</summary>
    public int Port { get; }

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/>; closes what it accepts until <see cref="ForwardTo"/>.</summary>
    public static TcpForwarder Start(int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new TcpForwarder(listener);
    }

    /// <summary>
    /// Joins new connections to 127.0.0.1:<paramref name="port"/>; 0 closes them at once (no server now), so a
    /// client retries instead of waiting. Open connections keep the server they have.
    /// </summary>
    public void ForwardTo(int port) => _targetPort = port;

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        await _accepting;
        foreach (var connection in _connections.Values)
        {
            connection.Close();
        }

        await Task.WhenAll(_connections.Values.Select(c => c.Completion));
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                continue; // a connection reset before it was accepted
            }

            var id = ++_accepted;
            var connection = new Connection(client);
            _connections[id] = connection;
            connection.Completion = RunAsync(id, connection, _targetPort);
        }
    }

    private async Task RunAsync(long id, Connection connection, int port)
    {
        // Off the accept loop at once: connecting to the server must not delay the next accept.
        await Task.Yield();
        try
        {
            if (port != 0)
            {
                await connection.ConnectAsync(port, _stopping.Token);
                await Task.WhenAll(
                    connection.CopyAsync(connection.Client, connection.Server),
                    connection.CopyAsync(connection.Server, connection.Client));
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The server refused or went away: the client sees its connection close and reconnects.
        }
        finally
        {
            connection.Close();
            _connections.TryRemove(id, out _);
        }
    }

    /// <summary>One client's connection and the server connection it is joined to.</summary>
    private sealed class Connection(Socket client)
    {
        public Socket Client { get; } = client;

        public Socket Server { get; } = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public Task Completion { get; set; } = Task.CompletedTask;

        public async Task ConnectAsync(int port, CancellationToken cancellationToken)
        {
            // Requests and responses are whole messages: Nagle would only hold back their last segments.
            Client.NoDelay = true;
            Server.NoDelay = true;
            await Server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        }

        /// <summary>
        /// Copies until <paramref name="from"/> ends its sending, then ends <paramref name="to"/>'s, so a close
        /// travels through as a close. A failure on either side closes both, which ends the other direction.
        /// </summary>
        public async Task CopyAsync(Socket from, Socket to)
        {
            var block = ArrayPool<byte>.Shared.Rent(BlockSize);
            try
            {
                while (true)
                {
                    var received = await from.ReceiveAsync(block.AsMemory(), SocketFlags.None);
                    if (received == 0)
                    {
                        to.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    for (var sent = 0; sent < received;)
                    {
                        sent += await to.SendAsync(block.AsMemory(sent, received - sent), SocketFlags.None);
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                Close();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(block);
            }
        }

        public void Close()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }
}
