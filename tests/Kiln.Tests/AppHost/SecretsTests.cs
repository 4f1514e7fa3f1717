using System.Text.Json;
using Kiln.AppHost.Provisioning;

namespace Kiln.Tests.AppHost;

/// <summary>secrets.json written before a secret existed gains it on the next start, and keeps every other value.</summary>
public sealed class SecretsTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"kiln-secrets-{Guid.NewGuid():N}.json");

    [Fact]
    public void A_secrets_file_without_the_dashboards_api_key_gains_one_and_keeps_the_rest()
    {
        File.WriteAllText(_path, """
            { "postgresPassword": "pg", "databasePassword": "db", "cachePassword": "cache", "adminApiKey": "admin", "ingestApiKey": "ingest",
              "readApiKey": "read", "webApiKey": "web", "dashboardToken": "token", "operatorPassword": "operator", "otlpApiKey": "otlp" }
            """);

        var secrets = Secrets.LoadOrCreate(_path);

        Assert.Matches("^[A-Za-z0-9]{32}$", secrets.DashboardApiKey);
        Assert.Equal(("token", "otlp", "admin"), (secrets.DashboardToken, secrets.OtlpApiKey, secrets.AdminApiKey));
        using var stored = JsonDocument.Parse(File.ReadAllText(_path));
        Assert.Equal(secrets.DashboardApiKey, stored.RootElement.GetProperty("dashboardApiKey").GetString());
        Assert.Equal(secrets.DashboardApiKey, Secrets.LoadOrCreate(_path).DashboardApiKey); // generated once
    }

    [Fact]
    public void New_secrets_include_every_dashboard_secret()
    {
        var secrets = Secrets.LoadOrCreate(_path);
        Assert.All(new[] { secrets.DashboardToken, secrets.DashboardApiKey, secrets.OtlpApiKey }, s => Assert.Matches("^[A-Za-z0-9]{32}$", s));
        Assert.Equal(3, new[] { secrets.DashboardToken, secrets.DashboardApiKey, secrets.OtlpApiKey }.Distinct().Count());
    }

    public void Dispose() => File.Delete(_path);
}
