using Kiln.Api.Security;

namespace Kiln.Api.Extensions;

/// <summary>
/// CORS for the Web's origin only (SPEC: "CORS allows the Web origin only"). The AppHost hands the Api the Web's
/// address as <c>Kiln__Cors__Origins__0</c>; more can be configured under <c>Kiln:Cors:Origins</c>. Any other origin
/// gets no <c>Access-Control-Allow-Origin</c>, so a browser keeps the answer from its page. Keys travel in a header,
/// not in cookies, so credentials are not allowed.
/// </summary>
internal static class CorsExtensions
{
    public const string WebPolicy = "web";

    /// <summary>What a page may read besides the simple headers: how long to wait, where it stands against its limit, what was created.</summary>
    internal static readonly string[] ExposedHeaders =
        ["Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Location"];

    /// <summary>Preflights are cached this long by the browser, so a page does not send one before every call.</summary>
    internal static readonly TimeSpan PreflightMaxAge = TimeSpan.FromMinutes(10);

    public static void AddWebCors(this IHostApplicationBuilder builder)
    {
        var origins = Origins(builder.Configuration.GetSection("Kiln:Cors:Origins").Get<string[]>() ?? []);
        builder.Services.AddCors(cors => cors.AddPolicy(WebPolicy, policy => policy
            .WithOrigins(origins)
            .WithMethods(HttpMethods.Get, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete)
            .WithHeaders(ApiKeyScopes.Header, "Content-Type")
            .WithExposedHeaders(ExposedHeaders)
            .SetPreflightMaxAge(PreflightMaxAge)));
    }

    /// <summary>
    /// Before authentication and rate limiting: a preflight carries no key, so it is answered here (and never counted
    /// against the client's address), and the answers those two give (401, 429) carry the CORS headers a page needs to read them.
    /// </summary>
    public static IApplicationBuilder UseWebCors(this IApplicationBuilder app) => app.UseCors(WebPolicy);

    /// <summary>
    /// Origins as browsers send them (<c>scheme://host[:port]</c>, no path, no trailing slash) from configured addresses such
    /// as <c>http://localhost:5123/</c>; a value that is not an http(s) address stops the Api at start, naming it.
    /// </summary>
    internal static string[] Origins(IEnumerable<string> configured) =>
    [
        .. configured.Where(o => !string.IsNullOrWhiteSpace(o)).Select(o =>
            Uri.TryCreate(o.Trim(), UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
                ? uri.GetLeftPart(UriPartial.Authority)
                : throw new InvalidOperationException($"Kiln:Cors:Origins: '{o}' is not an http(s) origin such as http://localhost:5123.")),
    ];
}
