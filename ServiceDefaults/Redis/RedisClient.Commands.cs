using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Kiln.ServiceDefaults.Redis;

// Typed shortcuts for the commands Kiln uses; anything else goes through ExecuteAsync.
public sealed partial class RedisClient
{
    // Script text → SHA1, so each script is hashed once and then sent by hash (EVALSHA).
    private readonly ConcurrentDictionary<string, string> _scriptHashes = new(StringComparer.Ordinal);

    /// <summary>Round-trips a PING and returns how long it took.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        await ExecuteAsync("PING", [], cancellationToken);
        return Stopwatch.GetElapsedTime(started);
    }

    public async Task<string?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("GET", [key], cancellationToken)).AsString();

    public Task SetAsync(string key, string value, TimeSpan? expiry = null, CancellationToken cancellationToken = default)
    {
        string[] args = expiry is { } ttl ? [key, value, "PX", Milliseconds(ttl)] : [key, value];
        return ExecuteAsync("SET", args, cancellationToken);
    }

    /// <returns>Whether the key existed.</returns>
    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("DEL", [key], cancellationToken)).AsInteger() > 0;

    /// <returns>Whether the key existed (and so now has the expiry).</returns>
    public async Task<bool> ExpireAsync(string key, TimeSpan expiry, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("PEXPIRE", [key, Milliseconds(expiry)], cancellationToken)).AsInteger() == 1;

    /// <returns>How many subscribers received the message.</returns>
    public async Task<long> PublishAsync(string channel, string message, CancellationToken cancellationToken = default) =>
        (await ExecuteAsync("PUBLISH", [channel, message], cancellationToken)).AsInteger();

    public Task HashSetAsync(string key, string field, string value, CancellationToken cancellationToken = default) =>
        ExecuteAsync("HSET", [key, field, value], cancellationToken);

    public Task HashSetAsync(string key, IEnumerable<KeyValuePair<string, string>> fields, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fields);
        List<string> args = [key];
        foreach (var (field, value) in fields)
        {
            args.Add(field);
            args.Add(value);
        }

        if (args.Count == 1)
        {
            throw new ArgumentException("HSET needs at least one field.", nameof(fields));
        }

        return ExecuteAsync("HSET", [.. args], cancellationToken);
    }

    /// <returns>The hash's fields; empty when the key does not exist.</returns>
    public async Task<IReadOnlyDictionary<string, string>> HashGetAllAsync(string key, CancellationToken cancellationToken = default)
    {
        // RESP2 answers with a flat [field, value, …] array and RESP3 with a map; RespValue reads both alike.
        var items = (await ExecuteAsync("HGETALL", [key], cancellationToken)).Items;
        var hash = new Dictionary<string, string>(items.Count / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Count; i += 2)
        {
            hash[items[i].AsString()!] = items[i + 1].AsString() ?? "";
        }

        return hash;
    }

    /// <summary>
    /// Runs a Lua script by its SHA1 (EVALSHA), sending the full text (EVAL) only when the server
    /// does not have it cached yet — after a restart or SCRIPT FLUSH, say.
    /// </summary>
    public async Task<RespValue> EvalAsync(string script, string[] keys, string[] args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(args);

        var sha = _scriptHashes.GetOrAdd(script, HashScript);
        string[] tail = [keys.Length.ToString(CultureInfo.InvariantCulture), .. keys, .. args];
        try
        {
            return await ExecuteAsync("EVALSHA", [sha, .. tail], cancellationToken);
        }
        catch (RedisServerException ex) when (ex.ErrorCode == "NOSCRIPT")
        {
            // EVAL also loads the script into the server's cache, so the next call's EVALSHA hits.
            return await ExecuteAsync("EVAL", [script, .. tail], cancellationToken);
        }
    }

    // Redis names scripts by SHA1; it is an identifier here, not a security measure.
#pragma warning disable CA5350
    private static string HashScript(string script) =>
        Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(script)));
#pragma warning restore CA5350

    private static string Milliseconds(TimeSpan duration) =>
        ((long)Math.Ceiling(duration.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
}
