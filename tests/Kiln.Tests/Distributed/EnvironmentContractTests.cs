using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Npgsql;

namespace Kiln.Tests.Distributed;

/// <summary>Each project receives what the Aspire AppHost would hand it (ASPIRE-CONTRACT.md §1).</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class EnvironmentContractTests(PlatformFixture platform)
{
    [Fact]
    public void Every_replica_gets_the_aspire_environment_contract()
    {
        var worker = platform.App.Resource<ProjectResource>("worker");
        var environments = worker.RunningReplicas.Select(r => worker.EnvironmentFor(r, platform.App.Context)).ToList();
        Assert.Equal(2, environments.Count);
        foreach (var env in environments)
        {
            Assert.Equal("worker", env["OTEL_SERVICE_NAME"]);
            Assert.Matches("^service.instance.id=[a-z]{8}$", env["OTEL_RESOURCE_ATTRIBUTES"]);
            Assert.Equal("grpc", env["OTEL_EXPORTER_OTLP_PROTOCOL"]);
            Assert.StartsWith("x-otlp-api-key=", env["OTEL_EXPORTER_OTLP_HEADERS"], StringComparison.Ordinal);
            Assert.Equal(platform.App.Dashboard.OtlpGrpcUrl.ToString().TrimEnd('/'), env["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            Assert.Equal("in_memory", env["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"]);
            Assert.Equal("1000", env["OTEL_BSP_SCHEDULE_DELAY"]);
            Assert.Equal("always_on", env["OTEL_TRACES_SAMPLER"]);
            Assert.Equal("http", env["DOTNET_LAUNCH_PROFILE"]);
            Assert.Equal("Development", env["ASPNETCORE_ENVIRONMENT"]); // from the launch profile, not the AppHost
            Assert.False(env.ContainsKey("ASPNETCORE_FORWARDEDHEADERS_ENABLED"), "publish mode only");
            Assert.Equal("true", env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"]);
            Assert.Matches("^http://localhost:[0-9]+$", env["ASPNETCORE_URLS"]);
            Assert.Matches("^Host=127.0.0.1;Port=[0-9]+;Username=kilndb_owner;Password=[A-Za-z0-9]{32};Database=kilndb$", env["ConnectionStrings__kilndb"]);
            Assert.Matches("^127.0.0.1:[0-9]+,password=[A-Za-z0-9]{32}$", env["ConnectionStrings__cache"]);
            Assert.Matches("^127.0.0.1:[0-9]+$", env["ConnectionStrings__kafka"]);
        }

        Assert.NotEqual(environments[0]["OTEL_RESOURCE_ATTRIBUTES"], environments[1]["OTEL_RESOURCE_ATTRIBUTES"]);
        Assert.NotEqual(environments[0]["ASPNETCORE_URLS"], environments[1]["ASPNETCORE_URLS"]);
    }

    /// <summary>The services log in as their database's owner: they migrate and use it, and can do nothing else.</summary>
    [Fact]
    public async Task The_services_database_role_owns_its_database_and_nothing_more()
    {
        await using var database = NpgsqlDataSource.Create(await platform.App.GetConnectionStringAsync("kilndb")
            ?? throw new InvalidOperationException("kilndb has no connection string"));
        await using (var role = database.CreateCommand("""
            SELECT current_user, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
                   pg_get_userbyid(d.datdba), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> current_user)
            FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()
            """))
        await using (var reader = await role.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal("kilndb_owner", reader.GetString(0));
            Assert.Equal([false, false, false, false, false], Enumerable.Range(1, 5).Select(reader.GetBoolean));
            Assert.Equal("kilndb_owner", reader.GetString(6));
            Assert.Equal(0, reader.GetInt64(7)); // every table of the schema is its own
        }

        // Another database of the server is out of reach, and so is making one.
        var other = new NpgsqlConnectionStringBuilder(await platform.App.GetConnectionStringAsync("kilndb")) { Database = "postgres", Pooling = false };
        await using var elsewhere = new NpgsqlConnection(other.ConnectionString);
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, Assert.IsType<PostgresException>(await Record.ExceptionAsync(() => elsewhere.OpenAsync())).SqlState);
        await using var create = database.CreateCommand("CREATE DATABASE kiln_test_not_allowed");
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, (await Assert.ThrowsAsync<PostgresException>(() => create.ExecuteNonQueryAsync())).SqlState);
    }

    [Fact]
    public void Web_finds_the_api_by_both_service_discovery_forms()
    {
        var web = platform.App.Resource<ProjectResource>("web");
        var env = web.EnvironmentFor(web.RunningReplicas[0], platform.App.Context);
        var api = platform.App.Resource<ProjectResource>("api").Urls[0].ToString().TrimEnd('/');
        Assert.Equal(api, env["services__api__http__0"]);
        Assert.Equal(api, env["API_HTTP"]);
        // The cache only (latest values, the live channels): never the database or the broker.
        Assert.Equal(["ConnectionStrings__cache"], env.Keys.Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task No_secret_appears_in_any_resources_output_or_in_endpoints_json()
    {
        await platform.Api.GetAsync("/api/v1/sensors"); // some traffic, so there is output to check
        var secrets = platform.App.Secrets;
        // The secrets the AppHost hands to some process (the others never leave secrets.json).
        string[] values = [secrets.PostgresPassword, secrets.DatabasePassword!, secrets.CachePassword, secrets.AdminApiKey, secrets.IngestApiKey,
            secrets.ReadApiKey, secrets.WebApiKey!, secrets.SimulatorApiKey!, secrets.OtlpApiKey, secrets.DashboardApiKey!, secrets.ResourceServiceApiKey!];
        Assert.Contains("apphost", platform.App.Context.Logs.Keys); // the AppHost's own lines are checked too
        var output = platform.App.Context.Logs.Values.SelectMany(log => log.Snapshot())
            .Append(await File.ReadAllTextAsync(Path.Combine(platform.StateDirectory, "endpoints.json")))
            .ToList();
        Assert.NotEmpty(output);
        foreach (var secret in values)
        {
            Assert.DoesNotContain(output, line => line.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Every_service_exports_traces_logs_and_metrics_to_the_dashboard()
    {
        await platform.Api.GetAsync("/api/v1/sensors");
        using var dashboard = new DashboardTelemetry(platform.App);
        foreach (var service in new[] { "api", "worker", "web" })
        {
            await Eventually.TrueAsync(async () => (await dashboard.ResourcesAsync()).Any(r => r.Name == service && r.HasTraces && r.HasLogs && r.HasMetrics),
                TimeSpan.FromSeconds(15), $"{service}'s traces, logs and metrics at the dashboard");
        }
    }

    [Fact]
    public async Task The_dashboard_is_handed_its_keys_and_refuses_a_wrong_otlp_key_and_a_wrong_format()
    {
        var env = platform.App.Dashboard.EnvironmentFor(platform.App.Context);
        Assert.Equal(platform.App.Secrets.OtlpApiKey, env["DASHBOARD__OTLP__PRIMARYAPIKEY"]);
        Assert.Equal(platform.App.Secrets.DashboardToken, env["DASHBOARD__FRONTEND__BROWSERTOKEN"]);
        Assert.Equal(platform.App.Secrets.DashboardApiKey, env["DASHBOARD__API__PRIMARYAPIKEY"]);
        Assert.Equal(platform.App.ResourceService.Url.ToString().TrimEnd('/'), env["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"]);
        Assert.Equal(platform.App.ResourceService.ApiKey, env["DASHBOARD__RESOURCESERVICECLIENT__APIKEY"]);

        using var http = new HttpClient { BaseAddress = platform.App.Dashboard.OtlpHttpUrl };
        using var noKey = new ByteArrayContent([]);
        noKey.Headers.ContentType = new("application/x-protobuf");
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.PostAsync("/v1/traces", noKey)).StatusCode);

        using var text = new HttpRequestMessage(HttpMethod.Post, "/v1/traces") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "text/plain") };
        text.Headers.Add("x-otlp-api-key", platform.App.Secrets.OtlpApiKey);
        Assert.Equal(System.Net.HttpStatusCode.UnsupportedMediaType, (await http.SendAsync(text)).StatusCode);
    }
}
