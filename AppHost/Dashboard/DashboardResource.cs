using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;
using Kiln.AppHost.Resources;

namespace Kiln.AppHost.Dashboard;

/// <summary>
/// The dashboard (<c>Dashboard/</c>, Kiln.Dashboard), started first and stopped last, as Aspire runs its dashboard: its
/// built assembly run with the configuration Aspire hands its own (ASPIRE-CONTRACT.md §1, "Dashboard process") — the
/// OTLP key, the browser token and the HTTP API key from <c>.apphost/secrets.json</c>, on three loopback ports allocated
/// like every other. The services export to its OTLP/gRPC endpoint.
/// </summary>
internal sealed class DashboardResource() : Resource(ResourceName)
{
    public const string ResourceName = "dashboard";
    private const string Program = "Kiln.Dashboard";
    private static readonly TimeSpan StartupDeadline = TimeSpan.FromSeconds(60);

    private readonly Lock _gate = new();
    // One run of the dashboard's per AppHost run: every start of the dashboard in it (a restart, after a crash) reopens it.
    private readonly (string Id, DateTimeOffset StartedAt) _run = NewRun();
    private SupervisedProcess? _process;
    private Uri? _frontend, _otlpGrpc, _otlpHttp;

    public override string Type => "dashboard";

    /// <summary>Pages, login and the HTTP API.</summary>
    public Uri FrontendUrl => AllocateEndpoint("http");

    /// <summary>What the services get as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (with <c>OTEL_EXPORTER_OTLP_PROTOCOL=grpc</c>).</summary>
    public Uri OtlpGrpcUrl => AllocateEndpoint("otlp-grpc");

    public Uri OtlpHttpUrl => AllocateEndpoint("otlp-http");

    public int? Pid => _process?.Pid;

    /// <summary>The AppHost's resource service, handed to the dashboard once it is listening (before any resource starts).</summary>
    internal Uri? ResourceServiceUrl { get; set; }

    /// <summary>The URL that logs a browser in: the frontend's <c>/login?t=&lt;dashboardToken&gt;</c>.</summary>
    public Uri LoginUrl(Secrets secrets) => new(FrontendUrl, $"/login?t={Uri.EscapeDataString(secrets.DashboardToken)}");

    internal override Uri AllocateEndpoint(string endpointName)
    {
        lock (_gate)
        {
            // All three at once, so they are fixed before anything is handed one; a restart keeps them.
            _frontend ??= new Uri($"http://127.0.0.1:{PortAllocator.Next()}");
            _otlpGrpc ??= new Uri($"http://127.0.0.1:{PortAllocator.Next()}");
            _otlpHttp ??= new Uri($"http://127.0.0.1:{PortAllocator.Next()}");
        }

        return endpointName switch
        {
            "http" => _frontend,
            "otlp-grpc" => _otlpGrpc,
            "otlp-http" => _otlpHttp,
            _ => throw new ArgumentException($"{Name} has the endpoints http, otlp-grpc and otlp-http; not '{endpointName}'.", nameof(endpointName)),
        };
    }

    internal override IReadOnlyList<(string Name, Uri Url)> Endpoints =>
        _frontend is null ? [] : [("http", FrontendUrl), ("otlp-grpc", OtlpGrpcUrl), ("otlp-http", OtlpHttpUrl)];

    internal override async Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        var assembly = ProgramPaths.Find(Program);
        if (!File.Exists(assembly))
        {
            throw new ProvisioningException($"{Name}: {assembly} does not exist. Build the solution first: dotnet build App.sln");
        }

        var spec = new ProcessSpec(DotnetHost.Path, ["exec", assembly])
        {
            Environment = EnvironmentFor(context),
            NotInherited = ProjectResource.NotInherited,
            WorkingDirectory = Path.GetDirectoryName(assembly),
        };
        _process = Supervise(context,
            log => ChildProcess.StartAsync(spec, log, context.Processes),
            (process, ct) => HealthProbe.WaitForHttpHealthyAsync(Name, new Uri(FrontendUrl, "/health"), process.Exited, StartupDeadline, ct),
            stopGrace: TimeSpan.FromSeconds(10));
        await _process.StartAsync(cancellationToken);
    }

    /// <summary>The names Aspire's AppHost sets for its dashboard (DashboardEventHandlers, DashboardConfigNames).</summary>
    internal Dictionary<string, string> EnvironmentFor(RunContext context)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ASPNETCORE_URLS"] = Text(FrontendUrl),
            ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = Text(OtlpGrpcUrl),
            ["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = Text(OtlpHttpUrl),
            ["DASHBOARD__OTLP__AUTHMODE"] = "ApiKey",
            ["DASHBOARD__OTLP__PRIMARYAPIKEY"] = context.Secrets.OtlpApiKey,
            ["DASHBOARD__FRONTEND__AUTHMODE"] = "BrowserToken",
            ["DASHBOARD__FRONTEND__BROWSERTOKEN"] = context.Secrets.DashboardToken,
            ["DASHBOARD__API__AUTHMODE"] = "ApiKey",
            ["DASHBOARD__API__PRIMARYAPIKEY"] = context.Secrets.DashboardApiKey!,
            // Its runs under .apphost/dashboard/ (so --fresh wipes them), and which run this is (Kiln's, not Aspire's names).
            ["DASHBOARD__STORAGE__PATH"] = context.State.For(ResourceName),
            ["DASHBOARD__RUN__ID"] = _run.Id,
            ["DASHBOARD__RUN__STARTEDAT"] = _run.StartedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            // Aspire asks for json (its console view parses it); the AppHost prints lines as they come, so simple reads better.
            ["LOGGING__CONSOLE__FORMATTERNAME"] = "simple",
        };

        // Kept by the dashboard for its resource pages (a later slice); it does not call the service yet.
        if (ResourceServiceUrl is { } resourceService && context.Secrets.ResourceServiceApiKey is { } resourceServiceKey)
        {
            env["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = Text(resourceService);
            env["DASHBOARD__RESOURCESERVICECLIENT__AUTHMODE"] = "ApiKey";
            env["DASHBOARD__RESOURCESERVICECLIENT__APIKEY"] = resourceServiceKey;
        }

        return env;
    }

    internal override Task StopAsync() => _process?.StopAsync() ?? Task.CompletedTask;

    internal override async Task<string?> CheckHealthAsync(CancellationToken cancellationToken) =>
        await HealthProbe.CheckHttpAsync(new Uri(FrontendUrl, "/health"), cancellationToken);

    /// <summary>Its addresses, never its token: <c>{"urls":["http://127.0.0.1:…"],"otlpGrpc":…,"otlpHttp":…}</c>.</summary>
    internal override object? DescribeEndpoint() =>
        _frontend is null ? null : new { urls = new[] { Text(FrontendUrl) }, otlpGrpc = Text(OtlpGrpcUrl), otlpHttp = Text(OtlpHttpUrl) };

    private static string Text(Uri url) => url.ToString().TrimEnd('/');

    /// <summary><c>20261124-170000-3f9a1c</c>: sorts by start time; two AppHost runs in one second still differ.</summary>
    private static (string Id, DateTimeOffset StartedAt) NewRun()
    {
        var now = DateTimeOffset.UtcNow;
        return (string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{now:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}"), now);
    }
}
