using System.Diagnostics;
using Kiln.Api.Security;
using Kiln.Shared.Schema;
using Kiln.Tests.ServiceDefaults;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using StackExchange.Redis;

namespace Kiln.Tests.Redis;

/// <summary>
/// Key lookups as two Api replicas make them, against a real PostgreSQL and Redis. The clock is frozen, so an answer
/// never expires unless a test says so: whatever refuses a revoked key here is the announcement, not the cache time.
/// </summary>
public sealed class ApiKeyCacheTests(RedisServerFixture redis, PostgresServerFixture postgres)
    : IClassFixture<RedisServerFixture>, IClassFixture<PostgresServerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero));
    private NpgsqlDataSource _database = null!;
    private ApiKeyStore _store = null!;

    public async Task InitializeAsync()
    {
        _database = NpgsqlDataSource.Create(postgres.ConnectionString);
        await new SchemaMigrator(_database, NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);
        _store = new ApiKeyStore(_database);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task A_key_revoked_on_one_replica_is_refused_by_the_others_at_once()
    {
        await using var firstCache = await redis.ConnectAsync();
        await using var secondCache = await redis.ConnectAsync();
        var first = await StartAsync(firstCache);
        var second = await StartAsync(secondCache);
        await SubscribedAsync(firstCache, replicas: 2);
        var (key, secret) = await _store.CreateAsync("gateway", ["ingest"], "kiln1", CancellationToken.None);
        Assert.Equal(key.Id, (await first.FindAsync(secret, CancellationToken.None))?.Id);
        Assert.Equal(new ApiKeyGrant(key.Id, "gateway", ["ingest"], "kiln1"), await second.FindAsync(secret, CancellationToken.None), GrantComparer.Instance);

        Assert.Equal(Revocation.Revoked, await _store.RevokeAsync(key.Id, CancellationToken.None));
        await first.AnnounceRevocationAsync(key.Id);

        Assert.Null(await first.FindAsync(secret, CancellationToken.None));
        await Eventually.TrueAsync(async () => await second.FindAsync(secret, CancellationToken.None) is null, Deadline,
            "the other replica to hear of the revocation");
        Assert.Equal(Revocation.AlreadyRevoked, await _store.RevokeAsync(key.Id, CancellationToken.None));
    }

    [Fact]
    public async Task Without_redis_a_revoked_key_is_refused_once_the_answer_is_a_second_old()
    {
        await using var deaf = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{RedisServerFixture.FindFreePort()},abortConnect=false,connectTimeout=200");
        var replica = await StartAsync(deaf);
        var (key, secret) = await _store.CreateAsync("gateway", ["ingest"], null, CancellationToken.None);
        Assert.NotNull(await replica.FindAsync(secret, CancellationToken.None));

        await _store.RevokeAsync(key.Id, CancellationToken.None); // revoked elsewhere; nobody can tell this replica

        _clock.Advance(ApiKeyCache.CacheFor - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(await replica.FindAsync(secret, CancellationToken.None));
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await replica.FindAsync(secret, CancellationToken.None));
    }

    [Fact]
    public async Task While_postgres_does_not_answer_a_recently_confirmed_key_still_works_and_an_unknown_one_fails_in_bounded_time()
    {
        await using var cache = await redis.ConnectAsync();
        var replica = await StartAsync(cache);
        var (key, secret) = await _store.CreateAsync("gateway", ["ingest"], null, CancellationToken.None);
        Assert.NotNull(await replica.FindAsync(secret, CancellationToken.None));

        // A lock makes every lookup hang, as a frozen or overloaded database does.
        await using var apiKeys = await LockApiKeysAsync();

        _clock.Advance(ApiKeyCache.CacheFor);
        var clock = Stopwatch.StartNew();
        Assert.Equal(key.Id, (await replica.FindAsync(secret, CancellationToken.None))?.Id);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        // The failed attempt is not repeated by every request: the next one within the cache time is answered at once.
        clock.Restart();
        Assert.NotNull(await replica.FindAsync(secret, CancellationToken.None));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, ApiKeyCache.DefaultLookupTimeout - TimeSpan.FromMilliseconds(1));

        await Assert.ThrowsAsync<TimeoutException>(() => replica.FindAsync(NobodysKey, CancellationToken.None));
        // Not for ever: a replica that missed a revocation must not accept the key through an outage of any length.
        _clock.Advance(ApiKeyCache.UsableWhileUnreachable);
        await Assert.ThrowsAsync<TimeoutException>(() => replica.FindAsync(secret, CancellationToken.None));
        await apiKeys.ReleaseAsync();
    }

    [Fact]
    public async Task Requests_that_find_a_key_expired_together_wait_for_one_lookup()
    {
        await using var cache = await redis.ConnectAsync();
        // A lookup is held on purpose below: long enough that it cannot time out while the test counts.
        var replica = new ApiKeyCache(_store, cache, _clock, NullLogger<ApiKeyCache>.Instance) { LookupTimeout = TimeSpan.FromMinutes(2) };
        var (key, secret) = await _store.CreateAsync("gateway", ["ingest"], null, CancellationToken.None);
        Assert.NotNull(await replica.FindAsync(secret, CancellationToken.None));

        // Lookups hang on the lock, so every one started meanwhile waits in pg_stat_activity until the rollback.
        await using var apiKeys = await LockApiKeysAsync();

        _clock.Advance(ApiKeyCache.CacheFor);
        var requests = Enumerable.Range(0, 32).Select(_ => replica.FindAsync(secret, CancellationToken.None)).ToList();
        await using var observer = NpgsqlDataSource.Create(postgres.ConnectionString);
        await Eventually.TrueAsync(async () => await WaitingLookupsAsync(observer) > 0, Deadline, "a key lookup waiting on the lock");
        Assert.Equal(1, await WaitingLookupsAsync(observer));
        Assert.All(requests, request => Assert.False(request.IsCompleted));

        await apiKeys.ReleaseAsync();
        Assert.All(await Task.WhenAll(requests), grant => Assert.Equal(key.Id, grant?.Id));
    }

    /// <summary>Holds an exclusive lock on api_keys until released: every key lookup hangs meanwhile, as on a frozen database.</summary>
    private async Task<ApiKeysLock> LockApiKeysAsync()
    {
        var connection = await _database.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE", connection, transaction))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        return new ApiKeysLock(connection, transaction);
    }

    private sealed class ApiKeysLock(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public Task ReleaseAsync() => transaction.RollbackAsync();

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    private static async Task<long> WaitingLookupsAsync(NpgsqlDataSource observer)
    {
        await using var command = observer.CreateCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT id, name, scopes, site, hash FROM api_keys%' AND wait_event_type = 'Lock'");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private const string NobodysKey = "kiln_nobody-has-this-key";

    private async Task<ApiKeyCache> StartAsync(IConnectionMultiplexer cache)
    {
        var replica = new ApiKeyCache(_store, cache, _clock, NullLogger<ApiKeyCache>.Instance);
        await replica.StartAsync(CancellationToken.None);
        return replica;
    }

    /// <summary>Until Redis counts this many subscribers to key revocations (the replicas of the test, whose subscribing is not awaited).</summary>
    private static Task SubscribedAsync(ConnectionMultiplexer cache, long replicas) =>
        Eventually.TrueAsync(async () =>
        {
            var reply = (RedisResult[])(await cache.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", Kiln.Shared.Topology.Cache.RevokedKeysChannel))!;
            return (long)reply[1] >= replicas;
        }, Deadline, $"{replicas} subscribers to key revocations");

    private sealed class GrantComparer : IEqualityComparer<ApiKeyGrant?>
    {
        public static readonly GrantComparer Instance = new();

        public bool Equals(ApiKeyGrant? x, ApiKeyGrant? y) =>
            x is not null && y is not null && x.Id == y.Id && x.Name == y.Name && x.Site == y.Site && x.Scopes.SequenceEqual(y.Scopes);

        public int GetHashCode(ApiKeyGrant? obj) => obj?.Id.GetHashCode() ?? 0;
    }
}
