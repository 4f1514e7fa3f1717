using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using Kiln.AppHost.Resources;
using Kiln.ServiceDefaults.Kafka;
using Kiln.Shared;
using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;
using Kiln.Tests.Kafka;
using static Kiln.Tests.Distributed.ApiDriver;

namespace Kiln.Tests.Distributed;

/// <summary>An alert's life through the running platform: opened by a breach, steady inside the hysteresis band, acknowledged, closed.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class AlertTests(PlatformFixture platform)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private ApiDriver Api => platform.Api;

    [Fact]
    public async Task An_alert_opens_on_a_breach_does_not_flap_can_be_acknowledged_and_closes_on_recovery_each_transition_produced_once()
    {
        const string sensor = "kiln3.alert.temp";
        using (var put = await Api.SendAsync(HttpMethod.Put, $"/api/v1/sensors/{sensor}", Api.AdminKey,
            new { site = "kiln3", kind = "temperature", unit = "C", rule = new { low = (double?)null, high = 100, hysteresis = 5 } }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        var now = DateTimeOffset.UtcNow;
        var start = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero).AddMinutes(-5); // whole seconds: stored to the microsecond
        async Task PostAsync(int first, params double[] values)
        {
            var readings = values.Select((v, i) => new { sensorId = sensor, timestamp = start.AddSeconds(first + i), value = v }).ToArray();
            using var response = await Api.PostReadingsAsync(readings);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await PostAsync(0, 90, 101, 99);
        var alert = await AlertOfAsync(sensor, "open");
        Assert.Equal(101, alert.GetProperty("openedValue").GetDouble());
        Assert.Equal("high", alert.GetProperty("condition").GetString());
        Assert.Equal("critical", alert.GetProperty("severity").GetString());
        var id = alert.GetProperty("id").GetInt64();

        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Post, $"/api/v1/alerts/{id}/acknowledge", Api.ReadKey, new { by = "alice" }),
            HttpStatusCode.Forbidden, "may not");
        var acknowledged = await AcknowledgeAsync(id, "alice");
        Assert.Equal("acknowledged", acknowledged.GetProperty("state").GetString());
        Assert.Equal("alice", acknowledged.GetProperty("acknowledgedBy").GetString());
        // Again: nothing changes, the first acknowledgement stands.
        Assert.Equal(acknowledged.GetProperty("acknowledgedAt").GetDateTimeOffset(), (await AcknowledgeAsync(id, "bob")).GetProperty("acknowledgedAt").GetDateTimeOffset());

        await PostAsync(3, 97, 102, 96); // inside the band (above 95): the same alert stays open
        await PostAsync(0, 90, 101, 99); // the first batch again: evaluated already
        await PostAsync(6, 94);
        var closed = await AlertOfAsync(sensor, "closed");
        Assert.Equal(id, closed.GetProperty("id").GetInt64());
        Assert.Equal(94, closed.GetProperty("closedValue").GetDouble());
        Assert.Equal(start.AddSeconds(6), closed.GetProperty("closedAt").GetDateTimeOffset());
        Assert.Single((await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}")).GetProperty("items").EnumerateArray());

        var produced = ReadAlertsTopic(sensor, until: m => m.Transition == AlertTransitions.Closed);
        Assert.Equal([AlertTransitions.Opened, AlertTransitions.Acknowledged, AlertTransitions.Closed], produced.Select(m => m.Transition));
        Assert.All(produced, m => Assert.Equal(id, m.AlertId));
        Assert.Equal(3, produced.Select(m => m.TransitionId).Distinct().Count());

        // A second breach is a new alert; closed before anyone acknowledged it, it can no longer be.
        await PostAsync(7, 120, 80);
        JsonElement second = default;
        await Eventually.TrueAsync(async () => (second = (await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}&state=closed")).GetProperty("items")).GetArrayLength() == 2,
            Deadline, "the second alert to open and close");
        var secondId = second[0].GetProperty("id").GetInt64(); // newest first
        Assert.NotEqual(id, secondId);
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Post, $"/api/v1/alerts/{secondId}/acknowledge", Api.AdminKey), HttpStatusCode.Conflict, "closed");
    }

    [Fact]
    public async Task Alert_queries_are_checked_and_a_site_key_sees_its_own_site_only()
    {
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/alerts?state=burning", Api.ReadKey), HttpStatusCode.BadRequest, "not valid", "'state'");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/alerts?cursor=%%%", Api.ReadKey), HttpStatusCode.BadRequest, "not valid", "cursor");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/alerts?limit=0", Api.ReadKey), HttpStatusCode.BadRequest, "not valid", "limit");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/alerts/abc", Api.ReadKey), HttpStatusCode.BadRequest, "not valid");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/alerts/999999999", Api.ReadKey), HttpStatusCode.NotFound, "Unknown alert");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Post, "/api/v1/alerts/1/acknowledge", Api.AdminKey, rawJson: """{"by":""}"""),
            HttpStatusCode.UnprocessableEntity, "not valid", "'by'");

        var siteKey = await Api.CreateKeyAsync("kiln4 operators", ["read"], site: "kiln4");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/alerts?site=kiln3", siteKey.Secret), HttpStatusCode.Forbidden, "may not");
        using var own = await Api.SendAsync(HttpMethod.Get, "/api/v1/alerts", siteKey.Secret);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.All((await own.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray(),
            a => Assert.Equal("kiln4", a.GetProperty("site").GetString()));
    }

    private async Task<JsonElement> AcknowledgeAsync(long id, string by)
    {
        using var response = await Api.SendAsync(HttpMethod.Post, $"/api/v1/alerts/{id}/acknowledge", Api.AdminKey, new { by });
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> AlertOfAsync(string sensor, string state)
    {
        JsonElement? found = null;
        await Eventually.TrueAsync(async () =>
        {
            var items = (await Api.GetAsync($"/api/v1/alerts?sensorId={sensor}&state={state}")).GetProperty("items").EnumerateArray().ToList();
            found = items.Count == 1 ? items[0] : null;
            return found is not null;
        }, Deadline, $"one {state} alert for {sensor}");
        return found!.Value;
    }

    /// <summary>This sensor's transitions on kiln.alerts, read from the start until <paramref name="until"/> matches one, then to the end.</summary>
    private List<AlertTransitionMessage> ReadAlertsTopic(string sensor, Func<AlertTransitionMessage, bool> until)
    {
        KafkaNativeLibrary.Load();
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = platform.App.Resource<KafkaResource>("kafka").ConnectionString,
            GroupId = $"alerts-test-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
        }).Build();
        var partition = new TopicPartition(Topology.Topics.Alerts, 0);
        var found = new List<AlertTransitionMessage>();
        var seen = false;
        consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        consumer.ConsumeUntil(result =>
        {
            var message = JsonSerializer.Deserialize<AlertTransitionMessage>(result.Message.Value, KilnJson.Options)!;
            if (message.SensorId == sensor)
            {
                found.Add(message);
                seen |= until(message);
            }

            return seen && result.Offset.Value + 1 >= consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5)).High.Value;
        }, Deadline);
        return found;
    }
}
