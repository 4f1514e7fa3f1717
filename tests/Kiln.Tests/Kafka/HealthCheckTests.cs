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
        using var host = BuildHostWithBothClients(producerBootstrap: broker.BootstrapServers, consumerBootstrap: broker.BootstrapServers);

        var report = await CheckReadinessAsync(host);

        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(["events-in-consumer", "events-out-producer"], report.Entries.Keys.Order());
    }

    [Fact]
    public async Task Producer_and_consumer_report_unhealthy_within_seconds_when_no_broker_listens()
    {
        var nowhere = $"127.0.0.1:{ClosedPort()}";
        using var host = BuildHostWithBothClients(producerBootstrap: nowhere, consumerBootstrap: nowhere);

        var elapsed = Stopwatch.StartNew();
        var report = await CheckReadinessAsync(host);
        elapsed.Stop();

        Assert.All(report.Entries.Values, entry => Assert.Equal(HealthStatus.Unhealthy, entry.Status));
        Assert.Equal(2, report.Entries.Count);
        Assert.InRange(elapsed.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task The_consumer_check_asks_over_the_consumers_own_settings()
    {
        // The producer reaches the broker, the consumer is pointed nowhere: only the consumer's check fails.
        using var host = BuildHostWithBothClients(producerBootstrap: broker.BootstrapServers, consumerBootstrap: $"127.0.0.1:{ClosedPort()}");

        var report = await CheckReadinessAsync(host);

        Assert.Equal(HealthStatus.Healthy, report.Entries["events-out-producer"].Status);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["events-in-consumer"].Status);
    }

    [Fact]
    public async Task Two_producers_on_one_connection_share_one_check()
    {
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaProducer<string, byte[]>(DevKafkaFixture.ConnectionName);
        });

        var report = await CheckReadinessAsync(host);

        var entry = Assert.Single(report.Entries);
        Assert.Equal($"{DevKafkaFixture.ConnectionName}-producer", entry.Key);
        Assert.Equal(HealthStatus.Healthy, entry.Value.Status);
    }

    [Fact]
    public async Task A_client_can_do_without_its_check()
    {
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.Services.AddHealthChecks();
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName, settings => settings.DisableHealthChecks = true);
        });

        Assert.Empty((await CheckReadinessAsync(host)).Entries);
    }

    private static IHost BuildHostWithBothClients(string producerBootstrap, string consumerBootstrap) =>
        KafkaTestHost.Build(producerBootstrap, builder =>
        {
            builder.Configuration["ConnectionStrings:events-out"] = producerBootstrap;
            builder.Configuration["ConnectionStrings:events-in"] = consumerBootstrap;
            builder.AddKafkaProducer<string, string>("events-out");
            builder.AddKafkaConsumer<string, string>("events-in", settings => settings.Config.GroupId = "health");
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
