using System.Diagnostics;
using System.Net;
using Kiln.Dashboard.Otlp.Proto.Trace;

namespace Kiln.Tests.Distributed;

/// <summary>
/// One reading batch is one distributed trace, received by the dashboard and found through its telemetry HTTP API
/// (<c>GET /api/telemetry/traces/{traceId}</c>): the Api's request, its produce to Kafka, the Worker's processing and its
/// PostgreSQL write.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class TracingTests(PlatformFixture platform)
{
    private static readonly TimeSpan ExportDeadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_posted_batch_is_one_trace_from_the_http_request_through_kafka_to_postgresql()
    {
        const string sensor = "kiln7.trace.temp";
        var api = platform.Api;
        Assert.Equal(HttpStatusCode.Created, (await api.PutSensorAsync(sensor, "kiln7")).StatusCode);

        // The test is the trace's root, as a device with tracing would be: every span of the batch joins it.
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var post = await api.SendAsync(HttpMethod.Post, "/api/v1/readings", api.IngestKey,
            new { readings = ApiDriver.Readings(sensor, 20, i => i) },
            headers: [("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01")]);
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);

        using var dashboard = new DashboardTelemetry(platform.App);
        IReadOnlyList<TraceSpan> trace = [];
        await Eventually.TrueAsync(async () => TraceSpan.IsCompleteIngest(trace = await dashboard.TraceAsync(traceId)), ExportDeadline,
            "the trace to hold the Api's request, the produce, the Worker's processing and a PostgreSQL call");

        var request = Assert.Single(trace, s => s.Service == "api" && s.Kind == Span.Types.SpanKind.Server);
        Assert.Equal("POST /api/v1/readings", request.Name);
        var produce = trace.First(s => s.Service == "api" && s.Kind == Span.Types.SpanKind.Producer);
        Assert.Equal("kafka", produce.Attributes["messaging.system"]);
        Assert.Equal("kiln.readings", produce.Attributes["messaging.destination.name"]);
        var process = trace.First(s => s.Service == "worker" && s.Kind == Span.Types.SpanKind.Consumer);
        Assert.Equal("kafka", process.Attributes["messaging.system"]);
        Assert.Contains(trace, s => s.Service == "worker" && s.IsPostgres && s.ParentSpanId == process.SpanId);
        // And it is listed among the newest traces of both services, as a script browsing the dashboard would find it.
        Assert.Contains(traceId, await dashboard.TraceIdsAsync("worker"));
        Assert.Contains(traceId, await dashboard.TraceIdsAsync("api"));
    }
}
