using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kiln.DevKafka;

/// <summary>
/// The control port, for tests that inject faults into a running broker: one command per line, one answer
/// line per command (<see cref="ControlCommands"/>). Loopback only and small on purpose: a few connections at
/// a time, a line of at most 1 KiB, idle connections closed. A development tool, not an admin API.
/// </summary>
internal sealed class ControlListener : IDisposable
{
    public const int MaxLineBytes = 1024;
    public const int MaxConnections = 4;
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly Func<string, string> _execute;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _serving = [];
    private readonly Task _accepting;

    private ControlListener(TcpListener listener, Func<string, string> execute)
    {
        _listener = listener;
        _execute = execute;
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> (0: a free port) and answers each line with <paramref name="execute"/>.</summary>
    public static ControlListener Start(int port, Func<string, string> execute)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start(backlog: MaxConnections);
        return new ControlListener(listener, execute);
    }

    /// <summary>Closes the port and waits for a command under way: the cluster it acts on goes next.</summary>
    public void Dispose()
    {
        _stopping.Cancel();
        _listener.Stop();
        Task[] serving;
        lock (_serving)
        {
            serving = [_accepting, .. _serving];
        }

        Task.WaitAll(serving, StopTimeout);
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            lock (_serving)
            {
                _serving.RemoveAll(t => t.IsCompleted);
                _serving.Add(_serving.Count < MaxConnections ? ServeAsync(socket) : RefuseAsync(socket));
            }
        }
    }

    private async Task RefuseAsync(Socket socket)
    {
        using (socket)
        {
            await AnswerAsync(socket, $"error busy: at most {MaxConnections} control connections at a time");
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        var buffer = new byte[MaxLineBytes + 1]; // a full line and its newline
        var filled = 0;
        try
        {
            while (true)
            {
                int newline;
                while ((newline = Array.IndexOf(buffer, (byte)'\n', 0, filled)) < 0)
                {
                    if (filled == buffer.Length)
                    {
                        await AnswerAsync(socket, $"error a line may hold at most {MaxLineBytes} bytes");
                        return;
                    }

                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                    idle.CancelAfter(IdleTimeout);
                    var received = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, idle.Token);
                    if (received == 0)
                    {
                        return;
                    }

                    filled += received;
                }

                var line = Encoding.UTF8.GetString(buffer, 0, newline).TrimEnd('\r');
                await AnswerAsync(socket, _execute(line));
                filled -= newline + 1;
                Buffer.BlockCopy(buffer, newline + 1, buffer, 0, filled);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Idle too long, the broker stopping, or the client gone.
        }
    }

    private async Task AnswerAsync(Socket socket, string answer)
    {
        var bytes = Encoding.UTF8.GetBytes(answer + "\n");
        await socket.SendAsync(bytes, SocketFlags.None, _stopping.Token);
    }
}
