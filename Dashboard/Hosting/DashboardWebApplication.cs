using System.Net;
using Microsoft.AspNetCore.DataProtection;
using Kiln.Dashboard.Api;
using Kiln.Dashboard.Authentication;
using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Frontend;
using Kiln.Dashboard.Otlp;
using Kiln.Dashboard.Otlp.Grpc;
using Kiln.Dashboard.Otlp.Http;
using Kiln.Dashboard.Otlp.Storage;
using Kiln.Dashboard.Persistence;
using Kiln.Dashboard.ResourceService;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Kiln.Dashboard.Hosting;

/// <summary>
/// The dashboard process: three loopback listeners (frontend with pages and the HTTP API, OTLP/gRPC, OTLP/HTTP), one
/// telemetry store they share, and the login. Built from configuration (<see cref="DashboardOptions"/>); a port of 0
/// takes a free one, and <see cref="FrontendUrl"/>, <see cref="OtlpGrpcUrl"/>, <see cref="OtlpHttpUrl"/> say which
/// once started. Tests host it in-process through this class; <c>Program</c> runs it.
/// </summary>
internal sealed class DashboardWebApplication : IAsyncDisposable
{
    private readonly Dictionary<DashboardListener, ListenOptions> _listeners = [];
    private readonly StorageFolderLock? _folderLock;

    private DashboardWebApplication(string[] args, IReadOnlyDictionary<string, string?>? settings)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (settings is not null)
        {
            // Over the environment, under the command line.
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Configuration.AddCommandLine(args);
        }

