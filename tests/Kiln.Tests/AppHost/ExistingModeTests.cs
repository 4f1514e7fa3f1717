using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Kiln.Tests.ServiceDefaults;

namespace Kiln.Tests.AppHost;

/// <summary>Existing mode: a configured connection string is used as is and nothing is started for it.</summary>
public sealed class ExistingModeTests(PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>
{
    [Fact]
    public async Task A_resource_with_a_configured_connection_string_starts_nothing_and_hands_it_over()
    {
        var state = DistributedApplicationTestingBuilder.NewStateDirectory();
        const string cache = "cache.example.test:6380,password=from-config";
        var builder = DistributedApplicationBuilder.CreateBuilder(
            ["--state-dir", state, $"--ConnectionStrings:kilndb={postgres.ConnectionString}", $"--ConnectionStrings:cache={cache}",
             "--AppHost:DisableDashboard=true"]); // the dashboard is a process of its own, started whatever mode the others are in
        var database = builder.AddPostgres("pg").AddDatabase("kilndb");
        var redis = builder.AddRedis("cache");
        var app = builder.Build();
        app.EchoOutput = false;
        try
        {
            await app.StartAsync(CancellationToken.None);
            Assert.Equal(postgres.ConnectionString, database.Resource.ConnectionString);
            Assert.Equal(cache, redis.Resource.ConnectionString);
            Assert.Equal(ResourceMode.Existing, database.Resource.Server.Mode);
            Assert.False(File.Exists(Path.Combine(state, "processes.json")), "no process was started, so none was recorded");
        }
        finally
        {
            await app.DisposeAsync();
            DistributedApplicationTestingBuilder.RemoveStateDirectory(state);
        }
    }
}
