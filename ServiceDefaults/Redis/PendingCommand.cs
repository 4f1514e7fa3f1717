namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// A command waiting to be written or answered. Replies arrive in the order commands were written,
/// so the reader loop completes these strictly first-in, first-out.
/// </summary>
internal sealed class PendingCommand(string operation, byte[] payload)
    : TaskCompletionSource<RespValue>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    private volatile bool _written;

    public string Operation { get; } = operation;

    public byte[] Payload { get; } = payload;

    public bool IsWritten => _written;

    /// <summary>The caller timed out or cancelled before it was written: don't send it at all.</summary>
    public bool IsAbandoned => Task.IsCompleted;

    public void MarkWritten() => _written = true;

    /// <summary>
    /// Completes from a server reply. An already-abandoned command still consumed its slot in the
    /// FIFO, which is what keeps later replies matched to the right callers.
    /// </summary>
    public void Complete(RespValue reply)
    {
        if (reply.IsError)
        {
            TrySetException(new RedisServerException(reply.Text ?? "ERR"));
        }
        else
        {
            TrySetResult(reply);
        }
    }

    /// <summary>Marks the command as given up on, without leaving an unobserved faulted task behind.</summary>
    public void Abandon() => TrySetCanceled();
}
