using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Kiln.Tests.ServiceDefaults;

/// <summary>A real PostgreSQL, started through the AppHost's own model with nothing else around it.</summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    private readonly string _state = DistributedApplicationTestingBuilder.NewStateDirectory();
    private DistributedApplication _app = null!;

    public string ConnectionString { get; private set; } = "";

    /// <summary>A data source of the caller's own on the test database, with Kiln's schema applied.</summary>
    public async Task<NpgsqlDataSource> MigratedDataSourceAsync()
    {
        var dataSource = NpgsqlDataSource.Create(ConnectionString);
        await new Kiln.Shared.Schema.SchemaMigrator(dataSource, Microsoft.Extensions.Logging.Abstractions.NullLogger<Kiln.Shared.Schema.SchemaMigrator>.Instance)
            .MigrateAsync(CancellationToken.None);
        return dataSource;
    }

    public async Task InitializeAsync()
    {
        // Local mode, as every test not about containers (auto would pick a container wherever an engine works).
        var builder = DistributedApplicationBuilder.CreateBuilder(["--state-dir", _state, "--mode", "local"]);
        var database = builder.AddPostgres("pg").AddDatabase("testdb");
        _app = builder.Build();
        _app.EchoOutput = false;
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await _app.StartAsync(deadline.Token);
        ConnectionString = database.Resource.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        DistributedApplicationTestingBuilder.RemoveStateDirectory(_state);
    }
}

public sealed class NpgsqlRegistrationTests(PostgresServerFixture postgres) : IClassFixture<PostgresServerFixture>
{
    private static IHost Host(string? connectionString)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (connectionString is not null)
        {
            builder.Configuration["ConnectionStrings:testdb"] = connectionString;
        }

        builder.AddNpgsqlDataSource("testdb");
        return builder.Build();
    }

    [Fact]
    public async Task The_registered_data_source_reaches_the_database_the_apphost_created()
    {
        using var host = Host(postgres.ConnectionString);
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        await using var command = dataSource.CreateCommand("SELECT current_database()");
        Assert.Equal("testdb", await command.ExecuteScalarAsync());

        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, health.Entries["testdb"].Status);
        Assert.Contains(Kiln.ServiceDefaults.HealthEndpoints.ReadyTag, health.Entries["testdb"].Tags);
    }

    [Fact]
    public async Task The_health_check_reports_an_unreachable_server_quickly_and_says_why()
    {
        var closed = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Port = 1, Timeout = 2 }.ConnectionString;
        using var host = Host(closed);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, health.Entries["testdb"].Status);
        Assert.Contains("Failed to connect to 127.0.0.1:1", health.Entries["testdb"].Description, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
    }

    [Fact]
    public void A_missing_connection_string_names_the_variable_to_set()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Host(null));
        Assert.Contains("ConnectionStrings__testdb", error.Message, StringComparison.Ordinal);
    }
}
