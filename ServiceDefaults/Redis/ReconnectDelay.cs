namespace Kiln.ServiceDefaults.Redis;

/// <summary>Exponential backoff with jitter, so a fleet of clients does not reconnect in lockstep after a restart.</summary>
internal static class ReconnectDelay
{
    public static TimeSpan ForAttempt(int failedAttempts, RedisClientOptions options)
    {
        var exponent = Math.Min(failedAttempts, 16);
        var ceiling = Math.Min(options.ReconnectBaseDelay.TotalMilliseconds * (1L << exponent), options.ReconnectMaxDelay.TotalMilliseconds);

        // "Equal jitter": at least half the ceiling, so backoff still grows, plus a random share of the rest.
        return TimeSpan.FromMilliseconds((ceiling / 2) + (Random.Shared.NextDouble() * ceiling / 2));
    }

    /// <summary>Waits before the next attempt; false when the client is stopping instead.</summary>
    public static async Task<bool> WaitAsync(int failedAttempts, RedisClientOptions options, CancellationToken stopping)
    {
        try
        {
            await Task.Delay(ForAttempt(failedAttempts, options), stopping);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
