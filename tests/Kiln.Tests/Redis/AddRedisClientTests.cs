using Kiln.ServiceDefaults.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Kiln.Tests.Redis;

public class AddRedisClientTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task Registers_one_shared_client_and_a_ready_health_check_named_for_the_connection()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:cache"] = redis.ConnectionString;

        builder.AddRedisClient("cache", o => o.ClientName = "kiln-registration-test");

        var host = builder.Build();
        await using var _ = (IAsyncDisposable)host;
        var client = host.Services.GetRequiredService<RedisClient>();
        Assert.Same(client, host.Services.GetRequiredService<RedisClient>());
        Assert.Contains("name=kiln-registration-test ", (await client.ExecuteAsync("CLIENT", "LIST")).Text, StringComparison.Ordinal);

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Tags.Contains("ready"));
        var entry = Assert.Single(report.Entries);
        Assert.Equal("cache", entry.Key);
        Assert.Equal(HealthStatus.Healthy, entry.Value.Status);
    }

    [Fact]
    public async Task The_health_check_is_unhealthy_when_redis_cannot_be_reached()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:cache"] = $"127.0.0.1:{RedisServerFixture.FindFreePort()},syncTimeout=300";
        builder.AddRedisClient("cache");

        var host = builder.Build();
        await using var _ = (IAsyncDisposable)host;
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, report.Entries["cache"].Status);
        Assert.Contains("did not answer PING", report.Entries["cache"].Description, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_connection_string_says_how_to_provide_it()
    {
        var builder = Host.CreateApplicationBuilder();

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddRedisClient("cache"));

        Assert.Equal("ConnectionStrings:cache is missing; set ConnectionStrings__cache or run through the AppHost.", error.Message);
    }

    [Fact]
    public void A_malformed_connection_string_fails_at_registration()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:cache"] = "localhost:nope";

        Assert.Throws<FormatException>(() => builder.AddRedisClient("cache"));
    }
}
