using System.Diagnostics;
using System.Text.RegularExpressions;
using Kiln.Dashboard.Hosting;
using Kiln.Tests.Redis;

namespace Kiln.Tests.Dashboard;

/// <summary>The built dashboard as its own process (as the AppHost runs it), on free loopback ports, bound to the test host's life.</summary>
internal static partial class DashboardProcess
{
    /// <summary>The command line: <c>dotnet exec Kiln.Dashboard.dll</c> with ports of 0, the keys, and the storage folder.</summary>
    public static string[] Arguments(string storage, string otlpKey, string apiKey, string browserToken) =>
    [
        "exec", typeof(DashboardWebApplication).Assembly.Location,
        "--ASPNETCORE_URLS=http://127.0.0.1:0", "--ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://127.0.0.1:0",
        "--ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL=http://127.0.0.1:0", $"--Dashboard:Otlp:PrimaryApiKey={otlpKey}",
        $"--Dashboard:Api:PrimaryApiKey={apiKey}", $"--Dashboard:Frontend:BrowserToken={browserToken}", $"--Dashboard:Storage:Path={storage}",
    ];

    /// <summary>Starts one and waits until it listens; its output lines go to <paramref name="onOutputLine"/> too.</summary>
    public static async Task<(Process Process, Uri Frontend, Uri OtlpHttp)> StartAsync(string storage, string otlpKey, string apiKey, string browserToken,
        Action<string>? onOutputLine = null)
    {
        var listening = new TaskCompletionSource<(Uri Frontend, Uri OtlpHttp)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = await ParentBoundProcess.StartAsync("dotnet", Arguments(storage, otlpKey, apiKey, browserToken), line =>
        {
            onOutputLine?.Invoke(line);
            if (Listening().Match(line) is { Success: true } match)
            {
                listening.TrySetResult((new Uri(match.Groups[1].Value), new Uri(match.Groups[2].Value)));
            }
        });
        var (frontend, otlpHttp) = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return (process, frontend, otlpHttp);
    }

    [GeneratedRegex(@"Dashboard \(pages, API\) on (http://\S+?); OTLP/gRPC on \S+?; OTLP/HTTP on (http://\S+)")]
    private static partial Regex Listening();
}
