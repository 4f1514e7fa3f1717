using System.Buffers;
using Microsoft.Extensions.Logging;

namespace Kiln.ServiceDefaults.Redis;

// The background side of RedisClient: keep one connection up, pump commands out and replies in.
public sealed partial class RedisClient
{
    private async Task MaintainConnectionAsync(CancellationToken stopping)
    {
        var failedAttempts = 0;
        while (!stopping.IsCancellationRequested)
        {
            RespConnection connection;
            try
            {
                connection = await RespConnection.OpenAsync(_options, clientNameSuffix: null, stopping);
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
                    // Waiting out their timeouts would only hide the real problem from the callers.
                    FailQueued(ex);
                }

                SignalAttempt(ex);
                _logger.LogWarning("Redis connection attempt {Attempt} to {Endpoint} failed: {Reason}", failedAttempts + 1, Endpoint, ex.Message);
                if (!await ReconnectDelay.WaitAsync(failedAttempts++, _options, stopping))
                {
                    return;
                }

                continue;
            }

            failedAttempts = 0;
            _lastFailure = null;
            _connected = true;
            SignalAttempt(failure: null);
            _logger.LogInformation("Connected to Redis at {Endpoint}", Endpoint);

            var loss = await RunConnectionAsync(connection, stopping);
            _connected = false;
            if (loss is null)
            {
                return;
            }

            _lastFailure = loss;
            _logger.LogWarning(loss, "Lost connection to Redis at {Endpoint}; reconnecting", Endpoint);
            if (!await ReconnectDelay.WaitAsync(failedAttempts, _options, stopping))
            {
                return;
            }
        }
    }

    /// <summary>Runs the writer and reader loops until either fails; returns why, or null when the client is stopping.</summary>
    private async Task<RedisConnectionException?> RunConnectionAsync(RespConnection connection, CancellationToken stopping)
    {
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var writing = WriteLoopAsync(connection, lifetime.Token);
        var reading = ReadLoopAsync(connection, lifetime.Token);
        var first = await Task.WhenAny(writing, reading);

        // Stop the other loop (cancellation for waits, Abort for socket I/O), and only then tear the pipes down.
        await lifetime.CancelAsync();
        connection.Abort();
        var cause = await first ?? await (first == writing ? reading : writing);
        await connection.DisposeAsync();
        if (stopping.IsCancellationRequested || cause is null)
        {
            return null;
        }

        // Nothing tells us whether in-flight commands ran, so the callers must decide (retry or not).
        var loss = new RedisConnectionException($"Lost connection to Redis at {Endpoint}: {Describe(cause)}", cause);
        FailInFlight(loss);
        return loss;
    }

    private async Task<Exception?> WriteLoopAsync(RespConnection connection, CancellationToken cancellationToken)
    {
        var output = connection.Output;
        var outgoing = _outgoing.Reader;
        try
        {
            while (await outgoing.WaitToReadAsync(cancellationToken))
            {
                while (outgoing.TryRead(out var command))
                {
                    if (command.IsAbandoned)
                    {
                        continue;
                    }

                    // Queue before writing: the reply can arrive before Write even returns.
                    _inFlight.Enqueue(command);
                    output.Write(command.Payload);
                    command.MarkWritten();
                    if (output.UnflushedBytes >= FlushThresholdBytes)
                    {
                        await output.FlushAsync(cancellationToken);
                    }
                }

                await output.FlushAsync(cancellationToken);
            }

            // The channel completes only when the client is disposed.
            return null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private async Task<Exception?> ReadLoopAsync(RespConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var reply = await connection.ReadAsync(cancellationToken);
                if (reply.Kind == RespKind.Push)
                {
                    // RESP3 out-of-band data (client-side caching invalidations…) answers no command.
                    continue;
                }

                if (!_inFlight.TryDequeue(out var command))
                {
                    return new InvalidDataException("the server sent a reply no command was waiting for");
                }

                command.Complete(reply);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    private void SignalAttempt(RedisConnectionException? failure) =>
        Interlocked.Exchange(ref _nextAttempt, NewAttemptSignal()).TrySetResult(failure);

    internal static string Describe(Exception cause) => cause switch
    {
        EndOfStreamException => "the server closed the connection",
        InvalidDataException protocol => $"protocol error ({protocol.Message})",
        _ => cause.Message,
    };
}
