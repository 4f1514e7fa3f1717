using System.Diagnostics;
using System.Net;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Kiln.Shared;
using Kiln.Tests.Kafka;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// A backing service killed with SIGKILL is reported and restarted by the AppHost on the same address,
/// and the services carry on without being restarted themselves (issue 6). Each test kills one service
/// of a platform of their own, so the shared platform's data is never touched. The development broker
/// comes back behind the same bootstrap address but empty (it keeps its messages in memory only), which
/// the AppHost reports at error level.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class BackingServiceCrashTests(OwnPlatformFixture platform, ITestOutputHelper output)
    : IClassFixture<OwnPlatformFixture>, IDisposable
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_killed_postgres_is_restarted_on_its_port_with_its_data()
    {
        var sensor = await StoreAReadingAsync("kiln7.crash.pg");
        var pg = platform.App.Resource<PostgresServerResource>("pg");
        var address = pg.DescribeEndpoint()!.ToString();

        await KillAndAwaitRestartAsync(pg, () => pg.Pid);

        Assert.Equal(address, pg.DescribeEndpoint()!.ToString());
        // What was committed before the kill. The Api's pool still holds connections to the killed server: a
        // request meeting one answers 503 with Retry-After (Npgsql drops it), as a client is told to retry.
        await Eventually.TrueAsync(async () => (await platform.Api.ReadAllAsync(sensor)).Count == 1, TimeSpan.FromSeconds(30),
            "the reading stored before the kill to be read back");
        await PostAndAwaitStoredAsync(sensor, expected: 2);
    }

    [Fact]
    public async Task A_killed_redis_is_restarted_on_its_port_with_its_data()
    {
        var sensor = await StoreAReadingAsync("kiln7.crash.cache");
        var cache = platform.App.Resource<RedisResource>("cache");
        var connectionString = cache.ConnectionString;
        await using (var redis = await ConnectionMultiplexer.ConnectAsync(connectionString))
        {
            await redis.GetDatabase().StringSetAsync("kiln:test:crash", "kept");
        }

        await KillAndAwaitRestartAsync(cache, () => cache.Pid);

        Assert.Equal(connectionString, cache.ConnectionString);
        await using (var redis = await ConnectionMultiplexer.ConnectAsync(connectionString))
        {
            Assert.Equal("kept", (string?)await redis.GetDatabase().StringGetAsync("kiln:test:crash"));
        }

        await PostAndAwaitStoredAsync(sensor, expected: 2);
        Assert.Equal(2.0, (await platform.Api.GetAsync($"/api/v1/sensors/{sensor}/latest")).GetProperty("value").GetDouble());
    }

    [Fact]
    public async Task A_killed_broker_is_restarted_on_its_address()
    {
        var sensor = await StoreAReadingAsync("kiln7.crash.kafka");
        var kafka = platform.App.Resource<KafkaResource>("kafka");
        var bootstrap = await platform.App.GetConnectionStringAsync("kafka");
        var control = platform.App.GetEndpoint("kafka", "control");
        var errorsBefore = platform.App.Context.Logs["apphost"].Errors().Count;

        await KillAndAwaitRestartAsync(kafka, () => kafka.Pid);

        Assert.Equal(bootstrap, await platform.App.GetConnectionStringAsync("kafka"));
        Assert.Equal(control, platform.App.GetEndpoint("kafka", "control"));
        Assert.Equal("ok", await DevKafkaControl.SendAsync(control, $"delete-records {Topology.Topics.Readings} 0 0")); // deletes nothing
        Assert.Contains(platform.App.Context.Logs["apphost"].Errors().Skip(errorsBefore),
            line => line.Contains("every message it held is gone", StringComparison.Ordinal)
                && line.Contains("readings the Api acknowledged that the Worker had not stored yet", StringComparison.Ordinal));
        // The producer and the consumers find the new broker behind the old address; what the Worker stored
        // before the kill stays in PostgreSQL.
        await PostAndAwaitStoredAsync(sensor, expected: 2);
    }

    public void Dispose() => platform.App.WriteLogs(output);

    /// <summary>SIGKILLs the service's process by PID; returns once the AppHost said so and the service runs again.</summary>
    private async Task KillAndAwaitRestartAsync(Resource resource, Func<int?> pid)
    {
        var others = ProjectPids();
        var killed = pid() ?? throw new InvalidOperationException($"{resource.Name} has no process");
        var errorsBefore = platform.App.Context.Logs["apphost"].Errors().Count;
        var stopwatch = Stopwatch.StartNew();
        using (var process = Process.GetProcessById(killed))
        {
            process.Kill(); // SIGKILL
        }

        await Eventually.TrueAsync(() => platform.App.Context.Logs["apphost"].Errors().Skip(errorsBefore)
                .Any(l => l.StartsWith($"{resource.Name} (pid {killed}) was killed by signal 9 (SIGKILL)", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10), $"the AppHost to report {resource.Name}'s crash at error level");
        await Eventually.TrueAsync(() => resource.State == ResourceState.Running && pid() is { } now && now != killed && ProcessRegistry.IsRunning(now),
            Recovery, $"{resource.Name} to run again");
        output.WriteLine($"{resource.Name} running again {stopwatch.Elapsed.TotalSeconds:0.00} s after SIGKILL");
        Assert.False(ProcessRegistry.IsRunning(killed));
        Assert.DoesNotContain(killed, TestApplicationOutput.RecordedProcesses(platform.StateDirectory));
        Assert.Equal(others, ProjectPids()); // nothing else was restarted
    }

    private async Task<string> StoreAReadingAsync(string sensor)
    {
        Assert.Equal(HttpStatusCode.Created, (await platform.Api.PutSensorAsync(sensor, "kiln7")).StatusCode);
        var first = new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow.AddMinutes(-10), value = 1.0 };
        await PostAsADeviceAsync(new[] { first });
        await Eventually.TrueAsync(async () => (await platform.Api.ReadAllAsync(sensor)).Count == 1, Recovery, "the first reading to be stored");
        return sensor;
    }

    private async Task PostAndAwaitStoredAsync(string sensor, int expected)
    {
        var next = new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow.AddMinutes(-5), value = 2.0 };
        await PostAsADeviceAsync(new[] { next });
        await Eventually.TrueAsync(async () => (await platform.Api.ReadAllAsync(sensor)).Count == expected, Recovery,
            "the reading posted after the restart to be stored");
    }

    /// <summary>
    /// Posts as a device does. Right after a backing service came back the Api may still answer 503 with Retry-After, its
    /// documented "not now, nothing was acknowledged": a pooled connection to the killed database, or a broker whose
    /// backlog it has not read again yet after more than <c>Kiln:Ingest:Backlog:MaxStaleness</c> without it. The batch
    /// is then sent again after that delay, until the deadline; any other answer fails the test.
    /// </summary>
    private async Task PostAsADeviceAsync(object readings)
    {
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            using var response = await platform.Api.PostReadingsAsync(readings);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                return;
            }

            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"POST answered {(int)response.StatusCode}: {body}");
            var retryAfter = response.Headers.RetryAfter?.Delta;
            Assert.True(retryAfter is not null, $"a 503 without Retry-After: {body}");
            Assert.True(elapsed.Elapsed + retryAfter < Recovery, $"the Api still refused the reading after {elapsed.Elapsed.TotalSeconds:0} s: {body}");
            output.WriteLine($"POST refused with 503, sent again in {retryAfter!.Value.TotalSeconds:0} s: {body}");
            await Task.Delay(retryAfter.Value);
        }
    }

    private Dictionary<string, int?> ProjectPids() =>
        platform.App.Resources.OfType<ProjectResource>().SelectMany(p => p.RunningReplicas)
            .ToDictionary(r => r.DisplayName, r => r.Pid);
}
