using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Kiln.Tests.Kafka;

public sealed class HealthCheckTests(DevKafkaFixture broker) : IClassFixture<DevKafkaFixture>
{
    [Fact]
    public async Task Producer_and_consumer_report_ready_when_the_broker_answers()
    {
        using var host = BuildHostWithBothClients(broker.BootstrapServers);

        var report = await CheckReadinessAsync(host);

        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(["events-in", "events-out"], report.Entries.Keys.Order());
    }

    [Fact]
    public async Task Producer_and_consumer_report_unhealthy_within_seconds_when_no_broker_listens()
    {
        using var host = BuildHostWithBothClients($"127.0.0.1:{ClosedPort()}");

        var elapsed = Stopwatch.StartNew();
        var report = await CheckReadinessAsync(host);
        elapsed.Stop();

        Assert.All(report.Entries.Values, entry => Assert.Equal(HealthStatus.Unhealthy, entry.Status));
        Assert.Equal(2, report.Entries.Count);
        Assert.InRange(elapsed.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_producer_and_a_consumer_on_one_connection_share_one_check()
    {
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaConsumer<string, string>(DevKafkaFixture.ConnectionName, config => config.GroupId = "health");
        });

        var report = await CheckReadinessAsync(host);

        var entry = Assert.Single(report.Entries);
        Assert.Equal(DevKafkaFixture.ConnectionName, entry.Key);
        Assert.Equal(HealthStatus.Healthy, entry.Value.Status);
    }

    private static IHost BuildHostWithBothClients(string bootstrapServers) =>
        KafkaTestHost.Build(bootstrapServers, builder =>
        {
            builder.Configuration["ConnectionStrings:events-out"] = bootstrapServers;
            builder.Configuration["ConnectionStrings:events-in"] = bootstrapServers;
            builder.AddKafkaProducer<string, string>("events-out");
            builder.AddKafkaConsumer<string, string>("events-in", config => config.GroupId = "health");
        });

    private static Task<HealthReport> CheckReadinessAsync(IHost host) =>
        host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(registration => registration.Tags.Contains("ready"));

    /// <summary>A loopback port that was free a moment ago and has nothing listening now.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
