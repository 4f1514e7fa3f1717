using System.Security.Cryptography;
using System.Text;
using Kiln.Shared.Security;
using Npgsql;

namespace Kiln.Api.Security;

/// <summary>A stored key: its scopes and, for a site's key, the site.</summary>
internal sealed record ApiKeyGrant(Guid Id, string Name, IReadOnlyList<string> Scopes, string? Site);

/// <summary>A key as an admin sees it: never its secret, never its hash.</summary>
internal sealed record ApiKey(Guid Id, string Name, IReadOnlyList<string> Scopes, string? Site, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>What revoking a key did.</summary>
internal enum Revocation
{
    Revoked,
    AlreadyRevoked,
    Unknown,
}

/// <summary>
/// The <c>api_keys</c> table. A key's secret exists only in the answer that creates it; what is stored is its
/// <see cref="ApiKeyHash"/>. Keys are never deleted, only revoked, so the list keeps who had access and until when.
/// </summary>
internal sealed class ApiKeyStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "id, name, scopes, site, created_at, revoked_at";

    /// <summary>The grant of an unrevoked key with this hash, or null.</summary>
    public async Task<ApiKeyGrant?> FindByHashAsync(string hash, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, name, scopes, site, hash FROM api_keys WHERE hash = $1 AND revoked_at IS NULL");
        command.Parameters.AddWithValue(hash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        // The index found the row; the comparison that admits the caller takes the same time wherever the hashes differ.
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(reader.GetString(4)), Encoding.ASCII.GetBytes(hash)))
        {
            return null;
        }

        return new ApiKeyGrant(reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<string[]>(2), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

    /// <summary>Stores a new key and returns it with its secret, which is not kept anywhere.</summary>
    public async Task<(ApiKey Key, string Secret)> CreateAsync(string name, IReadOnlyList<string> scopes, string? site, CancellationToken cancellationToken)
    {
        var secret = ApiKeyHash.NewKey();
        await using var command = dataSource.CreateCommand(
            $"INSERT INTO api_keys (id, name, hash, scopes, site) VALUES ($1, $2, $3, $4, $5) RETURNING {Columns}");
        command.Parameters.AddWithValue(Guid.CreateVersion7());
        command.Parameters.AddWithValue(name);
        command.Parameters.AddWithValue(ApiKeyHash.Compute(secret));
        command.Parameters.AddWithValue(scopes.ToArray());
        command.Parameters.AddWithValue(NpgsqlTypes.NpgsqlDbType.Text, (object?)site ?? DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (Read(reader), secret);
    }

    /// <summary>Every key, newest first, revoked ones included.</summary>
    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM api_keys ORDER BY created_at DESC, id DESC");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader));
        }

        return keys;
    }

    public async Task<ApiKey?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM api_keys WHERE id = $1");
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<Revocation> RevokeAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH revoked AS (UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id)
            SELECT (SELECT count(*) FROM revoked), (SELECT count(*) FROM api_keys WHERE id = $1)
            """);
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1)) switch
        {
            (1, _) => Revocation.Revoked,
            (_, 1) => Revocation.AlreadyRevoked,
            _ => Revocation.Unknown,
        };
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

    private static ApiKey Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<string[]>(2), reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5));
}
