using System.Diagnostics;
using Kiln.Dashboard.Otlp.Storage;
using Kiln.Dashboard.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// What the AppHost's services do when the dashboard refuses an export because its run file's writer is behind: the
/// .NET OTLP exporter, set up as ServiceDefaults sets it up under the AppHost (<c>UseOtlpExporter</c> and the variables
/// the AppHost hands: gRPC, the key header, <c>OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY=in_memory</c>), sends the refused batches again (UNAVAILABLE is retryable,
/// with backoff, until its 10 s export timeout), and every span ends up kept — in memory and in the file.
/// </summary>
public sealed class ExporterRetryTests : IDisposable
{
    private const int Spans = 200;
    private readonly DirectoryInfo _storage = Directory.CreateTempSubdirectory("kiln-dashboard-retry-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _storage.Delete(recursive: true);
    }

    [Fact]
    public async Task Spans_refused_while_the_writer_is_behind_are_sent_again_by_the_services_exporter_and_all_kept()
    {
        // Room for 40 items: the exporter's batches of 10 fill it while the writer is held, then are refused.
        await using var dashboard = await TestDashboard.StartAsync(new Dictionary<string, string?>
        {
            ["Dashboard:Storage:Path"] = _storage.FullName,
            ["Dashboard:Storage:WriteQueueCapacity"] = "40",
        });
        var runs = dashboard.App.App.Services.GetRequiredService<TelemetryRuns>();
        var writer = runs.Writer!;
        Assert.Equal(40, writer.Capacity);

        // Hold the writer: another connection takes the file's write lock, and the writer's next transaction waits for
        // it (Microsoft.Data.Sqlite retries a busy database for its 30 s command timeout), so nothing leaves the queue.
        var file = RunDatabase.FileFor(runs.RunsFolder!, runs.CurrentRunId);
        using var holder = new SqliteConnection($"Data Source={file};Pooling=False");
        holder.Open();
        using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.ExecuteNonQuery();
        }

        using var events = new ExporterEvents();
        var service = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "retry-probe", DisableDefaults = true });
        service.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = dashboard.App.OtlpGrpcUrl.ToString().TrimEnd('/');
        service.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc";
        service.Configuration["OTEL_EXPORTER_OTLP_HEADERS"] = $"x-otlp-api-key={dashboard.OtlpKey}";
        service.Configuration["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"] = "in_memory";
        service.Configuration["OTEL_SERVICE_NAME"] = "retry-probe";
        service.Configuration["OTEL_BSP_SCHEDULE_DELAY"] = "100";
        service.Configuration["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "10";
        // ServiceDefaults' exporter (UseOtlpExporter, configured by the OTEL variables) without its instrumentation, which
        // in this process would also trace the dashboard's own requests.
        service.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource("retry-probe")).UseOtlpExporter();
        using var host = service.Build();
        await host.StartAsync();
        using (var source = new ActivitySource("retry-probe"))
        {
            for (var i = 0; i < Spans; i++)
            {
                using var span = source.StartActivity($"work {i}");
            }
        }

        try
        {
            // Twice: a first refusal, and the exporter's first retry of it, refused too.
            await Eventually.TrueAsync(() => writer.Refused >= 2, TimeSpan.FromSeconds(30), "the dashboard to refuse exports while its writer is held");
            Assert.True(dashboard.App.Store.GetCounts().Spans < Spans, "some spans are still to be sent again");
        }
        finally
        {
            using var rollback = holder.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        try
        {
            await Eventually.TrueAsync(() => dashboard.App.Store.GetCounts().Spans == Spans, TimeSpan.FromSeconds(60), $"all {Spans} spans to be kept");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} ({dashboard.App.Store.GetCounts().Spans} kept; refused {writer.Refused} times); exporter said: {string.Join(" | ", events.Messages)}", ex);
        }
        var names = dashboard.App.Store.GetSpans(new SpanQuery(["retry-probe"])).Select(s => s.Span.Name).ToHashSet();
        Assert.Equal(Enumerable.Range(0, Spans).Select(i => $"work {i}").ToHashSet(), names);

        await writer.FlushAsync();
        Assert.Equal(Spans, RunDatabase.Scalar(holder, "SELECT COUNT(*) FROM spans"));
        await host.StopAsync();
    }
}

/// <summary>What the OTLP exporter reports about its exports (failures, retries), for a failure's message.</summary>
internal sealed class ExporterEvents : System.Diagnostics.Tracing.EventListener
{
    public System.Collections.Concurrent.ConcurrentQueue<string> Messages { get; } = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource eventSource)
    {
        if (eventSource.Name == "OpenTelemetry-Exporter-OpenTelemetryProtocol")
        {
            EnableEvents(eventSource, System.Diagnostics.Tracing.EventLevel.Warning);
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs eventData)
    {
        var payload = eventData.Payload is { } p ? string.Join(", ", p) : "";
        Messages.Enqueue($"{eventData.EventSource.Name}/{eventData.EventName}: {payload}");
    }
}
