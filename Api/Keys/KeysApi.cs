using Kiln.Api.Extensions;
using Kiln.Api.Security;
using Kiln.Api.Sensors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Kiln.Api.Keys;

/// <summary>API keys, for admins: create (the secret is in that answer only), list, get, revoke.</summary>
internal static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/v1/keys").WithTags("Keys").RequireApiKey(ApiKeyScopes.Admin);
        keys.MapPost("/", CreateKey).ProducesProblems(400, 413, 415);
        keys.MapGet("/", ListKeys);
        keys.MapGet("/{id}", GetKey).ProducesProblems(400, 404);
        keys.MapDelete("/{id}", RevokeKey).ProducesProblems(400, 404);
        return app;
    }

    /// <summary>A key just created: the only answer that ever carries its secret, <see cref="Key"/>.</summary>
    internal sealed record CreatedApiKey(Guid Id, string Name, IReadOnlyList<string> Scopes, string? Site, DateTimeOffset CreatedAt, string Key);

    internal sealed record ApiKeyList(IReadOnlyList<ApiKey> Items);

    private static async Task<Results<Created<CreatedApiKey>, ProblemHttpResult>> CreateKey(
        NewApiKey? request, ApiKeyStore store, ILogger<ApiKeyStore> logger, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            return Problems.BadRequest("The key is not valid.", "Send {\"name\":\"...\",\"scopes\":[\"ingest\"],\"site\":\"kiln1\"}; site is optional.");
        }

        if (request.Validate() is { } problem)
        {
            return Problems.BadRequest("The key is not valid.", problem);
        }

        var (key, secret) = await store.CreateAsync(request.Name!.Trim(), request.DistinctScopes, request.Site, cancellationToken);
        // Who may do what is worth a line; the secret never is.
        logger.LogInformation("Created API key {KeyId} '{KeyName}' with scopes {Scopes} for site {Site}",
            key.Id, key.Name, string.Join(",", key.Scopes), key.Site ?? "(any)");
        return TypedResults.Created($"/api/v1/keys/{key.Id}", new CreatedApiKey(key.Id, key.Name, key.Scopes, key.Site, key.CreatedAt, secret));
    }

    private static async Task<Ok<ApiKeyList>> ListKeys(ApiKeyStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ApiKeyList(await store.ListAsync(cancellationToken)));

    private static async Task<Results<Ok<ApiKey>, ProblemHttpResult>> GetKey(string id, ApiKeyStore store, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var keyId))
        {
            return NotAnId();
        }

        return await store.FindAsync(keyId, cancellationToken) is { } key ? TypedResults.Ok(key) : UnknownKey(keyId);
    }

    /// <summary>Revoking twice is no error (the key is revoked either way); every replica refuses the key within a second.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(
        string id, ApiKeyStore store, ApiKeyCache cache, ILogger<ApiKeyStore> logger, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var keyId))
        {
            return NotAnId();
        }

        var revocation = await store.RevokeAsync(keyId, cancellationToken);
        if (revocation == Revocation.Unknown)
        {
            return UnknownKey(keyId);
        }

        await cache.AnnounceRevocationAsync(keyId);
        if (revocation == Revocation.Revoked)
        {
            logger.LogInformation("Revoked API key {KeyId}", keyId);
        }

        return TypedResults.NoContent();
    }

    private static ProblemHttpResult NotAnId() =>
        Problems.BadRequest("The key id is not valid.", "A key id is a UUID, as GET /api/v1/keys lists them.");

    private static ProblemHttpResult UnknownKey(Guid id) => Problems.NotFound("Unknown key.", $"No key has id '{id}'.");
}
