using Kiln.AppHost.Testing;
using System.Net;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>Local resources keep their data under the state folder across starts; <c>--fresh</c> wipes it.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class StatePersistenceTests(ITestOutputHelper output)
{
    private const string Sensor = "kiln6.persist.temp";

    [Fact]
    public async Task A_second_start_keeps_the_data_and_fresh_wipes_it()
    {
        var state = DistributedApplicationTestingBuilder.NewStateDirectory();
        try
        {
            string adminKey;
            await RunAsync(state, [], async api =>
            {
                Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(Sensor, "kiln6")).StatusCode);
                Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(ApiDriver.Readings(Sensor, 50, i => i))).StatusCode);
                await Eventually.TrueAsync(async () => (await api.ReadAllAsync(Sensor)).Count == 50, TimeSpan.FromSeconds(10), "the readings to be stored");
            });
            adminKey = SecretsAdminKey(state);

            await RunAsync(state, [], async api =>
            {
                Assert.Equal(adminKey, api.AdminKey); // secrets are generated once
                Assert.Equal(50, (await api.ReadAllAsync(Sensor)).Count);
                Assert.Equal(HttpStatusCode.OK, (await api.PutSensorAsync(Sensor, "kiln6")).StatusCode); // updated, not created
            });

            await RunAsync(state, ["--fresh"], async api =>
            {
                Assert.NotEqual(adminKey, api.AdminKey);
                using var unknown = await api.SendAsync(HttpMethod.Get, $"/api/v1/sensors/{Sensor}", api.ReadKey);
                Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            });
        }
        finally
        {
            DistributedApplicationTestingBuilder.RemoveStateDirectory(state);
        }
    }

    private async Task RunAsync(string state, string[] arguments, Func<ApiDriver, Task> use)
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync(["--state-dir", state, .. arguments]);
        var app = await appHost.BuildAsync();
        try
        {
            using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
            {
                await app.StartAsync(deadline.Token);
            }

            using var api = new ApiDriver(app);
            await use(api);
        }
        catch
        {
            app.WriteLogs(output);
            throw;
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    private static string SecretsAdminKey(string state) =>
        System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(state, "secrets.json"))).RootElement.GetProperty("adminApiKey").GetString()!;
}
