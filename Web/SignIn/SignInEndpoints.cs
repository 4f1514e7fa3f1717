using System.Security.Claims;
using Kiln.Shared.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;

namespace Kiln.Web.SignIn;

/// <summary>
/// Sign-in and sign-out for the one operator. The forms live on <c>/login</c> and in the layout; they post here
/// (not to the page's own path, which the Razor component endpoint answers for both GET and POST).
/// </summary>
internal static class SignInEndpoints
{
    public const string OperatorName = "operator";

    public static IEndpointRouteBuilder MapSignIn(this IEndpointRouteBuilder app)
    {
        var account = app.MapGroup("/account");
        account.MapPost("/login", SignInAsync).AllowAnonymous();
        account.MapPost("/logout", (Delegate)SignOutAsync).RequireAuthorization().AddEndpointFilter<AntiforgeryFilter>();
        return app;
    }

    // Form binding makes the antiforgery middleware's verdict binding too: a post without a valid token is a 400.
    private static async Task<IResult> SignInAsync(
        [FromForm] string? password, [FromForm] string? returnUrl, HttpContext context, LoginThrottle throttle, IConfiguration configuration,
        ILogger<LoginThrottle> logger, CancellationToken cancellationToken)
    {
        var target = IsLocal(returnUrl) ? returnUrl! : "/";
        using var gate = await throttle.EnterAsync(context.Connection.RemoteIpAddress, cancellationToken);
        if (gate is null)
        {
            return Results.Redirect($"/login?busy=true&returnUrl={Uri.EscapeDataString(target)}");
        }

        var expected = configuration["Kiln:Web:OperatorPasswordHash"];
        if (expected is null || password is null || !OperatorPassword.Matches(password, expected))
        {
            logger.LogWarning("Sign-in refused for {Address}", context.Connection.RemoteIpAddress);
            await throttle.FailedAsync(cancellationToken);
            return Results.Redirect($"/login?failed=true&returnUrl={Uri.EscapeDataString(target)}");
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, OperatorName)], CookieAuthenticationDefaults.AuthenticationScheme);
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        return Results.Redirect(target);
    }

    private static async Task<IResult> SignOutAsync(HttpContext context)
    {
        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return Results.Redirect("/login");
    }

    /// <summary>Only a path of this site: never an open redirect to another one.</summary>
    private static bool IsLocal(string? url) =>
        url is { Length: > 0 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\'));
}

/// <summary>For form posts that carry no other field: the antiforgery token is checked here, explicitly.</summary>
internal sealed class AntiforgeryFilter(IAntiforgery antiforgery) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        await antiforgery.IsRequestValidAsync(context.HttpContext)
            ? await next(context)
            : Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The form's antiforgery token is missing or not valid.");
}
