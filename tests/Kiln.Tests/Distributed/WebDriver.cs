using System.Net;
using System.Text.RegularExpressions;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;

namespace Kiln.Tests.Distributed;

/// <summary>A browser's part, over plain HTTP: its own cookies, redirects seen (not followed), forms posted with their antiforgery token.</summary>
internal sealed partial class WebDriver(DistributedApplication app) : IDisposable
{
    private readonly CookieContainer _cookies = new();
    private HttpClient? _http;

    public HttpClient Http => _http ??= new HttpClient(new HttpClientHandler { CookieContainer = _cookies, AllowAutoRedirect = false })
    {
        BaseAddress = app.Resource<ProjectResource>("web").Urls[0],
    };

    public string OperatorPassword => app.Secrets.OperatorPassword;

    public bool HasSessionCookie => _cookies.GetCookies(Http.BaseAddress!).Any(c => c.Name == "kiln.operator");

    /// <summary>Gets <paramref name="page"/> and posts <paramref name="fields"/> to <paramref name="action"/> with the token from that page's form.</summary>
    public async Task<HttpResponseMessage> PostFormAsync(string page, string action, params (string Name, string Value)[] fields)
    {
        var html = await GetPageAsync(page);
        var token = AntiforgeryToken().Match(html);
        Assert.True(token.Success, $"{page} has no antiforgery token");
        return await Http.PostAsync(action, new FormUrlEncodedContent(
            [.. fields.Select(f => KeyValuePair.Create(f.Name, f.Value)), KeyValuePair.Create("__RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value))]));
    }

    public async Task<string> GetPageAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode} ({response.Headers.Location}): {html}");
        return html;
    }

    public async Task SignInAsync()
    {
        using var response = await PostFormAsync("/login", "/account/login", ("password", OperatorPassword), ("returnUrl", "/"));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location?.OriginalString);
        Assert.True(HasSessionCookie, "no session cookie after signing in");
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();

    public void Dispose() => _http?.Dispose();
}
