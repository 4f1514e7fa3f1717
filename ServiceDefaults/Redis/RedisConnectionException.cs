namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// The connection to Redis could not be made or was lost. Commands that were in flight when it
/// failed get this; the client keeps reconnecting in the background.
/// </summary>
public sealed class RedisConnectionException : Exception
{
    public RedisConnectionException()
    {
    }

    public RedisConnectionException(string message)
        : base(message)
    {
    }

    public RedisConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>True when the server refused our credentials: retrying with the same ones will not help.</summary>
    public bool IsAuthenticationFailure { get; init; }
}
