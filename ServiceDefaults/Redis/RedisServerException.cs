namespace Kiln.ServiceDefaults.Redis;

/// <summary>The server answered a command with an error reply (<c>-ERR …</c>, <c>-WRONGTYPE …</c>, <c>-NOSCRIPT …</c>).</summary>
public sealed class RedisServerException : Exception
{
    public RedisServerException()
    {
    }

    public RedisServerException(string message)
        : base(message)
    {
    }

    public RedisServerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The error's first word (<c>ERR</c>, <c>WRONGTYPE</c>, <c>NOSCRIPT</c>), which is how Redis says what kind of error it is.</summary>
    public string ErrorCode
    {
        get
        {
            var space = Message.IndexOf(' ', StringComparison.Ordinal);
            return space < 0 ? Message : Message[..space];
        }
    }
}
