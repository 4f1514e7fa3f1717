using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Kiln.Tests.Redis;

public class AddRedisClientTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private static IHost Host(Action<HostApplicationBuilder> configure)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        configure(builder);
        return builder.Build();
    }

    [Fact]
    public async Task Registers_one_shared_multiplexer_and_a_ready_health_check_named_for_the_connection()
    {
        using var host = Host(builder =>
        {
            builder.Configuration["ConnectionStrings:cache"] = redis.ConnectionString;
            builder.AddRedisClient("cache", configureOptions: o => o.ClientName = "kiln-registration-test");
        });

        var multiplexer = host.Services.GetRequiredService<IConnectionMultiplexer>();
        Assert.Same(multiplexer, host.Services.GetRequiredService<IConnectionMultiplexer>());
        var key = $"test:{Guid.NewGuid():N}";
        await multiplexer.GetDatabase().StringSetAsync(key, "v");
        Assert.Equal("v", await multiplexer.GetDatabase().StringGetAsync(key));
        Assert.Equal("kiln-registration-test", multiplexer.ClientName);

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Tags.Contains("ready"));
        var entry = Assert.Single(report.Entries);
        Assert.Equal("cache", entry.Key);
        Assert.Equal(HealthStatus.Healthy, entry.Value.Status);
    }

    [Fact]
    public async Task The_health_check_is_unhealthy_within_its_timeout_when_redis_is_down_and_healthy_once_it_is_up()
    {
        await using var server = await RedisServerFixture.StartNewAsync();
        using var host = Host(builder =>
        {
            builder.Configuration["ConnectionStrings:cache"] = server.ConnectionString;
            builder.AddRedisClient("cache");
        });
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Entries["cache"].Status);

        await server.KillAsync();
        var started = Stopwatch.GetTimestamp();
        var down = (await health.CheckHealthAsync()).Entries["cache"];

        Assert.Equal(HealthStatus.Unhealthy, down.Status);
        // The registration's 3 s, not the 5 s a PING waits in the multiplexer's backlog.
        Assert.InRange(Stopwatch.GetElapsedTime(started), TimeSpan.Zero, TimeSpan.FromSeconds(4.5));

        await server.StartAsync();
        await Eventually.TrueAsync(async () => (await health.CheckHealthAsync()).Entries["cache"].Status == HealthStatus.Healthy,
            TimeSpan.FromSeconds(20), "the health check to recover with the server");
    }

    [Fact]
    public void Redis_being_down_at_startup_does_not_fail_the_service()
    {
        // AbortOnConnectFail=false, as Aspire sets it: the multiplexer keeps trying in the background.
        using var host = Host(builder =>
        {
            builder.Configuration["ConnectionStrings:cache"] = $"127.0.0.1:{RedisServerFixture.FindFreePort()},connectTimeout=200";
            builder.AddRedisClient("cache");
        });

        var multiplexer = host.Services.GetRequiredService<IConnectionMultiplexer>();

        Assert.False(multiplexer.IsConnected);
    }

    [Fact]
    public void The_connection_string_can_still_ask_to_abort_when_redis_is_down()
    {
        using var host = Host(builder =>
        {
            builder.Configuration["ConnectionStrings:cache"] = $"127.0.0.1:{RedisServerFixture.FindFreePort()},abortConnect=true,connectTimeout=200";
            builder.AddRedisClient("cache");
        });

        Assert.Throws<RedisConnectionException>(() => host.Services.GetRequiredService<IConnectionMultiplexer>());
    }

    [Fact]
    public void Settings_and_options_are_read_from_the_aspire_configuration_sections()
    {
        using var host = Host(builder =>
        {
            builder.Configuration["ConnectionStrings:cache"] = redis.ConnectionString;
            builder.Configuration["Aspire:StackExchange:Redis:DisableHealthChecks"] = "true";
            builder.Configuration["Aspire:StackExchange:Redis:ConfigurationOptions:ConnectTimeout"] = "1234";
            builder.Configuration["Aspire:StackExchange:Redis:cache:ConfigurationOptions:ClientName"] = "named-section";
            builder.AddRedisClient("cache");
        });

        Assert.Empty(host.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations);
        var multiplexer = host.Services.GetRequiredService<IConnectionMultiplexer>();
        Assert.Equal("named-section", multiplexer.ClientName);
        Assert.Equal(1234, ConfigurationOptions.Parse(multiplexer.Configuration).ConnectTimeout);
    }

    [Fact]
    public void A_missing_connection_string_says_how_to_provide_it()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddRedisClient("cache"));

        Assert.Equal("ConnectionStrings:cache is missing; set ConnectionStrings__cache or run through the AppHost.", error.Message);
    }

    [Fact]
    public void A_connection_string_without_an_endpoint_fails_at_registration()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["ConnectionStrings:cache"] = "localhost:nope";

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddRedisClient("cache"));

        Assert.Equal("ConnectionStrings:cache names no Redis endpoint; expected 'host:port,password=...'.", error.Message);
    }
}
