using Google.Protobuf;
using Kiln.Dashboard.Hosting;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Storage;
using Microsoft.AspNetCore.Http.Features;

namespace Kiln.Dashboard.Otlp.Http;

/// <summary>
/// OTLP/HTTP: <c>POST /v1/traces</c>, <c>/v1/logs</c>, <c>/v1/metrics</c> on the OTLP/HTTP listener only, in binary
/// protobuf (<c>application/x-protobuf</c>) or OTLP/JSON (<c>application/json</c>, hex ids), answered in the same
/// encoding. A missing or wrong <c>x-otlp-api-key</c> is 401, another content type 415, a body over 4 MB 413, a body
/// that is not the signal's export request 400, an export the run file's writer has no room for 503 with Retry-After — each
/// as problem details. Success is the empty export response.
/// </summary>
internal static class OtlpHttpEndpoints
{
    public const long MaxBodyBytes = 4 * 1024 * 1024;
    private const string Protobuf = "application/x-protobuf";
    private const string Json = "application/json";
    private static readonly JsonParser JsonParser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public static IEndpointRouteBuilder MapOtlpHttp(this IEndpointRouteBuilder endpoints)
    {
        var otlp = endpoints.MapGroup("/v1").AllowAnonymous().WithMetadata(new ListenerMetadata(DashboardListener.OtlpHttp));
        otlp.MapPost("/traces", (HttpContext context, OtlpApiKey key, ITelemetryStore store) =>
            ReceiveAsync(context, key, ExportTraceServiceRequest.Parser, r => store.AddTraces(r), new ExportTraceServiceResponse()));
        otlp.MapPost("/logs", (HttpContext context, OtlpApiKey key, ITelemetryStore store) =>
            ReceiveAsync(context, key, ExportLogsServiceRequest.Parser, r => store.AddLogs(r), new ExportLogsServiceResponse()));
        otlp.MapPost("/metrics", (HttpContext context, OtlpApiKey key, ITelemetryStore store) =>
            ReceiveAsync(context, key, ExportMetricsServiceRequest.Parser, r => store.AddMetrics(r), new ExportMetricsServiceResponse()));
        return endpoints;
    }

    private static async Task<IResult> ReceiveAsync<TRequest>(HttpContext context, OtlpApiKey key, MessageParser<TRequest> parser,
        Action<TRequest> store, IMessage response) where TRequest : IMessage<TRequest>, new()
    {
        if (!key.Accepts(context.Request.Headers[OtlpApiKey.HeaderName]))
        {
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: $"A valid {OtlpApiKey.HeaderName} header is required.");
        }

        var mediaType = context.Request.ContentType?.Split(';')[0].Trim();
        var isJson = string.Equals(mediaType, Json, StringComparison.OrdinalIgnoreCase);
        if (!isJson && !string.Equals(mediaType, Protobuf, StringComparison.OrdinalIgnoreCase))
        {
            return Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: $"OTLP/HTTP takes {Protobuf} or {Json}; the content type was '{context.Request.ContentType}'.");
        }

        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return TooLarge();
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        using var body = new MemoryStream();
        try
        {
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }

        TRequest request;
        try
        {
            request = isJson
                ? JsonParser.Parse<TRequest>(Api.OtlpJson.ToProtoJson(System.Text.Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length)))
                : parser.ParseFrom(body.GetBuffer().AsSpan(0, (int)body.Length));
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or System.Text.Json.JsonException or FormatException)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                detail: $"The body is not an OTLP {typeof(TRequest).Name}: {ex.Message}");
        }

        try
        {
            store(request);
        }
        catch (Persistence.TelemetryBackpressureException ex)
        {
            // OTLP/HTTP's retryable throttling: the exporter sends the export again after Retry-After.
            context.Response.Headers.RetryAfter = "1";
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy writing to disk", detail: ex.Message);
        }

        return isJson ? Results.Text(JsonFormatter.Default.Format(response), Json) : Results.Bytes(response.ToByteArray(), Protobuf);
    }

    private static IResult TooLarge() => Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large",
        detail: $"An OTLP/HTTP export may be at most {MaxBodyBytes / 1024 / 1024} MB; send smaller batches.");
}
