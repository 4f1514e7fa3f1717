using System.Collections.Concurrent;
using Kiln.Shared;
using Kiln.Shared.Security;
using StackExchange.Redis;

namespace Kiln.Api.Security;

/// <summary>
/// The key lookups behind authentication. An answer is reused for at most <see cref="CacheFor"/>, so a burst of
/// requests costs one query and a key revoked on any replica is refused everywhere within that time even when
/// nothing else tells this replica. Normally something does: the replica that revokes a key publishes its id on
/// <see cref="Topology.Cache.RevokedKeysChannel"/> and every replica forgets it at once; with Redis down only that
/// announcement is lost, not the bound. While PostgreSQL cannot be reached, a key it confirmed within <see cref="UsableWhileUnreachable"/> stays
/// usable (a key cannot be revoked without the database either), so devices go on ingesting through a database outage.
/// </summary>
internal sealed class ApiKeyCache(ApiKeyStore store, IConnectionMultiplexer redis, TimeProvider clock, ILogger<ApiKeyCache> logger)
    : IHostedService
{
    /// <summary>The longest a revoked key may still be accepted by a replica that did not hear of the revocation.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long after PostgreSQL last confirmed a key it stays usable while PostgreSQL cannot be reached. Bounded, because a
    /// replica that missed a revocation's announcement (Redis was down then) and has not looked the key up since would
    /// otherwise accept a revoked key for as long as the outage lasts.
    /// </summary>
    public static readonly TimeSpan UsableWhileUnreachable = TimeSpan.FromMinutes(10);

    /// <summary>A lookup that takes longer is given up: the key's last answer serves, or the request gets a 503.</summary>
    internal static readonly TimeSpan DefaultLookupTimeout = TimeSpan.FromSeconds(1);

    /// <summary><see cref="DefaultLookupTimeout"/>; tests that hold a lookup on purpose set a longer one.</summary>
    internal TimeSpan LookupTimeout { get; init; } = DefaultLookupTimeout;

    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Unknown keys sent at random must not grow memory without end.</summary>
    private const int MaxEntries = 10_000;

    private static readonly RedisChannel Revocations = RedisChannel.Literal(Topology.Cache.RevokedKeysChannel);

    // By hash: looking a key up by its hash leaks, through timing, at most something about the hash, never the secret.
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // The lookup under way for each key whose answer expired; every request for that key meanwhile waits for it.
    private readonly ConcurrentDictionary<string, Lazy<Task<ApiKeyGrant?>>> _lookups = new(StringComparer.Ordinal);

    // Moves on at every revocation heard, so a lookup that raced it does not store what it read before.
    private long _revocations;

    /// <param name="Confirmed">When PostgreSQL gave this answer.</param>
    /// <param name="Expires">When to ask again.</param>
    private sealed record Entry(ApiKeyGrant? Grant, DateTimeOffset Confirmed, DateTimeOffset Expires);

    /// <summary>The grant of an unrevoked key, or null for an unknown or revoked one.</summary>
    /// <exception cref="TimeoutException">PostgreSQL did not answer in time and the key has no earlier answer.</exception>
    public Task<ApiKeyGrant?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var hash = ApiKeyHash.Compute(key);
        if (_entries.TryGetValue(hash, out var cached) && cached.Expires > clock.GetUtcNow())
        {
            return Task.FromResult(cached.Grant);
        }

        // One lookup per key at a time. A device keeps many requests in flight with one key, and all of them find its
        // answer expired in the same instant: each asking on its own made a burst of queries (and of new pooled
        // connections, each a SCRAM handshake) every second per key, which under load stretched lookups past their
        // timeout. The waiters share the lookup's result, or its failure; each may still give up on its own request.
        var lookup = _lookups.GetOrAdd(hash, static (hash, self) => new Lazy<Task<ApiKeyGrant?>>(() => self.LookUpAsync(hash)), this);
        return lookup.Value.WaitAsync(cancellationToken);
    }

    private async Task<ApiKeyGrant?> LookUpAsync(string hash)
    {
        // Runs on its own, not on the first caller's stack, so the lookup is in _lookups before anything completes it.
        await Task.Yield();
        try
        {
            return await LookUpOnceAsync(hash);
        }
        finally
        {
            // The answer (or the failure's fallback) is in _entries by now, so a request after this one finds it there.
            _lookups.TryRemove(hash, out _);
        }
    }

    private async Task<ApiKeyGrant?> LookUpOnceAsync(string hash)
    {
        var now = clock.GetUtcNow();
        _entries.TryGetValue(hash, out var cached);
        var revocationsBefore = Interlocked.Read(ref _revocations);
        ApiKeyGrant? grant;
        try
        {
            // Not any one request's token: the lookup is shared, and a caller that gives up must not fail the others.
            using var timeout = new CancellationTokenSource(LookupTimeout);
            grant = await FindOnceRetriedAsync(hash, timeout.Token);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException { IsTransient: true } or TimeoutException or OperationCanceledException)
        {
            if (cached is { Grant: { } known } && now - cached.Confirmed < UsableWhileUnreachable)
            {
                // Tried again after another CacheFor, so an outage costs one bounded attempt per key per interval, not one per request.
                _entries[hash] = cached with { Expires = now + CacheFor };
                logger.LogDebug("Key lookup failed ({Reason}); the key's last answer serves meanwhile", ex.Message);
                return known;
            }

            if (ex is Npgsql.NpgsqlException)
            {
                throw;
            }

            throw new TimeoutException($"PostgreSQL did not answer an API key lookup within {LookupTimeout.TotalSeconds:0} s.", ex);
        }

        if (_entries.Count > MaxEntries)
        {
            _entries.Clear();
        }

        if (Interlocked.Read(ref _revocations) == revocationsBefore)
        {
            _entries[hash] = new Entry(grant, now, now + CacheFor);
        }

        return grant;
    }

    /// <summary>
    /// A pooled connection whose server restarted while it sat idle fails its first command; every request needs a key
    /// lookup, so one such failure is tried again at once, on another connection, before it becomes a 503.
    /// </summary>
    private async Task<ApiKeyGrant?> FindOnceRetriedAsync(string hash, CancellationToken cancellationToken)
    {
        try
        {
            return await store.FindByHashAsync(hash, cancellationToken);
        }
        catch (Npgsql.NpgsqlException ex) when (ex.IsTransient && !cancellationToken.IsCancellationRequested)
        {
            logger.LogDebug("Key lookup failed ({Reason}); trying once more", ex.Message);
            return await store.FindByHashAsync(hash, cancellationToken);
        }
    }

    /// <summary>
    /// After a key was revoked in the database: forgets it here and tells every other replica. If Redis cannot carry the
    /// news, the other replicas stop accepting the key within <see cref="CacheFor"/> all the same.
    /// </summary>
    public async Task AnnounceRevocationAsync(Guid id)
    {
        Forget(id);
        if (!redis.IsConnected)
        {
            // A publish would wait in the multiplexer's backlog for nothing.
            logger.LogWarning("Could not announce the revocation of key {KeyId}: Redis is not connected; the other replicas refuse it within {Seconds} s",
                id, CacheFor.TotalSeconds);
            return;
        }

        try
        {
            await redis.GetSubscriber().PublishAsync(Revocations, id.ToString("D")).WaitAsync(PublishTimeout);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Could not announce the revocation of key {KeyId} through Redis ({Reason}); the other replicas refuse it within {Seconds} s",
                id, ex.Message, CacheFor.TotalSeconds);
        }
    }

    private void Forget(Guid id)
    {
        Interlocked.Increment(ref _revocations);
        foreach (var (hash, entry) in _entries)
        {
            if (entry.Grant?.Id == id)
            {
                _entries.TryRemove(hash, out _);
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Not awaited: the Api starts whether or not Redis is up; the multiplexer subscribes again whenever it reconnects.
        _ = SubscribeAsync();
        return Task.CompletedTask;
    }

    private async Task SubscribeAsync()
    {
        try
        {
            await redis.GetSubscriber().SubscribeAsync(Revocations, (_, message) =>
            {
                if (Guid.TryParse(message.ToString(), out var id))
                {
                    Forget(id);
                }
            });
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Could not subscribe to key revocations ({Reason}); revoked keys are refused here within {Seconds} s instead of at once",
                ex.Message, CacheFor.TotalSeconds);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
