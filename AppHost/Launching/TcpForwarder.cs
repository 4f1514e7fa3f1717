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
/// <remarks>
/// Each direction of a connection is copied by a thread of its own, blocked in the kernel between blocks.
/// The connections are few (a Kafka client keeps one or two per broker) and carry small requests at a high
/// rate: awaited socket calls cost a thread-pool dispatch per request and kept the pool's workers spinning
/// between them, 3 to 4 times the CPU of this for the same traffic (measured with bench/KafkaBench).
/// </remarks>
internal sealed class TcpForwarder : IDisposable
{
    // Per direction and connection: a Kafka produce request or fetch response is often hundreds of KiB,
    // and one receive then takes most of what the kernel holds.
    private const int BlockSize = 256 * 1024;

    // Copying threads only block in the kernel and run no managed code of note: a small stack is plenty.
    private const int ThreadStackSize = 256 * 1024;

    private readonly Socket _listener;
    private readonly ConcurrentDictionary<Connection, byte> _connections = new();
    private readonly Thread _accepting;
    private volatile int _targetPort;
    private volatile bool _disposed;

    private TcpForwarder(Socket listener)
    {
        _listener = listener;
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        _accepting = StartThread(Accept);
    }

    /// <summary>The port clients are given; it never changes.</summary>
    public int Port { get; }

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> (0: one the kernel picks, see <see cref="Port"/>); closes what it accepts until <see cref="ForwardTo"/>.</summary>
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

    /// <summary>Stops accepting and closes every open connection; their threads then end.</summary>
    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose(); // wakes the accepting thread
        _accepting.Join();
        foreach (var connection in _connections.Keys)
        {
            connection.Dispose();
        }
    }

    private void Accept()
    {
        while (!_disposed)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // Disposed, a connection reset before it was accepted, or out of descriptors: never a busy loop.
                Thread.Sleep(10);
                continue;
            }

            var port = _targetPort;
            if (port == 0 || _disposed)
            {
                client.Dispose();
                continue;
            }

            var connection = new Connection(client, this);
            _connections[connection] = 0;
            StartThread(() => connection.Run(port));
        }
    }

    private static Thread StartThread(ThreadStart work)
    {
        var thread = new Thread(work, ThreadStackSize) { IsBackground = true, Name = "tcp-forwarder" };
        thread.Start();
        return thread;
    }

    /// <summary>One client's connection and the server connection it is joined to.</summary>
    private sealed class Connection(Socket client, TcpForwarder forwarder) : IDisposable
    {
        private readonly Socket _server = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private int _directionsEnded;
        private int _closed;

        /// <summary>Connects to the server, copies server to client on a second thread and client to server on this one.</summary>
        public void Run(int port)
        {
            try
            {
                // Requests and responses are whole messages: Nagle would only hold back their last segments.
                client.NoDelay = true;
                _server.NoDelay = true;
                _server.Connect(new IPEndPoint(IPAddress.Loopback, port));
                StartThread(() => Copy(_server, client));
                Copy(client, _server);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // The server refused or went away: the client sees its connection close and reconnects.
                Dispose();
            }
        }

        /// <summary>
        /// Copies until <paramref name="from"/> ends its sending, then ends <paramref name="to"/>'s, so a close
        /// travels through as a close; the connection is closed once both directions ended. A failure on
        /// either side closes both at once, which wakes the other direction's thread.
        /// </summary>
        private void Copy(Socket from, Socket to)
        {
            var block = GC.AllocateUninitializedArray<byte>(BlockSize);
            try
            {
                int received;
                while ((received = from.Receive(block)) > 0)
                {
                    to.Send(block, received, SocketFlags.None);
                }

                to.Shutdown(SocketShutdown.Send);
                if (Interlocked.Increment(ref _directionsEnded) == 2)
                {
                    Dispose();
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                Dispose();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 1)
            {
                return;
            }

            // Disposing a socket another thread is blocked on wakes that thread (the runtime shuts it down first).
            client.Dispose();
            _server.Dispose();
            forwarder._connections.TryRemove(this, out _);
        }
    }
}
