using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Hosting;
using Kiln.Tests.Redis;
using Xunit.Abstractions;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The dashboard as its own process, as the AppHost runs it: what it holds in memory at rest and after 100,000 spans
/// (its stores bounded, so a flood costs a bounded amount), measured as the process's resident set (VmRSS).
/// <c>dotnet test tests/Kiln.Tests --filter DashboardMemoryTests --logger 'console;verbosity=detailed'</c> prints the figures.
/// </summary>
public sealed partial class DashboardMemoryTests(ITestOutputHelper output)
{
    /// <summary>Far above what was measured here (75 MiB at rest, 240–280 MiB after the flood), far below what an unbounded store reaches.</summary>
    private const long MaxResidentBytes = 600L * 1024 * 1024;

    [Fact]
    public async Task A_flood_of_100000_spans_leaves_the_dashboard_process_within_a_bounded_memory()
    {
        var otlpKey = DashboardOptions.NewKey();
        var apiKey = DashboardOptions.NewKey();
        var lines = new List<string>();
        var listening = new TaskCompletionSource<(Uri Frontend, Uri OtlpHttp)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = await ParentBoundProcess.StartAsync("dotnet", ["exec", typeof(DashboardWebApplication).Assembly.Location,
            "--ASPNETCORE_URLS=http://127.0.0.1:0", "--ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://127.0.0.1:0",
            "--ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL=http://127.0.0.1:0", $"--Dashboard:Otlp:PrimaryApiKey={otlpKey}",
            $"--Dashboard:Api:PrimaryApiKey={apiKey}"], line =>
        {
            lock (lines)
            {
                lines.Add(line);
            }

            if (Listening().Match(line) is { Success: true } match)
            {
                listening.TrySetResult((new Uri(match.Groups[1].Value), new Uri(match.Groups[2].Value)));
            }
        });
        try
        {
            var (frontend, otlpHttp) = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var atRest = ResidentBytes(process.Id);

            using var otlp = new HttpClient { BaseAddress = otlpHttp };
            otlp.DefaultRequestHeaders.Add("x-otlp-api-key", otlpKey);
            var flood = Stopwatch.StartNew();
            for (var batch = 0; batch < 100; batch++)
            {
                // 1,000 spans an export (200 traces of 5), with the attributes an HTTP server span carries.
                var spans = Enumerable.Range(batch * 200, 200).SelectMany(t => Enumerable.Range(0, 5).Select(s =>
                {
                    var span = OtlpMessages.Span(OtlpMessages.TraceId(t), s, "POST /api/v1/readings");
                    span.Attributes.Add(OtlpMessages.Attribute("http.request.method", "POST"));
                    span.Attributes.Add(OtlpMessages.Attribute("url.path", $"/api/v1/readings/{t}"));
                    span.Attributes.Add(OtlpMessages.Attribute("server.address", "localhost"));
                    span.Attributes.Add(OtlpMessages.Attribute("user_agent.original", "kiln-gateway/1.0"));
                    return span;
                }));
                using var content = new ByteArrayContent(OtlpMessages.Traces("api", spans).ToByteArray());
                content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
                using var response = await otlp.PostAsync("/v1/traces", content);
                response.EnsureSuccessStatusCode();
            }

            flood.Stop();
            using var api = new HttpClient { BaseAddress = frontend };
            api.DefaultRequestHeaders.Add("X-API-Key", apiKey);
            var list = Stopwatch.StartNew();
            using var traces = JsonDocument.Parse(await api.GetStringAsync("/api/telemetry/traces?limit=100"));
            list.Stop();
            Assert.Equal(10_000, traces.RootElement.GetProperty("totalCount").GetInt32());
            var afterFlood = ResidentBytes(process.Id);

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"dashboard RSS at rest {atRest / 1048576.0:0.0} MiB; after 100,000 spans (10,000 traces kept) {afterFlood / 1048576.0:0.0} MiB; " +
                $"the flood took {flood.Elapsed.TotalSeconds:0.0} s over OTLP/HTTP; GET /api/telemetry/traces?limit=100 took {list.Elapsed.TotalMilliseconds:0} ms"));
            Assert.True(afterFlood < MaxResidentBytes, $"RSS {afterFlood / 1048576} MiB after the flood");
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    private static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    [GeneratedRegex(@"Dashboard \(pages, API\) on (http://\S+?); OTLP/gRPC on \S+?; OTLP/HTTP on (http://\S+)")]
    private static partial Regex Listening();
}
