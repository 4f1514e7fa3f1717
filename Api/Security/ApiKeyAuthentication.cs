using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Kiln.Api.Security;

/// <summary>Authenticates the <c>X-Api-Key</c> header against the stored key hashes.</summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyCache keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(ApiKeyScopes.Header, out var values) || string.IsNullOrWhiteSpace(values.ToString()))
        {
            return AuthenticateResult.NoResult();
        }

        var grant = await keys.FindAsync(values.ToString(), Context.RequestAborted);
        if (grant is null)
        {
            return AuthenticateResult.Fail("unknown or revoked API key");
        }

        List<Claim> claims = [new(ClaimTypes.Name, grant.Name), new(ClaimTypes.NameIdentifier, grant.Id.ToString())];
        claims.AddRange(grant.Scopes.Select(s => new Claim(ApiKeyScopes.ScopeClaim, s)));
        if (grant.Site is { } site)
        {
            claims.Add(new Claim(ApiKeyScopes.SiteClaim, site));
        }

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status401Unauthorized, "An API key is required.",
            $"Send a valid key in the {ApiKeyScopes.Header} header.");

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "This API key may not do that.",
            "The key lacks the scope this endpoint requires.");

    private Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        return Context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        }).AsTask();
    }
}

internal static class ApiKeyAuthenticationExtensions
{
    public static void AddApiKeyAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddSingleton<ApiKeyCache>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ApiKeyCache>());
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiKeyScopes.Ingest, p => p.RequireClaim(ApiKeyScopes.ScopeClaim, ApiKeyScopes.Ingest))
            .AddPolicy(ApiKeyScopes.Read, p => p.RequireClaim(ApiKeyScopes.ScopeClaim, ApiKeyScopes.Read, ApiKeyScopes.Admin))
            .AddPolicy(ApiKeyScopes.Sensors, p => p.RequireClaim(ApiKeyScopes.ScopeClaim, ApiKeyScopes.Sensors, ApiKeyScopes.Admin))
            .AddPolicy(ApiKeyScopes.Admin, p => p.RequireClaim(ApiKeyScopes.ScopeClaim, ApiKeyScopes.Admin));
    }
}
