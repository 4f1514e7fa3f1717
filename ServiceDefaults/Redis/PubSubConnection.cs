using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// The subscription side of <see cref="RedisClient"/>: a second connection that only (un)subscribes
/// and receives messages. It remembers every live subscription so a reconnect can restore them all,
/// and hands messages to one dispatch loop so a slow or failing handler never stalls the socket.
/// </summary>
internal sealed class PubSubConnection(RedisClientOptions options, ILogger logger) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<SubscriptionTarget, List<Subscription>> _subscriptions = [];

    // Targets Redis has not yet confirmed; SubscribeAsync callers wait on these.
    private readonly Dictionary<SubscriptionTarget, TaskCompletionSource> _unconfirmed = [];
    private readonly Channel<Delivery> _deliveries = Channel.CreateUnbounded<Delivery>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private RespConnection? _current;
    private Task? _connectionLoop;
    private Task? _dispatchLoop;
    private volatile RedisConnectionException? _lastFailure;
    private bool _disposed;

    public async Task<IAsyncDisposable> SubscribeAsync(SubscriptionTarget target, Func<string, string, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(target.Name);
        ArgumentNullException.ThrowIfNull(handler);

        var subscription = new Subscription(target, handler, this);
        Task confirmed;
        RespConnection? connection;
        bool isFirst;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _connectionLoop ??= Task.Run(() => MaintainConnectionAsync(_stopping.Token), CancellationToken.None);
            _dispatchLoop ??= Task.Run(() => DispatchAsync(_stopping.Token), CancellationToken.None);

            isFirst = !_subscriptions.TryGetValue(target, out var handlers);
            if (handlers is null)
            {
                handlers = [];
                _subscriptions[target] = handlers;
                _unconfirmed[target] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            handlers.Add(subscription);
            confirmed = _unconfirmed.TryGetValue(target, out var pending) ? pending.Task : Task.CompletedTask;
            connection = _current;
        }

        // Without a connection there is nothing to send: the connection loop subscribes everything it finds.
        if (isFirst && connection is not null)
        {
            await TrySendAsync(connection, target.SubscribeCommand, target.Name);
        }

        try
        {
            await confirmed.WaitAsync(options.CommandTimeout, cancellationToken);
            return subscription;
        }
        catch (Exception ex)
        {
            await subscription.DisposeAsync();
            if (ex is not TimeoutException)
            {
                throw;
            }

            var lastFailure = _lastFailure;
            var message = $"Redis {target.SubscribeCommand} timed out after {options.CommandTimeout.TotalMilliseconds:0} ms waiting for {options.Endpoint} to confirm it";
            throw lastFailure is null
                ? new TimeoutException(message + ".")
                : new TimeoutException($"{message}; last error: {lastFailure.Message}", lastFailure);
        }
    }

    internal async ValueTask UnsubscribeAsync(Subscription subscription)
    {
        var target = subscription.Target;
        RespConnection? connection;
        lock (_lock)
        {
            if (!_subscriptions.TryGetValue(target, out var handlers) || !handlers.Remove(subscription) || handlers.Count > 0)
            {
                return;
            }

            _subscriptions.Remove(target);
            if (_unconfirmed.Remove(target, out var pending))
            {
                pending.TrySetCanceled();
            }

            connection = _current;
        }

        if (connection is not null)
        {
            await TrySendAsync(connection, target.UnsubscribeCommand, target.Name);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? connectionLoop, dispatchLoop;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            connectionLoop = _connectionLoop;
            dispatchLoop = _dispatchLoop;
            foreach (var pending in _unconfirmed.Values)
            {
                pending.TrySetException(new ObjectDisposedException(nameof(RedisClient)));
            }

            _unconfirmed.Clear();
            _subscriptions.Clear();
        }

        _deliveries.Writer.TryComplete();
        await _stopping.CancelAsync();
        await (connectionLoop ?? Task.CompletedTask);
        await (dispatchLoop ?? Task.CompletedTask);
        _stopping.Dispose();
    }

    private async Task MaintainConnectionAsync(CancellationToken stopping)
    {
        var failedAttempts = 0;
        while (!stopping.IsCancellationRequested)
        {
            RespConnection connection;
            try
            {
                connection = await RespConnection.OpenAsync(options, clientNameSuffix: "-pubsub", stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (RedisConnectionException ex)
            {
                _lastFailure = ex;
                if (ex.IsAuthenticationFailure)
                {
                    FailUnconfirmed(ex);
                }

                logger.LogWarning("Redis subscription connection attempt {Attempt} to {Endpoint} failed: {Reason}", failedAttempts + 1, options.Endpoint, ex.Message);
                if (!await ReconnectDelay.WaitAsync(failedAttempts++, options, stopping))
                {
                    return;
                }

                continue;
            }

            failedAttempts = 0;
            _lastFailure = null;
            var cause = await RunConnectionAsync(connection, stopping);
            if (cause is null)
            {
                return;
            }

            _lastFailure = new RedisConnectionException($"Lost subscription connection to Redis at {options.Endpoint}: {RedisClient.Describe(cause)}", cause);
            logger.LogWarning(_lastFailure, "Lost subscription connection to Redis at {Endpoint}; reconnecting and resubscribing", options.Endpoint);
            if (!await ReconnectDelay.WaitAsync(failedAttempts, options, stopping))
            {
                return;
            }
        }
    }

    /// <summary>Restores every subscription, then receives until the connection fails (returns why) or the client stops (returns null).</summary>
    private async Task<Exception?> RunConnectionAsync(RespConnection connection, CancellationToken stopping)
    {
        SubscriptionTarget[] targets;
        lock (_lock)
        {
            // Publishing _current and taking the snapshot together means a concurrent SubscribeAsync
            // is either in this snapshot or sees the connection and subscribes itself.
            _current = connection;
            targets = [.. _subscriptions.Keys];
        }

        try
        {
            string[] channels = [.. targets.Where(t => !t.IsPattern).Select(t => t.Name)];
            string[] patterns = [.. targets.Where(t => t.IsPattern).Select(t => t.Name)];
            if (channels.Length > 0)
            {
                await connection.SendAsync(RespWriter.EncodeCommand("SUBSCRIBE", channels), stopping);
            }

            if (patterns.Length > 0)
            {
                await connection.SendAsync(RespWriter.EncodeCommand("PSUBSCRIBE", patterns), stopping);
            }

            logger.LogInformation(
                "Redis subscription connection to {Endpoint} is up; restored {Channels} channel and {Patterns} pattern subscriptions",
                options.Endpoint, channels.Length, patterns.Length);

            while (true)
            {
                Receive(await connection.ReadAsync(stopping));
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
        finally
        {
            lock (_lock)
            {
                _current = null;
            }

            await connection.DisposeAsync();
        }
    }

    private void Receive(RespValue frame)
    {
        // RESP2 sends pub/sub traffic as arrays, RESP3 as pushes; both are [kind, …].
        var items = frame.Items;
        if (items.Count < 3 || frame.Kind is not (RespKind.Array or RespKind.Push))
        {
            return;
        }

        switch (items[0].AsString())
        {
            case "message":
                Deliver(new SubscriptionTarget(items[1].AsString()!, IsPattern: false), items[1].AsString()!, items[2].AsString() ?? "");
                break;
            case "pmessage" when items.Count >= 4:
                Deliver(new SubscriptionTarget(items[1].AsString()!, IsPattern: true), items[2].AsString()!, items[3].AsString() ?? "");
                break;
            case "subscribe":
                Confirm(new SubscriptionTarget(items[1].AsString()!, IsPattern: false));
                break;
            case "psubscribe":
                Confirm(new SubscriptionTarget(items[1].AsString()!, IsPattern: true));
                break;
            case "unsubscribe":
                ResubscribeIfStillWanted(new SubscriptionTarget(items[1].AsString()!, IsPattern: false));
                break;
            case "punsubscribe":
                ResubscribeIfStillWanted(new SubscriptionTarget(items[1].AsString()!, IsPattern: true));
                break;
        }
    }

    private void Deliver(SubscriptionTarget target, string channel, string message)
    {
        Subscription[] handlers;
        lock (_lock)
        {
            if (!_subscriptions.TryGetValue(target, out var current))
            {
                return;
            }

            handlers = [.. current];
        }

        foreach (var subscription in handlers)
        {
            _deliveries.Writer.TryWrite(new Delivery(subscription, channel, message));
        }
    }

    private void Confirm(SubscriptionTarget target)
    {
        TaskCompletionSource? pending;
        lock (_lock)
        {
            _unconfirmed.Remove(target, out pending);
        }

        pending?.TrySetResult();
    }

    /// <summary>
    /// An UNSUBSCRIBE sent by a departing subscriber can overtake a newcomer's SUBSCRIBE on the wire;
    /// if someone still wants the target, subscribe again rather than silently stop receiving.
    /// </summary>
    private void ResubscribeIfStillWanted(SubscriptionTarget target)
    {
        RespConnection? connection;
        lock (_lock)
        {
            if (!_subscriptions.ContainsKey(target))
            {
                return;
            }

            connection = _current;
        }

        if (connection is not null)
        {
            _ = TrySendAsync(connection, target.SubscribeCommand, target.Name);
        }
    }

    private void FailUnconfirmed(RedisConnectionException failure)
    {
        TaskCompletionSource[] pending;
        lock (_lock)
        {
            pending = [.. _unconfirmed.Values];
            _unconfirmed.Clear();
        }

        foreach (var confirmation in pending)
        {
            confirmation.TrySetException(failure);
        }
    }

    private async Task DispatchAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var delivery in _deliveries.Reader.ReadAllAsync(stopping))
            {
                if (delivery.Subscription.IsDisposed)
                {
                    continue;
                }

                try
                {
                    await delivery.Subscription.Handler(delivery.Channel, delivery.Message);
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Redis subscription handler for {Target} failed; continuing with the next message", delivery.Subscription.Target);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task TrySendAsync(RespConnection connection, string command, string name)
    {
        try
        {
            await connection.SendAsync(RespWriter.EncodeCommand(command, [name]), _stopping.Token);
        }
        catch (Exception ex)
        {
            // The connection is failing; its loop will notice, reconnect and restore every subscription.
            logger.LogDebug(ex, "Redis {Command} could not be sent to {Endpoint}", command, options.Endpoint);
        }
    }

    private readonly record struct Delivery(Subscription Subscription, string Channel, string Message);
}
