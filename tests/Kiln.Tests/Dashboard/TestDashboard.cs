using System.Net.Http.Headers;
using Google.Protobuf;
using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Hosting;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Metrics;
using Kiln.Dashboard.Otlp.Proto.Resource;
using Kiln.Dashboard.Otlp.Proto.Trace;

namespace Kiln.Tests.Dashboard;

/// <summary>A dashboard hosted in the test process on free loopback ports, with keys and token of its own.</summary>
internal sealed class TestDashboard : IAsyncDisposable
{
    private TestDashboard(DashboardWebApplication app) => App = app;

    public DashboardWebApplication App { get; }

    public string OtlpKey => App.Options.OtlpAccess.PrimaryKey!;

    public string ApiKey => App.Options.ApiAccess.PrimaryKey!;

    public string BrowserToken => App.Options.FrontendAccess.PrimaryKey!;

    public static async Task<TestDashboard> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = "http://127.0.0.1:0",
            ["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = "http://127.0.0.1:0",
            ["Dashboard:Otlp:PrimaryApiKey"] = DashboardOptions.NewKey(),
            ["Dashboard:Api:PrimaryApiKey"] = DashboardOptions.NewKey(),
            ["Dashboard:Frontend:BrowserToken"] = DashboardOptions.NewKey(),
            ["Logging:LogLevel:Default"] = "Warning",
            // Memory only unless a test gives a folder: nothing written under the user's data folder.
            ["Dashboard:Storage:Path"] = "",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var app = DashboardWebApplication.Create([], all);
        await app.StartAsync();
        return new TestDashboard(app);
    }

    /// <summary>A client of the frontend listener (pages, API) that sends the API key.</summary>
    public HttpClient ApiClient()
    {
        var http = new HttpClient { BaseAddress = App.FrontendUrl };
        http.DefaultRequestHeaders.Add("X-API-Key", ApiKey);
        return http;
    }

    /// <summary>Posts an export to OTLP/HTTP as an exporter does; returns the answer.</summary>
    public async Task<HttpResponseMessage> PostOtlpAsync(string signal, IMessage request, string? key = null)
    {
        using var http = new HttpClient { BaseAddress = App.OtlpHttpUrl };
        using var content = new ByteArrayContent(request.ToByteArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        using var message = new HttpRequestMessage(HttpMethod.Post, $"/v1/{signal}") { Content = content };
        message.Headers.Add("x-otlp-api-key", key ?? OtlpKey);
        return await http.SendAsync(message);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>OTLP messages made by hand, for what the .NET exporter cannot be made to send (many spans, exact ids).</summary>
internal static class OtlpMessages
{
    public static Resource Resource(string service, string? instance = null)
    {
        var resource = new Resource();
        resource.Attributes.Add(Attribute("service.name", service));
        if (instance is not null)
        {
            resource.Attributes.Add(Attribute("service.instance.id", instance));
        }

        return resource;
    }

    public static KeyValue Attribute(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    public static Span Span(byte[] traceId, int index, string name, bool error = false, byte[]? parent = null)
    {
        var spanId = new byte[8];
        BitConverter.TryWriteBytes(spanId, (long)index + 1);
        var start = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000UL;
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(traceId),
            SpanId = ByteString.CopyFrom(spanId),
            Name = name,
            Kind = Kiln.Dashboard.Otlp.Proto.Trace.Span.Types.SpanKind.Server,
            StartTimeUnixNano = start,
            EndTimeUnixNano = start + 2_000_000,
            Status = new Status { Code = error ? Status.Types.StatusCode.Error : Status.Types.StatusCode.Ok },
        };
        if (parent is not null)
        {
            span.ParentSpanId = ByteString.CopyFrom(parent);
        }

        span.Attributes.Add(Attribute("http.route", "/things/{id}"));
        return span;
    }

    public static byte[] TraceId(int index)
    {
        var id = new byte[16];
        BitConverter.TryWriteBytes(id.AsSpan(8), (long)index + 1);
        id[0] = 0xab;
        return id;
    }

    /// <summary>One export of <paramref name="spans"/> from one service.</summary>
    public static ExportTraceServiceRequest Traces(string service, IEnumerable<Span> spans, string scope = "Kiln.Tests")
    {
        var scopeSpans = new ScopeSpans { Scope = new InstrumentationScope { Name = scope, Version = "1.0" } };
        scopeSpans.Spans.AddRange(spans);
        var resourceSpans = new ResourceSpans { Resource = Resource(service, "abcdefgh") };
        resourceSpans.ScopeSpans.Add(scopeSpans);
        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.Add(resourceSpans);
        return request;
    }

    /// <summary>One export of a gauge of <paramref name="points"/> points (value = time = offset, offset + 1, …) from one service.</summary>
    public static ExportMetricsServiceRequest Gauge(string service, string name, int points, int offset = 0)
    {
        var gauge = new Gauge();
        gauge.DataPoints.AddRange(Enumerable.Range(offset, points).Select(t => new NumberDataPoint { TimeUnixNano = (ulong)t + 1, AsDouble = t }));
        var scope = new ScopeMetrics { Scope = new InstrumentationScope { Name = "Kiln.Tests" }, Metrics = { new Metric { Name = name, Unit = "{reading}", Gauge = gauge } } };
        return new ExportMetricsServiceRequest { ResourceMetrics = { new ResourceMetrics { Resource = Resource(service, "abcdefgh"), ScopeMetrics = { scope } } } };
    }
}
