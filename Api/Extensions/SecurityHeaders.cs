namespace Kiln.Api.Extensions;

/// <summary>
/// An API answers with data, never with a page: nothing may frame, sniff or run it. Set as the response starts, so error
/// responses (whose headers the exception handler clears) carry them too. The one exception is the Development reference
/// page (<see cref="ApiReferenceExtensions"/>), which sets its own Content-Security-Policy for its path.
/// </summary>
internal static class SecurityHeaders
{
    public const string ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

    private static readonly object PolicyKey = new();

    public static void UseSecurityHeaders(this WebApplication app) =>
        app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                headers.ContentSecurityPolicy = context.Items.TryGetValue(PolicyKey, out var policy) ? (string)policy! : ContentSecurityPolicy;
                headers.CacheControl = "no-store";
                return Task.CompletedTask;
            });
            return next(context);
        });

    /// <summary>This response's policy instead of <see cref="ContentSecurityPolicy"/>.</summary>
    public static void SetContentSecurityPolicy(HttpContext context, string policy) => context.Items[PolicyKey] = policy;
}
