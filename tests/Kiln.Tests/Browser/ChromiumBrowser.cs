using Microsoft.Playwright;

namespace Kiln.Tests.Browser;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>; <c>.ci/run</c> installs it) driven by Playwright, as every browser test
/// runs it: headless, no sandbox (the test machine runs as root). Screenshots go to the test output's
/// <c>screenshots/</c>.
/// </summary>
internal sealed class ChromiumBrowser(IPlaywright playwright, IBrowser browser) : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public IBrowser Browser => browser;

    /// <summary>Fails the test with the command to run when Chromium is not installed.</summary>
    public static async Task<ChromiumBrowser> LaunchAsync()
    {
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing; run: apt-get install -y chromium (.ci/run does)");
        Directory.CreateDirectory(Screenshots);
        var playwright = await Playwright.CreateAsync();
        try
        {
            return new ChromiumBrowser(playwright, await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = ExecutablePath,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            }));
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>The path of a screenshot of that name in <see cref="Screenshots"/>.</summary>
    public static string Screenshot(string name) => Path.Combine(Screenshots, $"{name}.png");

    public async ValueTask DisposeAsync()
    {
        await browser.DisposeAsync();
        playwright.Dispose();
    }
}
