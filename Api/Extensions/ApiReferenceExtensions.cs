using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Scalar.AspNetCore;

namespace Kiln.Api.Extensions;

/// <summary>
/// A browsable reference of the OpenAPI document at <c>/scalar</c>, in Development only (Scalar.AspNetCore). It works
/// offline: the page's script bundle is served from the package, its CDN fonts and its telemetry are off. Its page is the
/// one response that runs script, so its path alone gets a Content-Security-Policy that allows what it needs: our own
/// scripts, the one inline script by its hash, inline styles, and requests back to the Api.
/// </summary>
internal static partial class ApiReferenceExtensions
{
    public const string PagePath = "/scalar";

    /// <summary>The page's policy; <paramref name="inlineScripts"/> are the hashes of the inline scripts it may run.</summary>
    private static string PagePolicy(string inlineScripts = "") =>
        $"default-src 'none'; script-src 'self'{inlineScripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void MapApiReference(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
        {
            return;
        }

        app.MapScalarApiReference(PagePath, options => options
            .WithTitle("Kiln API")
            .WithOpenApiRoutePattern(OpenApiExtensions.DocumentPath)
            .DisableDefaultFonts()
            .DisableTelemetry()
            .AddPreferredSecuritySchemes(OpenApiExtensions.SecuritySchemeName));
    }

    /// <summary>
    /// In Development, the reference page's own CSP (see the class summary). The inline script's hash is taken from the page as
    /// it is served, so the policy allows exactly that script whatever the package writes into it.
    /// </summary>
    public static void UseApiReferencePolicy(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
        {
            return;
        }

        app.UseWhen(context => context.Request.Path.StartsWithSegments(PagePath), branch => branch.Use(async (context, next) =>
        {
            SecurityHeaders.SetContentSecurityPolicy(context, PagePolicy());
            if (Path.HasExtension(context.Request.Path.Value))
            {
                await next(context); // the bundle and icons: nothing inline to hash
                return;
            }

            var body = context.Response.Body;
            using var page = new MemoryStream();
            context.Response.Body = page;
            try
            {
                await next(context);
            }
            finally
            {
                context.Response.Body = body;
            }

            if (context.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true)
            {
                var hashes = InlineScript().Matches(Encoding.UTF8.GetString(page.GetBuffer(), 0, (int)page.Length))
                    .Select(m => $" 'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(m.Groups["body"].Value)))}'");
                SecurityHeaders.SetContentSecurityPolicy(context, PagePolicy(string.Concat(hashes)));
            }

            page.Position = 0;
            await page.CopyToAsync(body, context.RequestAborted);
        }));
    }

    /// <summary>A script element without a src attribute, and its text.</summary>
    [GeneratedRegex(@"<script(?![^>]*\bsrc\s*=)[^>]*>(?<body>.*?)</script>", RegexOptions.Singleline | RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex InlineScript();
}
