using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Kiln.Shared;
using Kiln.Shared.Readings;
using Kiln.Tests.Kafka;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// Loss is never silent (issue 6): when the broker drops readings the Worker has not stored (retention, or the
/// development broker's cap), the Worker says so at error level with the partition, the offsets and the count,
/// its health turns Degraded with the count, and it goes on from the first offset the broker still holds.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class OffsetGapTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Readings_the_broker_dropped_before_they_were_stored_are_reported_as_lost()
    {
        const string sensor = "kiln6.gap.one";
        var api = platform.Api;
        Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(sensor, "kiln6")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(ApiDriver.Readings(sensor, 1, _ => 0))).StatusCode);
        await Eventually.TrueAsync(async () => (await api.ReadAllAsync(sensor)).Count == 1, Deadline, "the first reading to be stored");

        // Reads the Worker group's commits as the Api does: with the group's id, never subscribing.
        using var workerGroup = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = platform.App.Resource<KafkaResource>("kafka").ConnectionString,
            GroupId = Topology.WorkerConsumerGroup,
            EnableAutoCommit = false,
        }).Build();
        using var admin = new DependentAdminClientBuilder(workerGroup.Handle).Build();
        // Stored comes before committed: stop the Worker only once its offsets say so too.
        await Eventually.TrueAsync(async () => (await BacklogAsync(admin, workerGroup)).TotalLag == 0, Deadline, "the Worker to commit what it stored");
        await platform.App.StopResourceAsync("worker");
        PartitionBacklog gap;
        try
        {
            var before = await BacklogAsync(admin, workerGroup);
            // Ten more, one a second after the first: the Worker is stopped, so they wait on the broker.
            var readings = Enumerable.Range(1, 10).Select(i => new { sensorId = sensor, timestamp = DateTimeOffset.UtcNow.AddMinutes(-5).AddSeconds(i), value = (double)i });
            Assert.Equal(HttpStatusCode.Accepted, (await api.PostReadingsAsync(readings.ToArray())).StatusCode);
            var after = await BacklogAsync(admin, workerGroup);
            gap = after.Partitions.Single(p => p.LogEnd - before.Partitions.Single(b => b.Partition == p.Partition).LogEnd == 10);
            Assert.Equal(10, gap.Lag);

            // Retention takes the oldest five of them before the Worker comes back.
            await DevKafkaControl.DeleteRecordsAsync(platform.App.GetEndpoint("kafka", "control"), Topology.Topics.Readings, gap.Partition, gap.Committed + 5);
        }
        finally
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await platform.App.StartResourceAsync("worker", deadline.Token);
        }

        var expected = $"5 readings lost on {Topology.Topics.Readings} partition {gap.Partition}: offsets {gap.Committed:N0} to {gap.Committed + 4:N0} were dropped";
        await Eventually.TrueAsync(() => Task.FromResult(WorkerErrors().Any(l => l.Contains(expected, StringComparison.Ordinal))), Deadline,
            $"the Worker to log \"{expected}\"");
        output.WriteLine(WorkerErrors().First(l => l.Contains(expected, StringComparison.Ordinal)));

        // It goes on from where the broker's log now starts: the five it still held are stored.
        await Eventually.TrueAsync(async () => (await api.ReadAllAsync(sensor)).Count == 6, Deadline, "the five readings the broker still held to be stored");
        Assert.Equal([0.0, 6, 7, 8, 9, 10], (await api.ReadAllAsync(sensor)).Select(r => r.Value).Order());

        var reports = await WorkerHealthAsync();
        var lost = Assert.Single(reports, r => r.GetProperty("checks").GetProperty("readings-lost").GetProperty("status").GetString() == "Degraded");
        Assert.Contains("5 readings lost since start", lost.GetProperty("checks").GetProperty("readings-lost").GetProperty("description").GetString(),
            StringComparison.Ordinal);
    }

    private static Task<ReadingBacklog> BacklogAsync(IAdminClient admin, IConsumer<Ignore, Ignore> workerGroup) =>
        ReadingBacklog.ReadAsync(admin, workerGroup, Topology.Topics.Readings, TimeSpan.FromSeconds(10));

    private IEnumerable<string> WorkerErrors() =>
        platform.App.Context.Logs.Where(l => l.Key.StartsWith("worker", StringComparison.Ordinal)).SelectMany(l => l.Value.Snapshot());

    private async Task<List<JsonElement>> WorkerHealthAsync()
    {
        using var http = new HttpClient();
        var reports = new List<JsonElement>();
        foreach (var url in platform.App.Resource<ProjectResource>("worker").Urls)
        {
            reports.Add(await http.GetFromJsonAsync<JsonElement>(new Uri(url, "/health")));
        }

        return reports;
    }

    public void Dispose() => platform.WriteLogs(output);
}