        Options = DashboardOptions.Read(builder.Configuration);
        // Before anything is read or written there: a second dashboard over the same folder stops here, with the reason.
        _folderLock = Options.Run.StoragePath is { } storage ? StorageFolderLock.Acquire(storage) : null;
        // The listeners are configured here (cleartext: HTTP/2 only where gRPC needs it, h2c), ASPNETCORE_URLS among them.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            Listen(kestrel, DashboardListener.Frontend, Options.FrontendEndpoint, HttpProtocols.Http1);
            Listen(kestrel, DashboardListener.OtlpGrpc, Options.OtlpGrpcEndpoint, HttpProtocols.Http2);
            Listen(kestrel, DashboardListener.OtlpHttp, Options.OtlpHttpEndpoint, HttpProtocols.Http1);
        });

        builder.Services.AddSingleton(Options);
        builder.Services.AddSingleton(Options.Limits);
        // The current run (reopened when the dashboard restarts within one AppHost run) and the kept past ones.
        builder.Services.AddSingleton(services => TelemetryRuns.Open(Options.Run, Options.Limits, services.GetRequiredService<ILogger<TelemetryRuns>>()));
        builder.Services.AddSingleton(services => services.GetRequiredService<TelemetryRuns>().Current);
        builder.Services.AddHostedService(services => new RunWriterService(services.GetRequiredService<TelemetryRuns>().Writer));
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<SelectedRun>();
        builder.Services.AddSingleton<OtlpApiKey>();
        builder.Services.AddSingleton<ResourceCatalog>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ResourceCatalog>());
        builder.Services.AddHostedService<ConsoleLogRecorder>();
        builder.Services.AddProblemDetails();
        builder.Services.AddGrpc(grpc =>
        {
            grpc.Interceptors.Add<OtlpApiKeyInterceptor>();
            grpc.Interceptors.Add<OtlpBackpressureInterceptor>();
            grpc.MaxReceiveMessageSize = (int)OtlpHttpEndpoints.MaxBodyBytes;
        });
        builder.Services.AddDashboardAuthentication(Options);
        builder.Services.AddRazorComponents();
        // Login cookies live as long as the process: nothing is written to the user's profile, a restart asks for the token again.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();

        App = builder.Build();
        App.UseRouting();
        App.UseListenerRouting();
        App.UseAuthentication();
        App.UseAuthorization();
        App.UseRunSelection();
        App.UseAntiforgery();

        var otlpGrpc = new ListenerMetadata(DashboardListener.OtlpGrpc);
        App.MapGrpcService<OtlpGrpcTraceService>().AllowAnonymous().WithMetadata(otlpGrpc);
        App.MapGrpcService<OtlpGrpcLogsService>().AllowAnonymous().WithMetadata(otlpGrpc);
        App.MapGrpcService<OtlpGrpcMetricsService>().AllowAnonymous().WithMetadata(otlpGrpc);
        App.MapOtlpHttp();
        App.MapTelemetryApi();
        App.MapResourcesApi();
        App.MapRunsApi();
        App.MapRunSelection();
        App.MapBrowserTokenLogin(Options);
        App.MapGet("/health", () => Results.Text("Healthy")).AllowAnonymous();
        App.MapDashboardStylesheet();
        App.MapDashboardScripts();
        App.MapResourceEndpoints();
        App.MapSignalControls();
        App.MapTelemetryPageStreams();
        // The pages (Components/Pages), server-rendered; the fallback policy lets in only a logged-in browser.
        App.MapRazorComponents<Kiln.Dashboard.Components.App>();
    }

    public WebApplication App { get; }

    public DashboardOptions Options { get; }

    public ITelemetryStore Store => App.Services.GetRequiredService<ITelemetryStore>();

    public Uri FrontendUrl => Url(DashboardListener.Frontend);

    public Uri OtlpGrpcUrl => Url(DashboardListener.OtlpGrpc);

    public Uri OtlpHttpUrl => Url(DashboardListener.OtlpHttp);

    /// <summary>The URL that logs a browser in: <c>http://127.0.0.1:18888/login?t=…</c> (the frontend itself when Unsecured).</summary>
    public Uri LoginUrl => Options.FrontendAccess.PrimaryKey is { } token
        ? new Uri(FrontendUrl, $"/login?t={Uri.EscapeDataString(token)}")
        : FrontendUrl;

    /// <param name="settings">Settings over the command line and environment (tests pass ports of 0 and keys here).</param>
    public static DashboardWebApplication Create(string[] args, IReadOnlyDictionary<string, string?>? settings = null) => new(args, settings);

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await App.StartAsync(cancellationToken);
        var log = App.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Kiln.Dashboard");
        log.LogInformation("Dashboard (pages, API) on {Url}; OTLP/gRPC on {Grpc}; OTLP/HTTP on {Http}", Text(FrontendUrl), Text(OtlpGrpcUrl), Text(OtlpHttpUrl));
        log.LogInformation("Login to the dashboard at {LoginUrl}", LoginUrl);
        var runs = App.Services.GetRequiredService<TelemetryRuns>();
        if (runs.RunsFolder is { } folder)
        {
            log.LogInformation("Runs are kept in {Folder} (the last {Kept}); this is run {RunId}, started {StartedAt:O}{Reopened}",
                folder, RunSettings.KeptRuns, runs.CurrentRunId, runs.Settings.StartedAt, runs.Reopened ? ", reopened with what it held" : "");
        }
        else
        {
            log.LogInformation("Telemetry is kept in memory only (Dashboard:Storage:Path is empty); this is run {RunId}", runs.CurrentRunId);
        }

        // A key this process made up is printed, or nobody could use it; a key it was handed is never printed.
        if (Options.OtlpAccess.Generated)
        {
            log.LogInformation("OTLP exporters must send the header {Header}={Key} (none was configured in Dashboard:Otlp:PrimaryApiKey)",
                OtlpApiKey.HeaderName, Options.OtlpAccess.PrimaryKey);
        }

        if (Options.ApiAccess.Generated)
        {
            log.LogInformation("The HTTP API takes the header {Header}: {Key} (none was configured in Dashboard:Api:PrimaryApiKey)",
                ApiKeyAuthenticationHandler.HeaderName, Options.ApiAccess.PrimaryKey);
        }

        foreach (var (name, access) in new[] { ("OTLP", Options.OtlpAccess), ("frontend", Options.FrontendAccess), ("API", Options.ApiAccess) })
        {
            if (access.Mode == AuthMode.Unsecured)
            {
                log.LogWarning("The {Way} is unsecured (AuthMode=Unsecured): anyone who can reach this loopback port can use it", name);
            }
        }
    }

    private static string Text(Uri url) => url.ToString().TrimEnd('/');

    public Task StopAsync(CancellationToken cancellationToken = default) => App.StopAsync(cancellationToken);

    public async Task RunAsync()
    {
        await StartAsync();
        await App.WaitForShutdownAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        _folderLock?.Dispose();
    }

    private void Listen(KestrelServerOptions kestrel, DashboardListener listener, IPEndPoint endpoint, HttpProtocols protocols) =>
        kestrel.Listen(endpoint, options =>
        {
            options.Protocols = protocols;
            options.Use(next => connection =>
            {
                connection.Features.Set(new ListenerFeature(listener));
                return next(connection);
            });
            _listeners[listener] = options;
        });

    /// <summary>The bound address: Kestrel replaces a configured port 0 with the one it got.</summary>
    private Uri Url(DashboardListener listener)
    {
        var endpoint = _listeners.TryGetValue(listener, out var options) ? options.IPEndPoint : null;
        return endpoint is null
            ? throw new InvalidOperationException("The dashboard has not started.")
            : new Uri($"http://{(endpoint.Address.Equals(IPAddress.IPv6Loopback) ? "[::1]" : endpoint.Address.ToString())}:{endpoint.Port}");
    }
}
