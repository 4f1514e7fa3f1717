using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kiln.AppHost.Resources;
using Kiln.ServiceDefaults.Kafka;
using Xunit.Abstractions;
using static Kiln.Tests.Distributed.ApiDriver;

namespace Kiln.Tests.Distributed;

/// <summary>The Api's wire contract and the Worker's handling of bad messages, against the running platform.</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class ApiContractTests(PlatformFixture platform, ITestOutputHelper output) : IDisposable
{
    private ApiDriver Api => platform.Api;

    [Theory]
    [InlineData("""{"readings":[{"sensorId":"x" """, "could not be read")]
    [InlineData("""{"readings":[]}""", "empty")]
    [InlineData("""{}""", "empty")]
    public async Task A_malformed_batch_gets_problem_details_with_a_reason(string body, string title)
    {
        using var response = await Api.SendAsync(HttpMethod.Post, "/api/v1/readings", Api.IngestKey, rawJson: body);
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, title);
    }

    [Fact]
    public async Task A_batch_over_the_maximum_is_refused_whole()
    {
        await Api.PutSensorAsync("kiln9.big.batch", "kiln9");
        using var response = await Api.PostReadingsAsync(ApiDriver.Readings("kiln9.big.batch", 5001, i => i));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "too large");
        Assert.Empty((await Api.GetAsync("/api/v1/sensors/kiln9.big.batch/readings")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task Keys_are_required_and_scoped()
    {
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors", key: null), HttpStatusCode.Unauthorized, "key is required");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors", key: "kiln_not-a-key"), HttpStatusCode.Unauthorized, "key is required");
        await AssertProblemAsync(await Api.PostReadingsAsync(Array.Empty<object>(), Api.ReadKey), HttpStatusCode.Forbidden, "may not");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Put, "/api/v1/sensors/kiln1.a.b", Api.IngestKey, new { site = "kiln1", kind = "k", unit = "u" }),
            HttpStatusCode.Forbidden, "may not");
    }

    [Fact]
    public async Task Invalid_sensors_and_unknown_ones_are_explained()
    {
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Put, "/api/v1/sensors/Kiln1.A", Api.AdminKey, new { site = "Kiln1", kind = "k", unit = "u" }),
            HttpStatusCode.BadRequest, "not valid");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Put, "/api/v1/sensors/kiln1.a.b", Api.AdminKey, new { site = "kiln1", kind = "k", unit = "u", rule = new { low = 10, high = 5 } }),
            HttpStatusCode.UnprocessableEntity, "not valid");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors/nobody.here/latest", Api.ReadKey), HttpStatusCode.NotFound, "Unknown sensor");
        await AssertProblemAsync(await Api.SendAsync(HttpMethod.Get, "/api/v1/sensors/nobody.here/readings?limit=0", Api.ReadKey), HttpStatusCode.BadRequest, "not valid");
    }

    [Fact]
    public async Task Time_bounds_with_an_offset_are_accepted()
    {
        await Api.PutSensorAsync("kiln2.offset.query", "kiln2");
        var page = await Api.GetAsync("/api/v1/sensors/kiln2.offset.query/readings?from=2026-11-22T09:00:00-05:00&to=2026-11-23T09:00:00%2B01:00");
        Assert.Equal(JsonValueKind.Array, page.GetProperty("items").ValueKind);
    }

    [Fact]
    public async Task Rejected_items_are_reported_by_index_while_the_rest_are_stored()
    {
        await Api.PutSensorAsync("kiln2.fan.speed", "kiln2");
        var now = DateTimeOffset.UtcNow;
        using var response = await Api.PostReadingsAsync(new object?[]
        {
            new { sensorId = "kiln2.fan.speed", timestamp = now.AddSeconds(-2), value = 1.0 },
            new { sensorId = "kiln2.unknown.x", timestamp = now, value = 2.0 },
            new { sensorId = "kiln2.fan.speed", timestamp = now.AddHours(1), value = 3.0 },
            new { sensorId = "kiln2.fan.speed", timestamp = now.AddSeconds(-1), value = 4.0 },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, result.GetProperty("accepted").GetInt32());
        Assert.Equal([1, 2], result.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()));
        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync("kiln2.fan.speed")).Count == 2, TimeSpan.FromSeconds(10), "the two valid readings");
    }

    [Fact]
    public async Task A_message_the_worker_cannot_read_goes_to_the_dead_letter_topic_and_does_not_block_its_partition()
    {
        const string sensor = "kiln3.poison.test";
        await Api.PutSensorAsync(sensor, "kiln3");
        var bootstrap = platform.App.Resource<KafkaResource>("kafka").ConnectionString;
        KafkaNativeLibrary.Load(); // the redist's librdkafka for this test's own clients, as the services have
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap }).Build())
        {
            await producer.ProduceAsync("kiln.readings", new Message<string, string> { Key = sensor, Value = "this is not a reading" });
        }

        // A good reading for the same sensor lands on the same partition, after the poison.
        using (var response = await Api.PostReadingsAsync(ApiDriver.Readings(sensor, 1, _ => 7)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(sensor)).Count == 1, TimeSpan.FromSeconds(15), "the reading behind the poison message");

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = $"dlq-test-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe("kiln.readings.dlq");
        ConsumeResult<string, string>? dead = null;
        await Eventually.TrueAsync(() => (dead = consumer.Consume(TimeSpan.FromMilliseconds(200))) is { Message.Key: sensor }, TimeSpan.FromSeconds(30),
            "the poison message on kiln.readings.dlq");
        consumer.Close();

        Assert.Equal("this is not a reading", dead!.Message.Value);
        Assert.Contains("not a reading", Header(dead, "kiln-dlq-reason"), StringComparison.Ordinal);
        Assert.Equal("kiln.readings", Header(dead, "kiln-origin-topic"));
        Assert.True(int.TryParse(Header(dead, "kiln-origin-partition"), out _));
        Assert.True(long.TryParse(Header(dead, "kiln-origin-offset"), out _));
    }

    private static string Header(ConsumeResult<string, string> message, string name) =>
        Encoding.UTF8.GetString(message.Message.Headers.GetLastBytes(name));

    public void Dispose()
    {
        // xunit has no hook for "this test failed": keep the platform's recent output in every report.
        platform.WriteLogs(output);
    }
}
