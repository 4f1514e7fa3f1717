using System.Collections.Concurrent;
using Kiln.Shared.Security;
using Npgsql;

namespace Kiln.Api.Security;

/// <summary>A stored key: its scopes and, for a site's key, the site.</summary>
internal sealed record ApiKeyGrant(Guid Id, string Name, IReadOnlyList<string> Scopes, string? Site);

/// <summary>
/// Looks keys up by hash. Answers are cached briefly so a burst of ingest requests costs one query;
/// a revoked key stops working within <see cref="CacheFor"/>.
/// </summary>
internal sealed class ApiKeyStore(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, (ApiKeyGrant? Grant, DateTimeOffset Expires)> _cache = new();

    public async Task<ApiKeyGrant?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var hash = ApiKeyHash.Compute(key);
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(hash, out var cached) && cached.Expires > now)
        {
            return cached.Grant;
        }

        await using var command = dataSource.CreateCommand(
            "SELECT id, name, scopes, site FROM api_keys WHERE hash = $1 AND revoked_at IS NULL");
        command.Parameters.AddWithValue(hash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        ApiKeyGrant? grant = null;
        if (await reader.ReadAsync(cancellationToken))
        {
            grant = new ApiKeyGrant(reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<string[]>(2),
                reader.IsDBNull(3) ? null : reader.GetString(3));
        }

        if (_cache.Count > 10_000)
        {
            _cache.Clear(); // bounded: unknown keys sent at random must not grow memory without end
        }

        _cache[hash] = (grant, now + CacheFor);
        return grant;
    }

    /// <summary>Inserts or refreshes a key known only by its hash (the AppHost's bootstrap keys).</summary>
    public async Task EnsureAsync(string name, string hash, string[] scopes, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO api_keys (id, name, hash, scopes) VALUES ($1, $2, $3, $4)
            ON CONFLICT (hash) DO UPDATE SET scopes = EXCLUDED.scopes, name = EXCLUDED.name
            """);
        command.Parameters.AddWithValue(Guid.CreateVersion7());
        command.Parameters.AddWithValue(name);
        command.Parameters.AddWithValue(hash);
        command.Parameters.AddWithValue(scopes);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
