using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Google.Protobuf;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Storage;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The dashboard's two OTLP receivers take what the real .NET OpenTelemetry exporter sends, over gRPC (h2c) and
/// HTTP/protobuf, and refuse a missing or wrong x-otlp-api-key: gRPC with Unauthenticated, HTTP with a 401.
/// </summary>
public sealed class OtlpReceiverTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);
    private TestDashboard _dashboard = null!;

    public async Task InitializeAsync() => _dashboard = await TestDashboard.StartAsync();

    public async Task DisposeAsync() => await _dashboard.DisposeAsync();

    [Theory]
    [InlineData(OtlpExportProtocol.Grpc)]
    [InlineData(OtlpExportProtocol.HttpProtobuf)]
    public async Task Spans_logs_and_metrics_from_the_dotnet_exporter_are_stored(OtlpExportProtocol protocol)
    {
        var service = $"exporter-{protocol}".ToLowerInvariant();
        var source = new ActivitySource($"Kiln.Tests.{protocol}");
        using var meter = new Meter($"Kiln.Tests.{protocol}");
        var counter = meter.CreateCounter<long>("kiln.test.things");
        var resource = ResourceBuilder.CreateEmpty().AddService(service, serviceInstanceId: "qwertyui");

        string traceId;
        using (var tracing = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(resource).AddSource(source.Name)
            .AddOtlpExporter(o => Configure(o, protocol, "traces")).Build())
        using (var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(meter.Name)
            .AddOtlpExporter(o => Configure(o, protocol, "metrics")).Build())
        using (var logging = LoggerFactory.Create(b => b.AddOpenTelemetry(o =>
        {
            o.SetResourceBuilder(resource);
            o.AddOtlpExporter(e => Configure(e, protocol, "logs"));
        })))
        {
            using (var activity = source.StartActivity("GET /things/{id}", ActivityKind.Server))
            {
                Assert.NotNull(activity);
                activity.SetTag("http.route", "/things/{id}");
                traceId = activity.TraceId.ToHexString();
                logging.CreateLogger("Things").LogWarning("thing {Id} looked at", 42);
            }

            counter.Add(3);
            Assert.True(tracing.ForceFlush(10_000), "the span export");
            Assert.True(metrics.ForceFlush(10_000), "the metric export");
        } // disposing the logger factory flushes its batch

        var store = _dashboard.App.Store;
        await Eventually.TrueAsync(() => store.GetTrace(traceId) is not null && store.GetLogs(new LogQuery([service])).Count > 0
            && store.GetInstruments().Any(i => i.Name == "kiln.test.things"), Deadline, $"the span, log and metric sent over {protocol}");

        var span = Assert.Single(store.GetTrace(traceId)!.Spans);
        Assert.Equal("GET /things/{id}", span.Span.Name);
        Assert.Equal(service, span.Resource.Name);
        Assert.Equal("qwertyui", span.Resource.InstanceId);
        Assert.Contains(span.Span.Attributes, a => a.Key == "http.route" && a.Value.StringValue == "/things/{id}");
        var log = Assert.Single(store.GetLogs(new LogQuery([service])));
        Assert.Equal(traceId, log.TraceId);
        Assert.Equal(Kiln.Dashboard.Otlp.Proto.Logs.SeverityNumber.Warn, log.Record.SeverityNumber);
        var instrument = Assert.Single(store.GetInstruments(), i => i.Name == "kiln.test.things");
        Assert.Equal(service, instrument.Resource.Name);
        Assert.Equal(Kiln.Dashboard.Otlp.Proto.Metrics.Metric.DataOneofCase.Sum, instrument.Kind);
        Assert.Contains(instrument.Points, p => ((Kiln.Dashboard.Otlp.Proto.Metrics.NumberDataPoint)p.DataPoint).AsInt == 3);
    }

    [Fact]
    public async Task Grpc_refuses_an_export_without_the_right_key_as_unauthenticated()
    {
        foreach (var key in new[] { null, "wrong-key", _dashboard.OtlpKey[..^1] })
        {
            var (status, _) = await GrpcExportAsync(key);
            Assert.Equal("16", status); // UNAUTHENTICATED
        }

        Assert.Empty(_dashboard.App.Store.GetSpans(new SpanQuery()));
        var (accepted, _) = await GrpcExportAsync(_dashboard.OtlpKey);
        Assert.Equal("0", accepted);
        Assert.Single(_dashboard.App.Store.GetSpans(new SpanQuery()));
    }

    [Fact]
    public async Task Http_refuses_a_wrong_key_a_wrong_format_a_bad_body_and_one_over_4_mb_with_problem_details()
    {
        var export = OtlpMessages.Traces("api", [OtlpMessages.Span(OtlpMessages.TraceId(1), 0, "GET /")]);
        foreach (var key in new[] { "", "wrong-key" })
        {
            using var refused = await _dashboard.PostOtlpAsync("traces", export, key);
            await AssertProblemAsync(refused, HttpStatusCode.Unauthorized);
        }

        using var http = new HttpClient { BaseAddress = _dashboard.App.OtlpHttpUrl };
        http.DefaultRequestHeaders.Add("x-otlp-api-key", _dashboard.OtlpKey);
        using (var text = await http.PostAsync("/v1/traces", new StringContent("{}", MediaTypeHeaderValue.Parse("text/plain"))))
        {
            await AssertProblemAsync(text, HttpStatusCode.UnsupportedMediaType);
        }

        using (var badJson = await http.PostAsync("/v1/traces", new StringContent("{\"resourceSpans\":[{", MediaTypeHeaderValue.Parse("application/json"))))
        {
            await AssertProblemAsync(badJson, HttpStatusCode.BadRequest);
        }

        using (var garbage = await http.PostAsync("/v1/logs", Protobuf([0xff, 0xff, 0xff, 0xff])))
        {
            await AssertProblemAsync(garbage, HttpStatusCode.BadRequest);
        }

        using (var huge = await http.PostAsync("/v1/metrics", Protobuf(new byte[4 * 1024 * 1024 + 1])))
        {
            await AssertProblemAsync(huge, HttpStatusCode.RequestEntityTooLarge);
        }

        using var accepted = await _dashboard.PostOtlpAsync("traces", export);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal("application/x-protobuf", accepted.Content.Headers.ContentType?.MediaType);
        Assert.Single(_dashboard.App.Store.GetSpans(new SpanQuery()));
    }

    [Fact]
    public async Task Http_takes_otlp_json_with_hex_ids_as_browser_and_javascript_exporters_send_it()
    {
        var traceId = OtlpMessages.TraceId(9);
        var export = OtlpMessages.Traces("browser", [OtlpMessages.Span(traceId, 0, "click")]);
        var json = Kiln.Dashboard.Api.OtlpJson.Line(export); // OTLP/JSON: hex ids, integer enums
        Assert.Contains(Convert.ToHexStringLower(traceId), System.Text.Encoding.UTF8.GetString(json), StringComparison.Ordinal);
        using var http = new HttpClient { BaseAddress = _dashboard.App.OtlpHttpUrl };
        http.DefaultRequestHeaders.Add("x-otlp-api-key", _dashboard.OtlpKey);
        using var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await http.PostAsync("/v1/traces", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var stored = Assert.Single(_dashboard.App.Store.GetSpans(new SpanQuery()));
        Assert.Equal(export.ResourceSpans[0].ScopeSpans[0].Spans[0], stored.Span);
        Assert.Equal("browser", stored.Resource.Name);
    }

    [Fact]
    public async Task Each_listener_serves_only_its_own_protocol()
    {
        using var frontend = new HttpClient { BaseAddress = _dashboard.App.FrontendUrl };
        using var otlpHttp = _dashboard.ApiClient();
        otlpHttp.BaseAddress = _dashboard.App.OtlpHttpUrl;
        using var exportOnFrontend = await frontend.PostAsync("/v1/traces", Protobuf([]));
        Assert.Equal(HttpStatusCode.NotFound, exportOnFrontend.StatusCode);
        using var apiOnOtlp = await otlpHttp.GetAsync("/api/telemetry/spans");
        Assert.Equal(HttpStatusCode.NotFound, apiOnOtlp.StatusCode);
    }

    private void Configure(OtlpExporterOptions options, OtlpExportProtocol protocol, string signal)
    {
        options.Protocol = protocol;
        // Given in code, the HTTP endpoint is used as is: the signal's path must be part of it.
        options.Endpoint = protocol == OtlpExportProtocol.Grpc ? _dashboard.App.OtlpGrpcUrl : new Uri(_dashboard.App.OtlpHttpUrl, $"/v1/{signal}");
        options.Headers = $"x-otlp-api-key={_dashboard.OtlpKey}";
        options.ExportProcessorType = ExportProcessorType.Simple;
    }

    /// <summary>One unary gRPC call made by hand (HTTP/2 cleartext, length-prefixed message); returns grpc-status and message.</summary>
    private async Task<(string? Status, string? Message)> GrpcExportAsync(string? key)
    {
        using var http = new HttpClient { BaseAddress = _dashboard.App.OtlpGrpcUrl };
        var body = OtlpMessages.Traces("grpc-by-hand", [OtlpMessages.Span(OtlpMessages.TraceId(7), 0, "by hand")]).ToByteArray();
        var frame = new byte[5 + body.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), body.Length);
        body.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        {
            Content = new ByteArrayContent(frame),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact, // h2c: HTTP/2 without TLS, as gRPC exporters speak it
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (key is not null)
        {
            request.Headers.Add("x-otlp-api-key", key);
        }

        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"gRPC answers 200 with its status in grpc-status; got {(int)response.StatusCode} HTTP/{response.Version} {string.Join("; ", response.Headers.Select(h => $"{h.Key}={string.Join(",", h.Value)}"))}");
        string? Header(string name) => response.TrailingHeaders.TryGetValues(name, out var t) ? t.First()
            : response.Headers.TryGetValues(name, out var h) ? h.First() : null;
        return (Header("grpc-status"), Header("grpc-message"));
    }

    private static ByteArrayContent Protobuf(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        return content;
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("detail").GetString()), "a reason");
    }
}
