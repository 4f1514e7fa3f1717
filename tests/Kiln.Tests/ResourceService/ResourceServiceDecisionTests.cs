using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.ResourceService;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.Tests.ResourceService;

/// <summary>The resource service's pure decisions: what is secret, what a /health answer says, how a state reads, how lines are numbered.</summary>
public sealed class ResourceServiceDecisionTests
{
    private static readonly string[] Secrets = ["s3cretPassw0rdOfThirtyTwoCharsXY", "anotherGeneratedKeyOf32Chars0000"];

    [Theory]
    [InlineData("ConnectionStrings__kilndb", "Host=127.0.0.1;Port=5432;Username=kilndb_owner;Password=s3cretPassw0rdOfThirtyTwoCharsXY", true)]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "x-otlp-api-key=anotherGeneratedKeyOf32Chars0000", true)]
    [InlineData("Kiln__BootstrapKeys__Admin", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", true)]
    [InlineData("Kiln__Web__OperatorPasswordHash", "abc", true)]
    [InlineData("Dashboard__ResourceServiceClient__ApiKey", "", true)]
    [InlineData("ASPNETCORE_URLS", "http://localhost:5000", false)]
    [InlineData("services__api__http__0", "http://localhost:5000", false)]
    [InlineData("OTEL_SERVICE_NAME", "api", false)]
    public void A_value_is_secret_when_it_holds_a_generated_secret_or_its_name_says_so(string name, string value, bool secret) =>
        Assert.Equal(secret, EnvironmentSecrets.IsSecret(name, value, Secrets));

    [Fact]
    public void A_health_answer_from_ServiceDefaults_gives_one_result_per_check()
    {
        var at = DateTimeOffset.UnixEpoch;
        const string Body = """{"status":"Degraded","checks":{"self":{"status":"Healthy","description":null},"redis":{"status":"Degraded","description":"Redis is down"}}}""";

        var results = ResourceHealthMonitor.ParseHealthAnswer(200, Body, at);

        Assert.Equal([new HealthResult("self", HealthStatus.Healthy, "", at), new HealthResult("redis", HealthStatus.Degraded, "Redis is down", at)], results);
        Assert.Equal(HealthStatus.Degraded, ResourceHealthMonitor.Overall(results));
        Assert.Null(ResourceHealthMonitor.Overall([]));
    }

    [Fact]
    public void Any_other_health_answer_is_judged_by_its_status_code()
    {
        var unhealthy = Assert.Single(ResourceHealthMonitor.ParseHealthAnswer(503, "Service Unavailable", DateTimeOffset.UnixEpoch));
        Assert.Equal(HealthStatus.Unhealthy, unhealthy.Status);
        Assert.Equal("/health answered 503: Service Unavailable", unhealthy.Description);
        Assert.Equal(HealthStatus.Healthy, Assert.Single(ResourceHealthMonitor.ParseHealthAnswer(200, "Healthy", DateTimeOffset.UnixEpoch)).Status);
    }

    [Theory]
    [InlineData("Waiting", false, null, "pg,cache", "Waiting for pg, cache", "info")]
    [InlineData("Running", false, HealthStatus.Healthy, "", "Running", "success")]
    [InlineData("Running", false, HealthStatus.Unhealthy, "", "Running (Unhealthy)", "warning")]
    [InlineData("Running", false, HealthStatus.Degraded, "", "Running (Degraded)", "warning")]
    [InlineData("Starting", true, null, "", "Starting (restarting after a crash)", "warning")]
    [InlineData("FailedToStart", false, null, "", "Failed to start", "error")]
    public void A_state_reads_with_its_health_and_what_it_waits_for(string state, bool restarting, HealthStatus? health, string waitingFor,
        string text, string style) =>
        Assert.Equal((text, style), ResourceSnapshots.DescribeState(Enum.Parse<ResourceState>(state), restarting, health, waitingFor.Split(',', StringSplitOptions.RemoveEmptyEntries)));

    [Fact]
    public void A_follower_gets_the_kept_lines_then_every_new_one_numbered_with_none_missed()
    {
        var log = new ResourceLog("probe", new ConsoleSink(echo: false));
        for (var i = 0; i < ResourceLog.Capacity + 5; i++)
        {
            log.Write($"before {i}");
        }

        var followed = new List<LogLine>();
        var (kept, subscription) = log.Follow(followed.Add);
        log.Write("after", isError: true);
        subscription.Dispose();
        log.Write("unfollowed");

        Assert.Equal(ResourceLog.Capacity, kept.Count);
        Assert.Equal(6, kept[0].Number);
        Assert.Equal(new LogLine(ResourceLog.Capacity + 6, "after", true), Assert.Single(followed));
    }
}
