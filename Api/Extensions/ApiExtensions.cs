using System.Text.Json;
using System.Text.Json.Serialization;
using Confluent.Kafka;
using Kiln.Api.Alerts;
using Kiln.Api.RateLimits;
using Kiln.Api.Readings;
using Kiln.Api.Security;
using Kiln.Api.Sensors;
using Kiln.Shared;
using Kiln.Shared.Schema;
using Microsoft.AspNetCore.Http.Json;
using Polly.Telemetry;

namespace Kiln.Api.Extensions;

internal static class ApiExtensions
{
    /// <summary>Request bodies larger than this are refused with 413 as they are read (a 5,000-reading batch is ~0.5 MiB).</summary>
    public const long MaxRequestBodyBytes = 2 * 1024 * 1024;

    /// <summary>JSON nested deeper than this is refused with 400 (a batch nests 3 levels, a sensor 2).</summary>
    public const int MaxJsonDepth = 16;

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource(Topology.Resources.Database);
        builder.AddRedisClient(Topology.Resources.Cache);
        // The Api needs the cache only for latest values, which PostgreSQL answers while it is down: Degraded, not Unhealthy.
        builder.Services.Configure<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckServiceOptions>(health =>
            health.Registrations.Single(r => r.Name == Topology.Resources.Cache).FailureStatus = Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded);
        var batchSizes = new ProducedBatchSizes();
        builder.Services.AddSingleton(batchSizes);
        builder.AddKafkaProducer<string, byte[]>(Topology.Resources.Kafka, producer =>
        {
            // A request waits for the broker's acknowledgement; it must fail within bounded time, not hang.
            producer.Config.MessageTimeoutMs = (int)IngestOptions.From(builder.Configuration).DeliveryTimeout.TotalMilliseconds;
            producer.Config.StatisticsIntervalMs = ProducedBatchSizes.StatisticsIntervalMs;
            // A delivery report needs its partition and error only; marshalling each message's key, value and headers back costs CPU.
            producer.Config.DeliveryReportFields = "none";
        }, producer => producer.SetStatisticsHandler((_, statistics) => batchSizes.Update(statistics)));
        // Reads the Worker group's committed offsets for ingest admission (IngestAdmission). It never subscribes, so it
        // never joins the group, and never commits. It reaches the same broker as the producer, whose health check
        // already asks it for metadata on every /health: a second one would ask again for nothing.
        builder.AddKafkaConsumer<Ignore, Ignore>(Topology.Resources.Kafka, consumer =>
        {
            consumer.Config.GroupId = Topology.WorkerConsumerGroup;
            consumer.Config.EnableAutoCommit = false;
            consumer.DisableHealthChecks = true;
        });

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.Configure<JsonOptions>(o => ConfigureJson(o.SerializerOptions));
        // A body the framework cannot read reaches the exception handler with its cause, to be explained (UnreadableRequest).
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(kestrel => kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes);
        builder.Services.AddKilnProblemDetails();
        builder.Services.AddKilnOpenApi();

        builder.Services.AddSingleton<SchemaMigrator>();
        builder.Services.AddSingleton<DatabaseReadiness>();
        builder.Services.AddHostedService<DatabaseInitializer>();
        builder.Services.AddHealthChecks().AddCheck<DatabaseReadiness>("schema", tags: [Kiln.ServiceDefaults.HealthEndpoints.ReadyTag]);

        builder.AddWebCors();
        builder.AddApiKeyAuthentication();
        builder.AddRateLimits();
        builder.Services.AddSingleton(IngestOptions.From(builder.Configuration));
        builder.Services.AddSingleton<SensorStore>();
        builder.Services.AddSingleton<SensorCatalog>();
        builder.Services.AddSingleton<AlertStore>();
        builder.Services.AddSingleton<IngestAdmission>();
        builder.Services.AddHostedService(services => services.GetRequiredService<IngestAdmission>());
        builder.Services.AddHealthChecks().AddCheck<IngestAdmission>("ingest-backlog", tags: [Kiln.ServiceDefaults.HealthEndpoints.ReadyTag]);
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(IngestAdmission.MeterName));
        builder.Services.AddSingleton<ReadingPublisher>();
        builder.Services.AddSingleton<ReadingStore>();
        builder.Services.AddSingleton<RollupStore>();
        builder.Services.AddLatestValueStore();
        // A Redis call of these pipelines that times out falls back at once (per-replica limits, PostgreSQL), and logs that
        // at debug level itself; Polly's default for a timeout is an error, which under load filled the logs with "fail"
        // lines for what was handled. Their circuit breakers opening (Redis really away) are still logged as warnings.
        builder.Services.Configure<TelemetryOptions>(telemetry => telemetry.SeverityProvider = args =>
            args.Event.EventName == "OnTimeout" && args.Source.PipelineName is RateLimitExtensions.RedisCalls or LatestValueStoreExtensions.CacheReads
                ? ResilienceEventSeverity.Debug
                : args.Event.Severity);
    }

    /// <summary>How the Api reads and writes JSON (the web defaults, camelCase, and these).</summary>
    internal static void ConfigureJson(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        // The web defaults read "12" as the number 12: a number must be sent as one.
        options.NumberHandling = JsonNumberHandling.Strict;
        options.MaxDepth = MaxJsonDepth;
    }

    public static void UseApiPipeline(this WebApplication app)
    {
        app.UseSecurityHeaders();
        app.UseApiReferencePolicy();
        if (!app.Environment.IsDevelopment())
        {
            app.UseHsts(); // on HTTPS responses only, as the header is meaningless over HTTP
        }

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseWebCors();
        app.UseAuthentication();
        app.UseRateLimits();
        app.UseAuthorization();
    }
}
