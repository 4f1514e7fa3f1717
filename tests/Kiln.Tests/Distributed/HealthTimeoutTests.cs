using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// A dependency that hangs rather than refuses is the hard case for a health check: with every
/// PostgreSQL process frozen (SIGSTOP), <c>/health</c> once hung ≈ 9 s and then said Healthy (issue 6).
/// Each check has a timeout, so the report comes in bounded time and names the frozen dependency.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class HealthTimeoutTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    /// <summary>The Npgsql check's own timeout (5 s) and the time to answer on a loaded machine.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task With_postgres_frozen_health_answers_in_bounded_time_and_names_it()
    {
        var pg = platform.App.Resource<PostgresServerResource>("pg");
        var server = pg.Pid ?? throw new InvalidOperationException("pg has no process");
        using var http = platform.App.CreateHttpClient("api");
        PosixSignals.SendToTree(server, Signals.SigStop); // the server and every backend
        try
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync("/health");
            var elapsed = clock.Elapsed;
            var report = await response.Content.ReadFromJsonAsync<JsonElement>();
            output.WriteLine($"/health answered {(int)response.StatusCode} in {elapsed.TotalSeconds:0.00} s: {report}");

            Assert.True(elapsed < Bound, $"/health took {elapsed.TotalSeconds:0.0} s");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("Unhealthy", report.GetProperty("checks").GetProperty("kilndb").GetProperty("status").GetString());
        }
        finally
        {
            PosixSignals.SendToTree(server, Signals.SigCont);
        }

        await Eventually.TrueAsync(async () => (await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30),
            "the Api to report healthy once PostgreSQL runs again");
    }

    public void Dispose() => platform.WriteLogs(output);
}
