using Kiln.Dashboard.Configuration;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;

namespace Kiln.Dashboard.Authentication;

/// <summary>
/// Who may use what: pages need the login cookie (<c>/login?t=&lt;browser token&gt;</c>), the HTTP API needs
/// <c>X-API-Key</c>; either is open only when its AuthMode is <c>Unsecured</c>. The OTLP receivers check their own key.
/// </summary>
internal static class DashboardPolicies
{
    public const string Frontend = "Frontend";
    public const string Api = "Api";
    public const string CookieScheme = "BrowserToken";
    public const string CookieName = ".Kiln.Dashboard.Login";

    public static IServiceCollection AddDashboardAuthentication(this IServiceCollection services, DashboardOptions options)
    {
        services.AddAuthentication(CookieScheme)
            .AddCookie(CookieScheme, cookie =>
            {
                cookie.Cookie.Name = CookieName;
                cookie.Cookie.HttpOnly = true;
                // Lax, not Strict: the login link is opened from a terminal, and its redirect must carry the cookie.
                cookie.Cookie.SameSite = SameSiteMode.Lax;
                cookie.LoginPath = "/login";
                cookie.ExpireTimeSpan = TimeSpan.FromDays(3);
                cookie.SlidingExpiration = true;
            })
            .AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName,
                api => api.Keys = options.ApiAccess.Keys);

        services.AddAuthorizationBuilder()
            .AddPolicy(Frontend, policy => Require(policy, options.FrontendAccess.Mode, CookieScheme))
            .AddPolicy(Api, policy => Require(policy, options.ApiAccess.Mode, ApiKeyAuthenticationHandler.SchemeName))
            .SetFallbackPolicy(Build(options.FrontendAccess.Mode, CookieScheme));
        return services;
    }

    private static AuthorizationPolicy Build(AuthMode mode, string scheme)
    {
        var policy = new AuthorizationPolicyBuilder();
        Require(policy, mode, scheme);
        return policy.Build();
    }

    private static void Require(AuthorizationPolicyBuilder policy, AuthMode mode, string scheme)
    {
        if (mode == AuthMode.Unsecured)
        {
            policy.RequireAssertion(_ => true);
            return;
        }

        policy.AddAuthenticationSchemes(scheme).RequireAuthenticatedUser();
    }
}
