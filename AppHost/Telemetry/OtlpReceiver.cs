using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Kiln.AppHost.Telemetry.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kiln.AppHost.Telemetry;

/// <summary>
/// The OTLP/HTTP endpoint the AppHost hands every service as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, as
/// the Aspire dashboard's is. It authenticates exports with <c>x-otlp-api-key</c>, accepts
/// <c>application/x-protobuf</c> on <c>/v1/traces</c>, <c>/v1/logs</c> and <c>/v1/metrics</c>. It counts
/// every export and keeps the most recent spans (<see cref="Spans"/>); storing and showing logs and
/// metrics is the dashboard's work.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private const string ApiKeyHeader = "x-otlp-api-key";
    private const string Protobuf = "application/x-protobuf";
    private const long MaxExportBytes = 8 * 1024 * 1024;
    private static readonly string[] Signals = ["traces", "logs", "metrics"];

    private readonly byte[] _apiKey;
    private readonly WebApplication _server;
    private readonly ConcurrentDictionary<string, long> _exports = new(StringComparer.Ordinal);

    private OtlpReceiver(string apiKey)
    {
        _apiKey = Encoding.UTF8.GetBytes(apiKey);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MaxExportBytes);
        _server = builder.Build();
        foreach (var signal in Signals)
        {
            _server.MapPost($"/v1/{signal}", (Func<HttpContext, Task<IResult>>)(context => AcceptAsync(signal, context)));
        }
    }

    public Uri Url => new(_server.Urls.Single());

    /// <summary>How many export requests of a signal (traces, logs, metrics) were accepted.</summary>
    public long Exports(string signal) => _exports.GetValueOrDefault(signal);

    public SpanStore Spans { get; } = new();

    public static async Task<OtlpReceiver> StartAsync(string apiKey, CancellationToken cancellationToken)
    {
        var receiver = new OtlpReceiver(apiKey);
        await receiver._server.StartAsync(cancellationToken);
        return receiver;
    }

    private async Task<IResult> AcceptAsync(string signal, HttpContext context)
    {
        var key = Encoding.UTF8.GetBytes(context.Request.Headers[ApiKeyHeader].ToString());
        if (!CryptographicOperations.FixedTimeEquals(key, _apiKey))
        {
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: $"A valid {ApiKeyHeader} header is required.");
        }

        if (!string.Equals(context.Request.ContentType, Protobuf, StringComparison.OrdinalIgnoreCase))
        {
            return Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: $"Only {Protobuf} (OTLP/HTTP protobuf) is accepted.");
        }

        if (signal == "traces")
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            try
            {
                Spans.Add(ReceivedSpan.From(ExportTraceServiceRequest.Parser.ParseFrom(body.GetBuffer().AsSpan(0, (int)body.Length))));
            }
            catch (InvalidProtocolBufferException)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The body is not an OTLP ExportTraceServiceRequest.");
            }
        }
        else
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
        }

        _exports.AddOrUpdate(signal, 1, (_, count) => count + 1);

        // An empty Export*ServiceResponse: everything was accepted.
        return Results.Bytes([], Protobuf);
    }

    public async ValueTask DisposeAsync()
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _server.StopAsync(grace.Token);
        await _server.DisposeAsync();
    }
}
