using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Kiln.Dashboard.Authentication;

internal sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    public IReadOnlyList<string> Keys { get; set; } = [];
}

/// <summary>
/// <c>X-API-Key</c> for the HTTP API (Aspire's <c>Dashboard:Api:PrimaryApiKey</c>/<c>SecondaryApiKey</c>), compared in
/// constant time. A request without the right key is answered 401 with problem details.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<ApiKeyAuthenticationOptions> options, ILoggerFactory logger,
    UrlEncoder encoder, IProblemDetailsService problems) : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-API-Key";

    private SecretComparer? _keys;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        _keys ??= new SecretComparer(Options.Keys);
        if (!Request.Headers.TryGetValue(HeaderName, out var presented))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (!_keys.Matches(presented.ToString()))
        {
            return Task.FromResult(AuthenticateResult.Fail($"The {HeaderName} header does not hold a valid key."));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "api")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = $"A valid {HeaderName} header is required (the dashboard's Dashboard:Api:PrimaryApiKey; under the AppHost, dashboardApiKey in .apphost/secrets.json).",
            },
        });
    }
}
