using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// Malformed and hostile input on every endpoint, against the running platform: always a 4xx problem-details
/// answer that says what was wrong in the client's terms (never a .NET type or framework wording), never a 500
/// or a hang, and nothing stored. Status rule: 400 when the request cannot be taken as what the endpoint reads,
/// 422 when it was read but nothing in it can be accepted, 413/415 for the body's size and type.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class BadInputTests(PlatformFixture platform, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan AnswerWithin = TimeSpan.FromSeconds(20);

    /// <summary>What must never reach a client: .NET type names, framework internals, stack traces.</summary>
    private static readonly string[] Internals =
        ["System.", "Microsoft.", "Kiln.", "`1", "Nullable", "LineNumber", "BytePosition", "Exception", "   at ", "parameter \""];

    /// <summary>A sensor of this test's own, so that "nothing stored" means nothing at all.</summary>
    private readonly string _sensor = $"bad.t{Guid.NewGuid():N}.temp";

    private ApiDriver Api => platform.Api;

    public async Task InitializeAsync()
    {
        using var response = await Api.PutSensorAsync(_sensor, "bad");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    public Task DisposeAsync()
    {
        platform.WriteLogs(output);
        return Task.CompletedTask;
    }

    // ---- POST /api/v1/readings: bodies that are not a batch at all (400)

    public static TheoryData<string, string> NotABatch => new()
    {
        { """{"readings":[{"sensorId":"{sensor}","timestamp":"{now}","value":1""", "not well-formed JSON" },
        { """{"readings":[{"sensorId":"{sensor}","timestamp":"{now}","value":1},]}""", "not well-formed JSON" },
        { """{"readings":[{"sensorId":"{sensor}","timestamp":"{now}","value":1}]} trailing""", "not well-formed JSON" },
        { """{"readings":[{"sensorId":'{sensor}',"timestamp":"{now}","value":1}]}""", "not well-formed JSON" },
        { """[{"sensorId":"{sensor}","timestamp":"{now}","value":1}]""", "The body must be an object" },
        { "\"readings\"", "The body must be an object" },
        { "42", "The body must be an object" },
        { """{"readings":{"sensorId":"{sensor}","timestamp":"{now}","value":1}}""", "$.readings must be an array" },
        { """{"readings":"{sensor}"}""", "$.readings must be an array" },
        { """{"readings":[]}""", "at least one reading" },
        { """{"readings":null}""", "at least one reading" },
        { """{"reading":[{"sensorId":"{sensor}","timestamp":"{now}","value":1}]}""", "at least one reading" },
        { "{}", "at least one reading" },
        { "null", "no body" },
        { "", "no body" },
        { """{"readings":[{"sensorId":"{sensor}","timestamp":"{now}","value":1,"meta":""" + Nested(17) + "}]}", "nests deeper than 16" },
        { """{"extra":""" + Nested(10_000) + "}", "nests deeper than 16" },
    };

    [Theory]
    [MemberData(nameof(NotABatch))]
    public async Task A_body_that_is_not_a_batch_is_a_400_and_nothing_is_stored(string body, string reason)
    {
        await AssertProblemAsync(await PostRawAsync(Fill(body)), HttpStatusCode.BadRequest, reason);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task A_batch_over_the_maximum_is_a_400_and_nothing_is_stored()
    {
        await AssertProblemAsync(await Api.PostReadingsAsync(ApiDriver.Readings(_sensor, 5001, i => i)), HttpStatusCode.BadRequest, "at most 5000");
        await AssertNothingStoredAsync();
    }

    // ---- POST /api/v1/readings: batches read in full whose every reading is refused (422, a reason per item)

    public static TheoryData<string, string> WrongReadings => new()
    {
        { """{"sensorId":"{sensor}","timestamp":"{now}","value":"12"}""", "value must be a JSON number, not a string" },
        { """{"sensorId":"{sensor}","timestamp":"{now}","value":true}""", "value must be a JSON number, not a boolean" },
        { """{"sensorId":"{sensor}","timestamp":"{now}","value":{"v":1}}""", "value must be a JSON number, not an object" },
        { """{"sensorId":"{sensor}","timestamp":"{now}","value":null}""", "value is required" },
        { """{"sensorId":"{sensor}","timestamp":"{now}"}""", "value is required" },
        { """{"sensorId":"{sensor}","timestamp":"{now}","value":1e999}""", "finite" },
        { """{"sensorId":"{sensor}","timestamp":"{now}","value":-1e999}""", "finite" },
        { """{"sensorId":"{sensor}","timestamp":"{now}","value":"NaN"}""", "value must be a JSON number" },
        { """{"sensorId":"{sensor}","timestamp":"{now}","value":1,"value":2}""", "value appears more than once" },
        { """{"sensorId":"{sensor}","timestamp":"{local}","value":1}""", "zone offset" },
        { """{"sensorId":"{sensor}","timestamp":"{date}","value":1}""", "zone offset" },
        { """{"sensorId":"{sensor}","timestamp":1764000000,"value":1}""", "timestamp must be a string" },
        { """{"sensorId":"{sensor}","timestamp":"yesterday","value":1}""", "RFC 3339" },
        { """{"sensorId":"{sensor}","value":1}""", "timestamp is required" },
        { """{"sensorId":"{sensor}","timestamp":"0001-01-01T00:00:00Z","value":1}""", "older than" },
        { """{"sensorId":"{sensor}","timestamp":"1970-01-01T00:00:00+14:00","value":1}""", "older than" },
        { """{"sensorId":"{sensor}","timestamp":"9999-12-31T23:59:59Z","value":1}""", "in the future" },
        { """{"sensorId":"{sensor}","timestamp":"{hour-ahead}","value":1}""", "in the future" },
        { """{"timestamp":"{now}","value":1}""", "sensor id is required" },
        { """{"sensorId":42,"timestamp":"{now}","value":1}""", "sensorId must be a string" },
        { """{"sensorId":"{SENSOR}","timestamp":"{now}","value":1}""", "lowercase" },
        { """{"sensorId":"{long-id}","timestamp":"{now}","value":1}""", "longer than 128" },
        { """{"sensorId":"bad.brenner.temperatür","timestamp":"{now}","value":1}""", "may contain only" },
        { """{"sensorId":"bad.\u202Eburner.temp","timestamp":"{now}","value":1}""", "may contain only" },
        { """{"sensorId":"../../etc/passwd","timestamp":"{now}","value":1}""", "may contain only" },
        { """{"sensorId":"bad.x.y'; DROP TABLE readings; --","timestamp":"{now}","value":1}""", "may contain only" },
        { """{"sensorId":"{sensor}\u0000","timestamp":"{now}","value":1}""", "may contain only" },
        { """{"sensorId":"\ud800","timestamp":"{now}","value":1}""", "not valid Unicode" },
        { """{"sensorId":"bad..temp","timestamp":"{now}","value":1}""", "must not be empty" },
        { """{"sensorId":"bad.unknown.sensor","timestamp":"{now}","value":1}""", "unknown sensor" },
        { "42", "must be a JSON object, not a number" },
        { "null", "must be a JSON object, not null" },
        { """[{"sensorId":"{sensor}","timestamp":"{now}","value":1}]""", "must be a JSON object, not an array" },
    };

    [Theory]
    [MemberData(nameof(WrongReadings))]
    public async Task A_batch_whose_every_reading_is_wrong_is_a_422_with_each_reason_and_nothing_is_stored(string reading, string reason)
    {
        var problem = await AssertProblemAsync(await PostRawAsync(Fill($$"""{"readings":[{{reading}}]}""")), HttpStatusCode.UnprocessableEntity, reason);
        Assert.Equal(0, problem.GetProperty("accepted").GetInt32());
        var rejected = Assert.Single(problem.GetProperty("rejected").EnumerateArray());
        Assert.Equal(0, rejected.GetProperty("index").GetInt32());
        Assert.Contains(reason, rejected.GetProperty("reason").GetString(), StringComparison.Ordinal);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task Readings_repeated_within_a_batch_are_rejected_as_duplicates_and_stored_once()
    {
        var at = DateTimeOffset.UtcNow.AddSeconds(-5);
        using var response = await Api.PostReadingsAsync(new object[]
        {
            new { sensorId = _sensor, timestamp = at, value = 1.0 },
            new { sensorId = _sensor, timestamp = at, value = 2.0 },
            new { sensorId = _sensor, timestamp = at.ToOffset(TimeSpan.FromHours(5.5)), value = 3.0 },
            new { sensorId = _sensor, timestamp = at.AddSeconds(1), value = 4.0 },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, result.GetProperty("accepted").GetInt32());
        Assert.Equal([(1, "duplicate of item 0"), (2, "duplicate of item 0")],
            result.GetProperty("rejected").EnumerateArray().Select(r => (r.GetProperty("index").GetInt32(), r.GetProperty("reason").GetString()![..19])));
        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(_sensor)).Count == 2, TimeSpan.FromSeconds(15), "the two distinct readings");
        Assert.Equal([1.0, 4.0], (await Api.ReadAllAsync(_sensor)).Select(r => r.Value));
    }

    [Fact]
    public async Task Good_readings_beside_wrong_ones_are_stored_and_the_wrong_ones_named()
    {
        using var response = await PostRawAsync(Fill("""{"readings":[{"sensorId":"{sensor}","timestamp":"{now}","value":"12"},{"sensorId":"{sensor}","timestamp":"{now}","value":12}]}"""));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, result.GetProperty("accepted").GetInt32());
        Assert.Equal(0, Assert.Single(result.GetProperty("rejected").EnumerateArray()).GetProperty("index").GetInt32());
        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(_sensor)).Count == 1, TimeSpan.FromSeconds(15), "the good reading");
    }

    // ---- Body size and type, on both endpoints that take a body

    public static TheoryData<string> BodyEndpoints => new() { "POST /api/v1/readings", "PUT /api/v1/sensors/{sensor}" };

    [Theory]
    [MemberData(nameof(BodyEndpoints))]
    public async Task A_body_over_the_limit_is_a_413_whether_its_length_is_declared_or_not(string endpoint)
    {
        // Well-formed JSON, 2.5 MB of it in a field nobody reads: the size alone is refused. The Api answers as soon as
        // it knows, without reading the body, and closes the connection; "Expect: 100-continue" keeps the client from
        // sending the body meanwhile, which would end in a broken pipe rather than the answer.
        var padding = new string('x', 2_500_000);
        var body = $$"""{"readings":[{"sensorId":"{{_sensor}}","timestamp":"{{Now(0)}}","value":1}],"site":"bad","kind":"k","unit":"u","padding":"{{padding}}"}""";
        await AssertProblemAsync(await SendAsync(endpoint, new StringContent(body, Encoding.UTF8, "application/json"), expectContinue: true),
            HttpStatusCode.RequestEntityTooLarge, "at most 2,097,152 bytes");

        // Chunked, the size is known only as the body arrives: it is cut off as it passes the limit.
        var (method, path) = (new HttpMethod(endpoint[..endpoint.IndexOf(' ', StringComparison.Ordinal)]), endpoint[(endpoint.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
        var key = method == HttpMethod.Put ? Api.AdminKey : Api.IngestKey;
        await AssertProblemAsync(
            await ChunkedUpload.SendAsync(Api.BaseAddress, method, path.Replace("{sensor}", _sensor, StringComparison.Ordinal),
                [("X-Api-Key", key), ("Content-Type", "application/json")], Encoding.UTF8.GetBytes(body), AnswerWithin),
            HttpStatusCode.RequestEntityTooLarge, "at most 2,097,152 bytes");
        await AssertNothingStoredAsync();
    }

    [Theory]
    [InlineData("POST /api/v1/readings", "text/plain")]
    [InlineData("POST /api/v1/readings", "application/xml")]
    [InlineData("POST /api/v1/readings", "application/x-www-form-urlencoded")]
    [InlineData("POST /api/v1/readings", null)]
    [InlineData("PUT /api/v1/sensors/{sensor}", "text/plain")]
    [InlineData("PUT /api/v1/sensors/{sensor}", null)]
    public async Task A_body_that_is_not_json_is_a_415(string endpoint, string? contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(Fill("""{"readings":[{"sensorId":"{sensor}","timestamp":"{now}","value":1}],"site":"bad","kind":"changed","unit":"u"}""")));
        if (contentType is not null)
        {
            content.Headers.ContentType = new(contentType);
        }

        await AssertProblemAsync(await SendAsync(endpoint, content), HttpStatusCode.UnsupportedMediaType, "Content-Type: application/json");
        Assert.Equal("temperature", (await Api.GetAsync($"/api/v1/sensors/{_sensor}")).GetProperty("kind").GetString());
        await AssertNothingStoredAsync();
    }

    // ---- PUT /api/v1/sensors/{id}

    public static TheoryData<string, string> UnreadableSensors => new()
    {
        { """{"site":"{site}","kind":"temperature","unit":"C","rule":{"high":"1450"}}""", "$.rule.high must be a number or null" },
        { """{"site":"{site}","kind":"temperature","unit":"C","rule":{"hysteresis":null}}""", "$.rule.hysteresis must be a number" },
        { """{"site":"{site}","kind":"temperature","unit":"C","rule":[1450]}""", "$.rule must be an object" },
        { """{"site":1,"kind":"temperature","unit":"C"}""", "$.site must be a string" },
        { """{"site":"{site}","kind":["temperature"],"unit":"C"}""", "$.kind must be a string" },
        { """{"site":"{site}","kind":"t\ud800","unit":"C"}""", "$.kind must be a string" },
        { """[{"site":"{site}","kind":"temperature","unit":"C"}]""", "The body must be an object" },
        { """{"site":"{site}","kind":"temperature","unit":"C" """, "not well-formed JSON" },
        { """{"site":"{site}","kind":"temperature","unit":"C","extra":""" + Nested(20) + "}", "nests deeper than 16" },
        { "null", "no body" },
        { "", "no body" },
    };

    [Theory]
    [MemberData(nameof(UnreadableSensors))]
    public async Task A_sensor_definition_that_cannot_be_read_is_a_400_and_nothing_is_stored(string body, string reason)
    {
        var id = NewSensorId();
        await AssertProblemAsync(await SendAsync($"PUT /api/v1/sensors/{id}", Json(Fill(body, id))), HttpStatusCode.BadRequest, reason);
        await AssertUnknownAsync(id);
    }

    public static TheoryData<string, string> InvalidSensors => new()
    {
        { """{"kind":"temperature","unit":"C"}""", "site, kind and unit are required" },
        { """{"site":"{site}","kind":" ","unit":"C"}""", "site, kind and unit are required" },
        { """{"site":"other","kind":"temperature","unit":"C"}""", "the sensor id's first segment" },
        { """{"site":"{site}","kind":"temperature","unit":"C","rule":{"low":10,"high":5}}""", "rule.low must be below rule.high" },
        { """{"site":"{site}","kind":"temperature","unit":"C","rule":{"high":5,"hysteresis":-1}}""", "must not be negative" },
        { """{"site":"{site}","kind":"temperature","unit":"C","rule":{"high":1e999}}""", "finite" },
        { """{"site":"{site}","kind":"temperature","unit":"C","rule":{"high":5,"rateOfChange":0}}""", "must be positive" },
        { """{"site":"{site}","kind":"temp\u0000erature","unit":"C"}""", "control characters" },
        { """{"site":"{site}","kind":"{long-kind}","unit":"C"}""", "at most 64 characters" },
    };

    [Theory]
    [MemberData(nameof(InvalidSensors))]
    public async Task A_sensor_definition_that_breaks_a_rule_is_a_422_and_nothing_is_stored(string body, string reason)
    {
        var id = NewSensorId();
        await AssertProblemAsync(await SendAsync($"PUT /api/v1/sensors/{id}", Json(Fill(body, id))), HttpStatusCode.UnprocessableEntity, reason);
        await AssertUnknownAsync(id);
    }

    // ---- Hostile ids in routes, on every endpoint that takes one

    public static TheoryData<string, string, string> HostileRouteIds()
    {
        (string Escaped, string Reason)[] ids =
        [
            ("Bad.burner.temp", "lowercase"),
            (new string('a', 129), "longer than 128"),
            (new string('a', 4000), "longer than 128"),
            (Uri.EscapeDataString("bad.brenner.temperatür"), "may contain only"),
            (Uri.EscapeDataString("bad.x.y'; DROP TABLE sensors; --"), "may contain only"),
            ("..%2F..%2Fetc%2Fpasswd", "may contain only"),
            ("bad.x%0Ay", "may contain only"),
            ("bad..temp", "must not be empty"),
        ];
        string[] endpoints =
        [
            "PUT /api/v1/sensors/{id}", "GET /api/v1/sensors/{id}", "GET /api/v1/sensors/{id}/latest", "GET /api/v1/sensors/{id}/readings",
            "GET /api/v1/sensors/{id}/rollups",
        ];
        var data = new TheoryData<string, string, string>();
        foreach (var endpoint in endpoints)
        {
            foreach (var (escaped, reason) in ids)
            {
                data.Add(endpoint, escaped, reason);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(HostileRouteIds))]
    public async Task A_hostile_sensor_id_in_the_route_is_a_400_on_every_endpoint(string endpoint, string escapedId, string reason)
    {
        var content = endpoint.StartsWith("PUT", StringComparison.Ordinal) ? Json("""{"site":"bad","kind":"temperature","unit":"C"}""") : null;
        await AssertProblemAsync(await SendAsync(endpoint.Replace("{id}", escapedId, StringComparison.Ordinal), content), HttpStatusCode.BadRequest, reason);
        var stored = (await Api.ListSensorsAsync("limit=1000")).Select(s => s.GetProperty("id").GetString());
        Assert.DoesNotContain(Uri.UnescapeDataString(escapedId), stored);
    }

    // ---- Query parameters

    public static TheoryData<string, string> BadQueries => new()
    {
        { "/api/v1/sensors/{sensor}/readings?from=yesterday", "'from' must be an RFC 3339 date-time" },
        { "/api/v1/sensors/{sensor}/readings?from=2026-11-22T09:00:00", "zone offset" },
        { "/api/v1/sensors/{sensor}/readings?from=2026-11-22", "zone offset" },
        { "/api/v1/sensors/{sensor}/readings?to=2026-11-22T09:00:00+01:00", "%2B" },
        { "/api/v1/sensors/{sensor}/readings?to=1764000000", "'to' must be an RFC 3339 date-time" },
        { "/api/v1/sensors/{sensor}/readings?from=2026-11-22T09:00:00Z&from=2026-11-23T09:00:00Z", "'from' must be" },
        { "/api/v1/sensors/{sensor}/readings?from=2026-11-23T09:00:00Z&to=2026-11-22T09:00:00Z", "'from' must be before 'to'" },
        { "/api/v1/sensors/{sensor}/readings?limit=0", "'limit' must be a whole number from 1 to 1000" },
        { "/api/v1/sensors/{sensor}/readings?limit=1001", "'limit' must be a whole number" },
        { "/api/v1/sensors/{sensor}/readings?limit=-5", "'limit' must be a whole number" },
        { "/api/v1/sensors/{sensor}/readings?limit=abc", "'limit' must be a whole number" },
        { "/api/v1/sensors/{sensor}/readings?limit=1e3", "'limit' must be a whole number" },
        { "/api/v1/sensors/{sensor}/readings?limit=99999999999999999999", "'limit' must be a whole number" },
        { "/api/v1/sensors/{sensor}/readings?cursor=not-a-cursor", "'cursor' is not a cursor this API returned" },
        { "/api/v1/sensors/{sensor}/readings?cursor=%27%3B%20DROP%20TABLE%20readings%3B--", "'cursor' is not a cursor" },
        { "/api/v1/sensors/{sensor}/readings?cursor=" + new string('A', 2000), "'cursor' is not a cursor" },
        { "/api/v1/sensors/{sensor}/readings?cursor=_____________w", "'cursor' is not a cursor" },
        { "/api/v1/sensors/{sensor}/rollups?from=2026-11-22T09:00:00Z&to=2026-11-22T10:00:00Z", "'bucket' is required: 1m, 1h or 1d" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=5m&from=2026-11-22T09:00:00Z&to=2026-11-22T10:00:00Z", "'bucket' must be 1m, 1h or 1d" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1H&from=2026-11-22T09:00:00Z&to=2026-11-22T10:00:00Z", "'bucket' must be 1m, 1h or 1d" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1m&bucket=1h&from=2026-11-22T09:00:00Z&to=2026-11-22T10:00:00Z", "'bucket' must be" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=%27%3B%20DROP%20TABLE%20rollups_1m%3B--&from=2026-11-22T09:00:00Z&to=2026-11-22T10:00:00Z", "'bucket' must be" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1m&to=2026-11-22T10:00:00Z", "'from' and 'to' are required" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1m&from=2026-11-22T09:00:00Z&to=", "'from' and 'to' are required" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1m&from=yesterday&to=2026-11-22T10:00:00Z", "'from' must be an RFC 3339 date-time" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1m&from=2026-11-22T09:00:00&to=2026-11-22T10:00:00Z", "zone offset" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1m&from=2026-11-22T09:00:00Z&to=2026-11-22T10:00:00+01:00", "%2B" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1h&from=2026-11-23T09:00:00Z&to=2026-11-22T09:00:00Z", "'from' must be before 'to'" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1h&from=2026-11-22T09:00:00Z&to=2026-11-22T09:00:00Z", "'from' must be before 'to'" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1m&from=2026-10-22T00:00:00Z&to=2026-11-22T00:00:00Z", "spans 44,640 buckets of 1m; at most 10,000" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1d&from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", "spans 3,652,059 buckets of 1d" },
        { "/api/v1/sensors/{sensor}/rollups?bucket=1d&from=0001-01-01T00:00:00%2B14:00&to=9999-12-31T23:59:59-14:00", "RFC 3339" },
        { "/api/v1/sensors?site=Bad", "site may contain only" },
        { "/api/v1/sensors?site=bad.burner", "site may contain only" },
        { "/api/v1/sensors?site=bad%00", "site may contain only" },
        { "/api/v1/sensors?site=%27%20OR%201%3D1--", "site may contain only" },
        { "/api/v1/sensors?limit=0", "'limit' must be a whole number from 1 to 1000" },
        { "/api/v1/sensors?limit=1001", "'limit' must be a whole number" },
        { "/api/v1/sensors?limit=-5", "'limit' must be a whole number" },
        { "/api/v1/sensors?limit=abc", "'limit' must be a whole number" },
        { "/api/v1/sensors?site=bad&limit=99999999999999999999", "'limit' must be a whole number" },
        { "/api/v1/sensors?cursor=not-a-cursor", "'cursor' is not a cursor this API returned" },
        { "/api/v1/sensors?cursor=S2lsbjE", "'cursor' is not a cursor" },
        { "/api/v1/sensors?cursor=%27%3B%20DROP%20TABLE%20sensors%3B--", "'cursor' is not a cursor" },
        { "/api/v1/sensors?cursor=" + new string('A', 2000), "'cursor' is not a cursor" },
        { "/api/v1/sensors?site=bad&cursor=__8", "'cursor' is not a cursor" },
    };

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task A_bad_query_parameter_is_a_400_with_a_reason(string pathAndQuery, string reason) =>
        await AssertProblemAsync(await SendAsync("GET " + Fill(pathAndQuery)), HttpStatusCode.BadRequest, reason);

    // ---- What the framework answers before or instead of an endpoint

    [Theory]
    [InlineData("GET /api/v1/nothing-here", null, HttpStatusCode.NotFound, "Nothing answers at this path")]
    [InlineData("DELETE /api/v1/readings", "ingest", HttpStatusCode.MethodNotAllowed, "it answers POST")]
    [InlineData("PATCH /api/v1/sensors/{sensor}", "admin", HttpStatusCode.MethodNotAllowed, "it answers")]
    [InlineData("GET /api/v1/sensors", "none", HttpStatusCode.Unauthorized, "X-Api-Key")]
    [InlineData("GET /api/v1/sensors", "kiln_not-a-key", HttpStatusCode.Unauthorized, "X-Api-Key")]
    [InlineData("POST /api/v1/readings", "read", HttpStatusCode.Forbidden, "scope")]
    [InlineData("PUT /api/v1/sensors/{sensor}", "ingest", HttpStatusCode.Forbidden, "scope")]
    public async Task Errors_raised_before_an_endpoint_runs_are_problem_details_whatever_the_client_accepts(
        string endpoint, string? key, HttpStatusCode status, string reason)
    {
        foreach (var accept in new[] { "application/json", "text/html", "text/plain" })
        {
            var content = endpoint.StartsWith('P') ? Json(Fill("""{"readings":[{"sensorId":"{sensor}","timestamp":"{now}","value":1}],"site":"bad","kind":"k","unit":"u"}""")) : null;
            await AssertProblemAsync(await SendAsync(endpoint, content, KeyFor(key), accept), status, reason);
        }

        await AssertNothingStoredAsync();
    }

    [Theory]
    [InlineData("GET /health")]
    [InlineData("GET /alive")]
    [InlineData("GET /openapi/v1.json")]
    [InlineData("GET /api/v1/sensors/{sensor}")]
    [InlineData("GET /api/v1/sensors/{sensor}/latest")]
    [InlineData("GET /api/v1/nothing-here")]
    [InlineData("POST /api/v1/readings")]
    [InlineData("DELETE /api/v1/readings")]
    public async Task Every_response_carries_the_security_headers(string endpoint)
    {
        var content = endpoint.StartsWith("POST", StringComparison.Ordinal) ? Json(Fill("""{"readings":[{"sensorId":"{sensor}","timestamp":"{now}","value":1}]}""")) : null;
        using var response = await SendAsync(endpoint, content);
        Assert.True((int)response.StatusCode < 500, $"{endpoint} answered {(int)response.StatusCode}");
        AssertSecurityHeaders(response);
    }

    // ---- Helpers

    private static string NewSensorId() => $"bad{Guid.NewGuid():N}"[..12] + ".x.temp";

    private static string Nested(int depth) => string.Concat(Enumerable.Repeat("[", depth)) + string.Concat(Enumerable.Repeat("]", depth));

    private static string Now(double secondsAhead) =>
        DateTimeOffset.UtcNow.AddSeconds(secondsAhead).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Fills a template's placeholders: this test's sensor, and times relative to now.</summary>
    private string Fill(string template, string? sensor = null)
    {
        sensor ??= _sensor;
        var local = DateTime.UtcNow.AddSeconds(-2).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        return template
            .Replace("{sensor}", sensor, StringComparison.Ordinal)
            .Replace("{SENSOR}", sensor.ToUpperInvariant(), StringComparison.Ordinal)
            .Replace("{site}", sensor[..sensor.IndexOf('.', StringComparison.Ordinal)], StringComparison.Ordinal)
            .Replace("{long-id}", "bad." + new string('x', 130), StringComparison.Ordinal)
            .Replace("{long-kind}", new string('k', 65), StringComparison.Ordinal)
            .Replace("{now}", Now(-2), StringComparison.Ordinal)
            .Replace("{hour-ahead}", Now(3600), StringComparison.Ordinal)
            .Replace("{local}", local, StringComparison.Ordinal)
            .Replace("{date}", local[..10], StringComparison.Ordinal);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private string? KeyFor(string? scope) => scope switch
    {
        "none" => null,
        "read" => Api.ReadKey,
        "ingest" => Api.IngestKey,
        "admin" => Api.AdminKey,
        null => Api.AdminKey,
        _ => scope,
    };

    private Task<HttpResponseMessage> PostRawAsync(string body) => SendAsync("POST /api/v1/readings", Json(body));

    /// <summary>Sends "METHOD /path" with the key its endpoint needs unless one is given.</summary>
    private Task<HttpResponseMessage> SendAsync(string endpoint, HttpContent? content = null, string? key = "", string accept = "application/json",
        bool expectContinue = false)
    {
        var space = endpoint.IndexOf(' ', StringComparison.Ordinal);
        var method = new HttpMethod(endpoint[..space]);
        var path = endpoint[(space + 1)..].Replace("{sensor}", _sensor, StringComparison.Ordinal);
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.TryAddWithoutValidation("Accept", accept);
        request.Headers.ExpectContinue = expectContinue;
        key = key == "" ? (method == HttpMethod.Put ? Api.AdminKey : method == HttpMethod.Post ? Api.IngestKey : Api.ReadKey) : key;
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return Api.SendAsync(request, AnswerWithin);
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string reason)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(body).RootElement.Clone();
            Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), body);
            Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
            Assert.Matches("^[0-9a-f]{32}$", problem.GetProperty("traceId").GetString());
            var reasons = problem.TryGetProperty("rejected", out var rejected)
                ? rejected.EnumerateArray().Select(r => r.GetProperty("reason").GetString()).Append(problem.GetProperty("detail").GetString())
                : [problem.GetProperty("detail").GetString()];
            Assert.True(reasons.Any(r => r?.Contains(reason, StringComparison.Ordinal) == true), $"no reason says \"{reason}\": {body}");
            foreach (var internals in Internals)
            {
                Assert.False(body.Contains(internals, StringComparison.Ordinal), $"the answer shows \"{internals}\": {body}");
            }

            AssertSecurityHeaders(response);
            return problem;
        }
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
    }

    /// <summary>
    /// Nothing of a refused request reached storage. A reading sent after it for the same sensor goes to the same
    /// partition (the key is the sensor id), behind anything the refused request had produced: once it is stored,
    /// it must be the only one.
    /// </summary>
    private async Task AssertNothingStoredAsync()
    {
        const double Marker = 424242;
        using (var response = await Api.PostReadingsAsync(new[] { new { sensorId = _sensor, timestamp = DateTimeOffset.UtcNow.AddMilliseconds(-500), value = Marker } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Eventually.TrueAsync(async () => (await Api.ReadAllAsync(_sensor)).Any(r => r.Value == Marker), TimeSpan.FromSeconds(15), "the marker reading");
        Assert.Equal([Marker], (await Api.ReadAllAsync(_sensor)).Select(r => r.Value));
    }

    private async Task AssertUnknownAsync(string id)
    {
        using var response = await SendAsync($"GET /api/v1/sensors/{id}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
