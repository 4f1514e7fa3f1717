using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// A Redis client that shares ONE pipelined connection between all callers. Commands queue on a
/// channel; a writer loop sends whatever is queued in one flush; a reader loop hands replies back in
/// order. If the connection drops, in-flight commands fail with <see cref="RedisConnectionException"/>
/// and the client reconnects in the background; commands issued meanwhile wait for it, up to their
/// timeout. Subscriptions use a second connection, since a subscribed connection can do nothing else.
/// Blocking commands (BLPOP, XREAD BLOCK…) would stall every caller behind them: don't use them here.
/// </summary>
public sealed partial class RedisClient : IAsyncDisposable
{
    // Flush at least this often while draining a long queue, so one burst doesn't buffer unboundedly.
    private const int FlushThresholdBytes = 64 * 1024;

    private readonly RedisClientOptions _options;
    private readonly ILogger<RedisClient> _logger;
    private readonly Channel<PendingCommand> _outgoing =
        Channel.CreateUnbounded<PendingCommand>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentQueue<PendingCommand> _inFlight = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _startLock = new();
    private readonly PubSubConnection _pubSub;
    private TaskCompletionSource<RedisConnectionException?> _nextAttempt = NewAttemptSignal();
    private Task? _connectionLoop;
    private volatile bool _connected;
    private volatile RedisConnectionException? _lastFailure;
    private volatile bool _disposed;

    public RedisClient(RedisClientOptions options, ILogger<RedisClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _logger = logger ?? NullLogger<RedisClient>.Instance;
        _pubSub = new PubSubConnection(_options, _logger);
    }

    /// <summary>The endpoint as <c>host:port</c>.</summary>
    public string Endpoint => _options.Endpoint;

    /// <summary>Whether the command connection is up right now (subscriptions have their own).</summary>
    public bool IsConnected => _connected;

    /// <summary>
    /// Connects now instead of on first use, and reports the outcome of the next attempt.
    /// </summary>
    /// <exception cref="RedisConnectionException">The attempt failed (refused, wrong password, …) or did not finish within the connect timeout; the client keeps retrying in the background.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        EnsureStarted();
        var outcome = Volatile.Read(ref _nextAttempt).Task;

        // Checked after reading the signal: a connect that lands in between has already set the flag.
        if (_connected)
        {
            return;
        }

        RedisConnectionException? failure;
        try
        {
            failure = await outcome.WaitAsync(_options.ConnectTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            var last = _lastFailure;
            throw last is null
                ? new RedisConnectionException($"Could not connect to Redis at {Endpoint} within {_options.ConnectTimeout.TotalMilliseconds:0} ms.")
                : new RedisConnectionException(last.Message, last);
        }

        if (failure is not null)
        {
            throw new RedisConnectionException(failure.Message, failure) { IsAuthenticationFailure = failure.IsAuthenticationFailure };
        }
    }

    public Task<RespValue> ExecuteAsync(string command, params string[] args) =>
        ExecuteAsync(command, args, CancellationToken.None);

    /// <summary>Sends any command and returns its reply.</summary>
    /// <exception cref="RedisServerException">The server answered with an error.</exception>
    /// <exception cref="RedisConnectionException">The connection was lost while the command was in flight.</exception>
    /// <exception cref="TimeoutException">No reply within the command timeout (the message names the command, never its arguments).</exception>
    public async Task<RespValue> ExecuteAsync(string command, string[] args, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        ArgumentNullException.ThrowIfNull(args);
        ObjectDisposedException.ThrowIf(_disposed, this);

        var operation = command.ToUpperInvariant();
        var activity = RedisTelemetry.StartCommand(operation, _options);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var reply = await SendAsync(new PendingCommand(operation, RespWriter.EncodeCommand(command, args)), cancellationToken);
            RedisTelemetry.StopCommand(activity, operation, _options, started, failure: null);
            return reply;
        }
        catch (Exception ex)
        {
            RedisTelemetry.StopCommand(activity, operation, _options, started, ex);
            throw;
        }
    }

    /// <summary>
    /// Subscribes to a channel on the subscription connection; resolves once Redis confirms.
    /// Dispose the result to unsubscribe. Handlers run one message at a time, in order; an exception
    /// from a handler is logged and the next message is still delivered.
    /// </summary>
    public Task<IAsyncDisposable> SubscribeAsync(string channel, Func<string, string, Task> handler, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _pubSub.SubscribeAsync(new SubscriptionTarget(channel, IsPattern: false), handler, cancellationToken);
    }

    /// <summary>Like <see cref="SubscribeAsync"/> for a glob pattern (<c>PSUBSCRIBE</c>); the handler gets the concrete channel.</summary>
    public Task<IAsyncDisposable> SubscribePatternAsync(string pattern, Func<string, string, Task> handler, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _pubSub.SubscribeAsync(new SubscriptionTarget(pattern, IsPattern: true), handler, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Task? connectionLoop;
        lock (_startLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            connectionLoop = _connectionLoop;
        }

        _outgoing.Writer.TryComplete();
        await _stopping.CancelAsync();
        if (connectionLoop is not null)
        {
            await connectionLoop;
        }

        var disposed = new ObjectDisposedException(nameof(RedisClient));
        FailInFlight(disposed);
        FailQueued(disposed);
        await _pubSub.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task<RespValue> SendAsync(PendingCommand command, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var queued = _outgoing.Writer.TryWrite(command);
        ObjectDisposedException.ThrowIf(!queued, this);

        try
        {
            return await command.Task.WaitAsync(_options.CommandTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            command.Abandon();
            throw CreateTimeout(command);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            command.Abandon();
            throw;
        }
    }

    private TimeoutException CreateTimeout(PendingCommand command)
    {
        var waited = $"Redis {command.Operation} timed out after {_options.CommandTimeout.TotalMilliseconds:0} ms";
        if (command.IsWritten)
        {
            return new TimeoutException($"{waited}: it was sent to {Endpoint} but no reply arrived.");
        }

        var lastFailure = _lastFailure;
        if (_connected)
        {
            return new TimeoutException($"{waited} queued behind other commands to {Endpoint}.");
        }

        return lastFailure is null
            ? new TimeoutException($"{waited} while connecting to {Endpoint}.")
            : new TimeoutException($"{waited} waiting to reconnect to {Endpoint}; last error: {lastFailure.Message}", lastFailure);
    }

    private void EnsureStarted()
    {
        if (_connectionLoop is not null)
        {
            return;
        }

        lock (_startLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _connectionLoop ??= Task.Run(() => MaintainConnectionAsync(_stopping.Token));
        }
    }

    private void FailInFlight(Exception failure)
    {
        while (_inFlight.TryDequeue(out var command))
        {
            command.TrySetException(failure);
        }
    }

    private void FailQueued(Exception failure)
    {
        while (_outgoing.Reader.TryRead(out var command))
        {
            command.TrySetException(failure);
        }
    }

    private static TaskCompletionSource<RedisConnectionException?> NewAttemptSignal() =>
        new(TaskCreationOptions.RunContinuationsAsynchronously);
}
