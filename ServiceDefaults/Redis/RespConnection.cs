using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// One authenticated TCP (or TLS) connection speaking RESP. It knows nothing about multiplexing or
/// subscriptions; <see cref="RedisClient"/> and <see cref="PubSubConnection"/> build those on top.
/// </summary>
internal sealed class RespConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    private RespConnection(Socket socket, Stream stream, string endpoint)
    {
        _socket = socket;
        _stream = stream;
        Endpoint = endpoint;
        // The pipes leave the stream open so that disposing it stays our job, done once, last.
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public string Endpoint { get; }

    public PipeReader Input { get; }

    /// <summary>For a single writer loop that batches; everyone else goes through <see cref="SendAsync"/>.</summary>
    public PipeWriter Output { get; }

    /// <summary>Connects, upgrades to TLS if asked, and runs the handshake (AUTH, SELECT, CLIENT SETNAME).</summary>
    /// <exception cref="RedisConnectionException">Any failure, with a message saying which endpoint and what went wrong.</exception>
    public static async Task<RespConnection> OpenAsync(RedisClientOptions options, string? clientNameSuffix, CancellationToken cancellationToken)
    {
        var endpoint = options.Endpoint;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.ConnectTimeout);

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        RespConnection? connection = null;
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            // The kernel's defaults notice a dead peer after two hours; probe after 10 s idle, every 3 s,
            // and give up after 3 misses, so a half-open connection fails (and reconnects) within ~20 s.
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 10);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 3);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
            await socket.ConnectAsync(options.Host, options.Port, deadline.Token);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (options.Ssl)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = options.Host }, deadline.Token);
            }

            connection = new RespConnection(socket, stream, endpoint);
            await connection.HandshakeAsync(options, clientNameSuffix, deadline.Token);
            return connection;
        }
        catch (Exception ex)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
            else
            {
                socket.Dispose();
            }

            cancellationToken.ThrowIfCancellationRequested();

            throw ex switch
            {
                RedisConnectionException => ex,
                OperationCanceledException => new RedisConnectionException(
                    $"Could not connect to Redis at {endpoint}: no answer within {options.ConnectTimeout.TotalMilliseconds:0} ms (connectTimeout).", ex),
                SocketException socketError => new RedisConnectionException(
                    $"Could not connect to Redis at {endpoint}: {socketError.SocketErrorCode} ({socketError.Message}).", ex),
                _ => new RedisConnectionException($"Could not connect to Redis at {endpoint}: {RedisClient.Describe(ex)}", ex),
            };
        }
    }

    /// <summary>Reads the next complete frame.</summary>
    /// <exception cref="EndOfStreamException">The server closed the connection.</exception>
    public async ValueTask<RespValue> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await Input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (RespReader.TryRead(ref buffer, out var value))
            {
                Input.AdvanceTo(buffer.Start);
                return value;
            }

            // Nothing complete yet: keep what we have, and tell the pipe we need more than that.
            Input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new EndOfStreamException("the server closed the connection");
            }
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            await Output.WriteAsync(payload, cancellationToken);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Shuts the socket down, which makes any pending read or write on another thread fail promptly.
    /// Safe to call from any thread, any number of times; call <see cref="DisposeAsync"/> once the loops have stopped.
    /// </summary>
    public void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone: that is usually why we are aborting.
        }
    }

    /// <summary>Tears the connection down; never throws, because there is nothing a caller could do about it.</summary>
    public async ValueTask DisposeAsync()
    {
        Abort();

        // Completing the writer flushes anything still buffered, which fails on a dead socket: that is expected.
        await _sendLock.WaitAsync();
        try
        {
            await IgnoringTeardownErrors(() => Output.CompleteAsync());
            await IgnoringTeardownErrors(() => Input.CompleteAsync());
            await IgnoringTeardownErrors(() => _stream.DisposeAsync());
        }
        finally
        {
            _sendLock.Release();
            _socket.Dispose();
        }
    }

    private static async ValueTask IgnoringTeardownErrors(Func<ValueTask> step)
    {
        try
        {
            await step();
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or AuthenticationException)
        {
        }
    }

    private async Task HandshakeAsync(RedisClientOptions options, string? clientNameSuffix, CancellationToken cancellationToken)
    {
        if (options.Password is not null)
        {
            string[] credentials = options.User is null ? [options.Password] : [options.User, options.Password];
            var reply = await RoundTripAsync("AUTH", credentials, cancellationToken);
            if (reply.IsError)
            {
                // The server's message ("WRONGPASS invalid username-password pair…") never echoes the password.
                throw new RedisConnectionException($"Redis at {Endpoint} rejected authentication: {reply.Text}")
                {
                    IsAuthenticationFailure = true,
                };
            }
        }

        if (options.DefaultDatabase != 0)
        {
            await ExpectOkAsync("SELECT", [options.DefaultDatabase.ToString(System.Globalization.CultureInfo.InvariantCulture)], cancellationToken);
        }

        if (options.ClientName is not null)
        {
            await ExpectOkAsync("CLIENT", ["SETNAME", options.ClientName + clientNameSuffix], cancellationToken);
        }
    }

    private async Task ExpectOkAsync(string command, string[] args, CancellationToken cancellationToken)
    {
        var reply = await RoundTripAsync(command, args, cancellationToken);
        if (reply.IsError)
        {
            throw new RedisConnectionException($"Redis at {Endpoint} refused {command} during the handshake: {reply.Text}");
        }
    }

    private async Task<RespValue> RoundTripAsync(string command, string[] args, CancellationToken cancellationToken)
    {
        await SendAsync(RespWriter.EncodeCommand(command, args), cancellationToken);
        return await ReadAsync(cancellationToken);
    }
}
