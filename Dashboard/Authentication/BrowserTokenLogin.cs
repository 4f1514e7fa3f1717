using System.Security.Claims;
using Kiln.Dashboard.Configuration;
using Microsoft.AspNetCore.Authentication;

namespace Kiln.Dashboard.Authentication;

/// <summary>
/// <c>GET /login?t=&lt;token&gt;</c>: the browser token (compared in constant time) sets the login cookie and redirects to
/// <c>/</c>. Without a token, or with a wrong one (401), it is a page that says where the login URL is printed.
/// </summary>
internal static class BrowserTokenLogin
{
    public static IEndpointRouteBuilder MapBrowserTokenLogin(this IEndpointRouteBuilder endpoints, DashboardOptions options)
    {
        var tokens = new SecretComparer(options.FrontendAccess.Keys);
        endpoints.MapGet("/login", async (HttpContext context, string? t, string? returnUrl) =>
        {
            if (options.FrontendAccess.Mode == AuthMode.Unsecured)
            {
                return Results.Redirect("/");
            }

            if (string.IsNullOrEmpty(t))
            {
                return LoginPage(StatusCodes.Status200OK, null);
            }

            if (!tokens.Matches(t))
            {
                return LoginPage(StatusCodes.Status401Unauthorized, "That token is not this dashboard's: open the login URL it printed at its start.");
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "browser")], DashboardPolicies.CookieScheme);
            await context.SignInAsync(DashboardPolicies.CookieScheme, new ClaimsPrincipal(identity));
            return Results.Redirect(returnUrl is { Length: > 0 } && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal) ? returnUrl : "/");
        }).AllowAnonymous();
        return endpoints;
    }

    private static IResult LoginPage(int status, string? problem) => Results.Content($$"""
        <!DOCTYPE html>
        <html lang="en">
        <head><meta charset="utf-8"><title>Kiln dashboard: log in</title>
        <style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5}code{background:#eee;padding:0 .2rem}</style></head>
        <body>
        <h1>Log in to the Kiln dashboard</h1>
        {{(problem is null ? "" : $"<p><strong>{problem}</strong></p>")}}
        <p>The dashboard is opened with its login URL, <code>http://…/login?t=&lt;token&gt;</code>, which carries a token.</p>
        <ul>
        <li>Started by the AppHost (<code>dotnet run --project AppHost</code>): the AppHost prints it as <code>dashboard  http://…/login?t=…</code>;
        the token is <code>dashboardToken</code> in <code>.apphost/secrets.json</code>.</li>
        <li>Started alone (<code>dotnet run --project Dashboard</code>): it prints <code>Login to the dashboard at http://…/login?t=…</code>
        at start, or takes the token you set in <code>Dashboard:Frontend:BrowserToken</code>.</li>
        </ul>
        </body>
        </html>
        """, "text/html; charset=utf-8", statusCode: status);
}
