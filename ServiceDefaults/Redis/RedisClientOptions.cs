using System.Globalization;
using System.Text;

namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// Where and how to reach Redis. <see cref="Parse"/> reads the StackExchange-style connection
/// strings Aspire hands out: <c>host:port,password=…,ssl=false,abortConnect=false,connectTimeout=5000</c>.
/// </summary>
public sealed class RedisClientOptions
{
    public const int DefaultPort = 6379;

    public string Host { get; set; } = "localhost";

    public int Port { get; set; } = DefaultPort;

    /// <summary>ACL user; when null, <c>AUTH</c> uses the password alone (the <c>default</c> user).</summary>
    public string? User { get; set; }

    public string? Password { get; set; }

    public bool Ssl { get; set; }

    /// <summary>
    /// Kept for connection-string compatibility. Kiln never gives up on a connection: commands wait
    /// for the background reconnect up to their timeout whatever this says.
    /// </summary>
    public bool AbortConnect { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a command may wait for its reply, including any wait for a reconnect.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Sent with <c>CLIENT SETNAME</c> so <c>CLIENT LIST</c> shows who is connected.</summary>
    public string? ClientName { get; set; }

    public int DefaultDatabase { get; set; }

    /// <summary>First delay before reconnecting; doubles on every failed attempt up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The endpoint as shown in messages and telemetry.</summary>
    public string Endpoint => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <exception cref="FormatException">A part of the string is not understood; the message names it.</exception>
    public static RedisClientOptions Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var options = new RedisClientOptions();
        var sawEndpoint = false;

        var parts = connectionString.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        for (var index = 0; index < parts.Length; index++)
        {
            var rawPart = parts[index];
            var equals = rawPart.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                if (sawEndpoint)
                {
                    // Named by position, not echoed: it may be the tail of a password that contained a comma.
                    throw new FormatException(
                        $"Redis connection string part {index + 1} has no '=' but an endpoint was already given; " +
                        "Kiln connects to exactly one endpoint, and values cannot contain ','.");
                }

                (options.Host, options.Port) = ParseEndpoint(rawPart);
                sawEndpoint = true;
                continue;
            }

            var key = rawPart[..equals].Trim();
            var value = rawPart[(equals + 1)..].Trim();
            options.Apply(key, value);
        }

        if (!sawEndpoint)
        {
            throw new FormatException("Redis connection string has no endpoint; expected 'host:port' as its first part.");
        }

        return options;
    }

    /// <summary>The connection string without the password, safe to log.</summary>
    public override string ToString()
    {
        var text = new StringBuilder(Endpoint);
        if (User is not null)
        {
            text.Append(",user=").Append(User);
        }

        text.Append(CultureInfo.InvariantCulture, $",ssl={Ssl},connectTimeout={ConnectTimeout.TotalMilliseconds},syncTimeout={CommandTimeout.TotalMilliseconds}");
        if (ClientName is not null)
        {
            text.Append(",name=").Append(ClientName);
        }

        if (DefaultDatabase != 0)
        {
            text.Append(CultureInfo.InvariantCulture, $",defaultDatabase={DefaultDatabase}");
        }

        return text.ToString();
    }

    internal RedisClientOptions Clone() => (RedisClientOptions)MemberwiseClone();

    private void Apply(string key, string value)
    {
        switch (key.ToUpperInvariant())
        {
            case "PASSWORD":
                Password = value;
                break;
            case "USER":
                User = value;
                break;
            case "SSL":
                Ssl = ParseBoolean(key, value);
                break;
            case "ABORTCONNECT":
                AbortConnect = ParseBoolean(key, value);
                break;
            case "CONNECTTIMEOUT":
                ConnectTimeout = ParseMilliseconds(key, value);
                break;
            case "SYNCTIMEOUT" or "ASYNCTIMEOUT":
                CommandTimeout = ParseMilliseconds(key, value);
                break;
            case "NAME":
                ClientName = value;
                break;
            case "DEFAULTDATABASE":
                DefaultDatabase = ParseInteger(key, value, min: 0);
                break;
            default:
                // Other StackExchange.Redis keys (allowAdmin, keepAlive, …) mean nothing here.
                break;
        }
    }

    private static (string Host, int Port) ParseEndpoint(string part)
    {
        // "[::1]:6379" for IPv6, "host:port" or a bare "host" otherwise.
        string host;
        string? port = null;
        if (part.StartsWith('['))
        {
            var close = part.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < part.Length && part[close + 1] != ':'))
            {
                throw new FormatException($"Redis endpoint '{part}' is not a valid '[IPv6]:port'.");
            }

            host = part[1..close];
            port = close + 1 < part.Length ? part[(close + 2)..] : null;
        }
        else
        {
            var colon = part.LastIndexOf(':');
            host = colon < 0 ? part : part[..colon];
            port = colon < 0 ? null : part[(colon + 1)..];
        }

        if (host.Length == 0)
        {
            throw new FormatException($"Redis endpoint '{part}' has no host.");
        }

        if (port is null)
        {
            return (host, DefaultPort);
        }

        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            throw new FormatException($"Redis endpoint '{part}' has an invalid port '{port}'; expected 1-65535.");
        }

        return (host, number);
    }

    private static bool ParseBoolean(string key, string value) => bool.TryParse(value, out var result)
        ? result
        : throw new FormatException($"Redis connection string option '{key}' must be true or false, not '{value}'.");

    private static TimeSpan ParseMilliseconds(string key, string value) =>
        TimeSpan.FromMilliseconds(ParseInteger(key, value, min: 1));

    private static int ParseInteger(string key, string value, int min) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var result) && result >= min
            ? result
            : throw new FormatException($"Redis connection string option '{key}' must be a whole number of at least {min}, not '{value}'.");
}
