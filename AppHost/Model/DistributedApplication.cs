using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Kiln.AppHost.Containers;
using Kiln.AppHost.Dashboard;
using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Provisioning;
using Kiln.AppHost.ResourceService;
using Kiln.AppHost.Resources;

namespace Kiln.AppHost.Model;

/// <summary>
/// Runs the declared system: provisions what the machine lacks, starts each resource once the ones it
/// waits for are healthy (independent ones in parallel), writes <c>endpoints.json</c>, and on stop ends
/// projects first, then backing services, removing <c>endpoints.json</c>.
/// </summary>
internal sealed class DistributedApplication : IAsyncDisposable
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };
    private readonly DistributedApplicationBuilder _builder;
    private readonly CancellationTokenSource _stopping = new();
    private readonly StateDirectory _state;
    private RunContext? _context;
    private IDisposable? _lock;
    private ResourceServiceHost? _resourceService;

    // One stop or start of a single resource at a time: no double starts on one port.
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private bool _started;
    private int _stopped;

    internal DistributedApplication(DistributedApplicationBuilder builder)
    {
        _builder = builder;
        _state = new StateDirectory(builder.StateDirectory);
        ResourceNotifications = new ResourceNotificationService(this);
        Health = new ResourceHealthMonitor(this);
    }

    /// <summary>Set by a test host: <see cref="Run"/> then hands the application over instead of running it.</summary>
    internal static Action<DistributedApplication>? TestingHook { get; set; }

    /// <summary>Echo resources' output to the console (tests keep it per resource only).</summary>
    internal bool EchoOutput { get; set; } = true;

    public IReadOnlyList<Resource> Resources => _builder.Resources;

    public ResourceNotificationService ResourceNotifications { get; }

    /// <summary>Every running process's health, kept current (what the resource service shows).</summary>
    internal ResourceHealthMonitor Health { get; }

    /// <summary>The gRPC resource service a dashboard watches: its <c>Url</c> and <c>ApiKey</c>.</summary>
    public ResourceServiceHost ResourceService => _resourceService ?? throw new InvalidOperationException("The application has not started.");

    /// <summary>Runs after everything stopped (a test host removes its state folder here).</summary>
    internal Action? AfterDispose { get; set; }

    public Secrets Secrets => _context?.Secrets ?? throw new InvalidOperationException("The application has not started.");

    public string StateRoot => _state.Root;

    /// <summary>The dashboard the services export to (its OTLP/gRPC endpoint) and that tests query (its HTTP API).</summary>
    public DashboardResource Dashboard => _builder.Dashboard
        ?? throw new InvalidOperationException("The dashboard is disabled (--AppHost:DisableDashboard=true).");

    internal RunContext Context => _context ?? throw new InvalidOperationException("The application has not started.");

    public T Resource<T>(string name) where T : Resource =>
        _builder.Resources.OfType<T>().FirstOrDefault(r => r.Name == name)
        ?? throw new KeyNotFoundException($"No {typeof(T).Name} named '{name}'.");

    /// <summary>Runs until Ctrl+C or SIGTERM; returns the process exit code.</summary>
    public int Run()
    {
        if (TestingHook is { } hook)
        {
            hook(this);
            return 0;
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStopSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStopSignal);
        try
        {
            var stopwatch = Stopwatch.StartNew();
            StartAsync(_stopping.Token).GetAwaiter().GetResult();
            Context.Say($"all {Resources.Count} resources healthy in {stopwatch.Elapsed.TotalSeconds:0.0} s");
            PrintSummary();
            _stopping.Token.WaitHandle.WaitOne();
            return 0;
        }
        catch (Exception ex) when (ex is ProvisioningException or ResourceFailedException)
        {
            Console.Error.WriteLine(ConsoleSink.Format("apphost", ex.Message));
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
        finally
        {
            var started = _context is not null;
            if (started)
            {
                Console.WriteLine(ConsoleSink.Format("apphost", "stopping…"));
            }

            DisposeAsync().AsTask().GetAwaiter().GetResult();
            if (started)
            {
                Console.WriteLine(ConsoleSink.Format("apphost", "stopped; no resource process remains"));
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_started)
        {
            throw new InvalidOperationException("The application is already started.");
        }

        _started = true;
        var console = new ConsoleSink(EchoOutput);
        _state.Create();
        _lock = _state.Lock();

        // Leftovers first: --fresh must not wipe data from under a server that is still running.
        var processes = new ProcessRegistry(_state.ProcessesFile);
        foreach (var leftover in processes.EndLeftovers())
        {
            console.Write("apphost", $"ended {leftover}, left running by an AppHost that did not shut down");
        }

        // Said once the AppHost's log exists (below), so that they are kept like its other messages.
        var containerMessages = await RemoveLeftoverContainersAsync(cancellationToken);
        if (_builder.Fresh)
        {
            console.Write("apphost", $"--fresh: wiping {_state.Root}");
            WipeExternalData();
            _state.Wipe();
        }

        File.Delete(_state.EndpointsFile);
        var secrets = Secrets.LoadOrCreate(_state.SecretsFile);
        _context = new RunContext(_state, secrets, _builder.Configuration, console, processes)
        {
            Stopping = _stopping.Token,
            OtlpEndpoint = _builder.Dashboard?.OtlpGrpcUrl,
            IsDevelopment = _builder.IsDevelopment,
            ColorOutput = EchoOutput && !Console.IsOutputRedirected,
        };
        foreach (var (message, isError) in containerMessages)
        {
            _context.LogFor("apphost").Write(message, isError);
        }

        _ = Health.RunAsync(_stopping.Token);
        _resourceService = await ResourceServiceHost.StartAsync(this, cancellationToken);
        _builder.Dashboard?.ResourceServiceUrl = _resourceService.Url;

        await new MachineProvisioner(console).EnsureAsync([.. Resources.SelectMany(r => r.Prerequisites(_context))], cancellationToken);

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var started = new Dictionary<Resource, Task>();
        foreach (var resource in Resources)
        {
            _ = Start(resource);
        }

        try
        {
            await Task.WhenAll(started.Values);
        }
        catch (ResourceFailedException ex) when (!EchoOutput)
        {
            // Nobody saw the resource's output scroll by: the failure carries its last lines.
            throw new ResourceFailedException(ex.Resource, Describe(ex.Resource, ex.Message));
        }

        await WriteEndpointsAsync();

        Task Start(Resource resource)
        {
            if (!started.TryGetValue(resource, out var task))
            {
                // Projects also wait for the dashboard, so their first telemetry has somewhere to go; backing services
                // start beside it.
                var dependencies = resource.WaitsFor.Concat(resource is ProjectResource && _builder.Dashboard is { } dashboard ? [dashboard] : [])
                    .Select(Start).ToArray();
                task = StartAfterAsync(resource, dependencies, linked.Token);
                started[resource] = task;
            }

            return task;
        }
    }

    private async Task StartAfterAsync(Resource resource, Task[] dependencies, CancellationToken cancellationToken)
    {
        resource.State = ResourceState.Waiting;
        await Task.WhenAll(dependencies);
        resource.State = ResourceState.Starting;
        var stopwatch = Stopwatch.StartNew();
        try
        {
            await resource.StartAsync(Context, cancellationToken);
        }
        catch
        {
            resource.State = ResourceState.FailedToStart;
            throw;
        }

        resource.State = ResourceState.Running;
        Context.Say($"{resource.Name} ({resource.Type}) healthy after {stopwatch.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>Stops one running resource (what the dashboard's stop command does); its dependants keep running.</summary>
    public async Task StopResourceAsync(string name)
    {
        var resource = Resource<Resource>(name);
        await _lifecycle.WaitAsync();
        try
        {
            if (resource.State != ResourceState.Running)
            {
                throw new InvalidOperationException($"{name} is {resource.State}; only a running resource can be stopped.");
            }

            await resource.StopAsync();
            resource.State = ResourceState.Exited;
            Context.Say($"{name} stopped on request");
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Starts a stopped resource again, on the same endpoint, and returns once it is healthy.</summary>
    public async Task StartResourceAsync(string name, CancellationToken cancellationToken)
    {
        var resource = Resource<Resource>(name);
        await _lifecycle.WaitAsync(cancellationToken);
        try
        {
            if (resource.State is not (ResourceState.Exited or ResourceState.FailedToStart))
            {
                throw new InvalidOperationException($"{name} is {resource.State}; only a stopped resource can be started.");
            }

            await StartAfterAsync(resource, [], cancellationToken);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// A resource's name and state followed by its last lines of output, for a failure message:
    /// <c>worker: did not become healthy (…); it is Running; its last lines: …</c>.
    /// </summary>
    internal string Describe(string resourceName, string problem, int lines = 20)
    {
        var state = Resources.FirstOrDefault(r => r.Name == resourceName)?.State.ToString() ?? "unknown";
        var output = _context is null
            ? []
            : _context.Logs.Where(l => l.Key == resourceName || l.Key.StartsWith(resourceName + "-", StringComparison.Ordinal))
                .SelectMany(l => l.Value.Snapshot().TakeLast(lines).Select(line => $"  {l.Key}| {line}"))
                .ToList();
        return $"{resourceName}: {problem}; it is {state}; "
            + (output.Count == 0 ? "it wrote no output." : $"its last lines:{Environment.NewLine}{string.Join(Environment.NewLine, output)}");
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        try
        {
            await StopEverythingAsync();
        }
        finally
        {
            AfterDispose?.Invoke();
        }
    }

    private async Task StopEverythingAsync()
    {
        await _stopping.CancelAsync();
        if (_context is null)
        {
            _lock?.Dispose();
            _lifecycle.Dispose();
            return;
        }

        File.Delete(_state.EndpointsFile);
        // Projects first (they may flush to the backing services), then what they depended on.
        await Task.WhenAll(Resources.OfType<ProjectResource>().Select(StopQuietly));
        await Task.WhenAll(Resources.Where(r => r is not (ProjectResource or DashboardResource)).Select(StopQuietly));
        // Last: the services flushed their telemetry to it as they stopped.
        if (_builder.Dashboard is { } dashboard)
        {
            await StopQuietly(dashboard);
        }
        foreach (var resource in Resources)
        {
            resource.State = ResourceState.Finished;
            await resource.ReleaseAsync();
        }

        await RemoveContainersAsync();

        if (_resourceService is not null)
        {
            await _resourceService.DisposeAsync();
        }

        _lock?.Dispose();
        _lifecycle.Dispose();
    }

    private async Task StopQuietly(Resource resource)
    {
        try
        {
            await resource.StopAsync();
        }
        catch (Exception ex)
        {
            // Whatever one resource does, the others must still be stopped.
            Context.Say($"{resource.Name} did not stop cleanly: {ex.Message}");
        }
    }

    private async Task WriteEndpointsAsync()
    {
        var endpoints = Resources
            .Select(r => (r.Name, Endpoint: r.DescribeEndpoint()))
            .Where(e => e.Endpoint is not null)
            .ToDictionary(e => e.Name, e => e.Endpoint);
        var temp = _state.EndpointsFile + ".tmp";
        await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(endpoints, IndentedJson));
        File.Move(temp, _state.EndpointsFile, overwrite: true);
    }

    private void PrintSummary()
    {
        foreach (var project in Resources.OfType<ProjectResource>())
        {
            Context.Say($"{project.Name,-8} {string.Join("  ", project.Urls.Select(u => u.ToString().TrimEnd('/')))}");
        }

        if (_builder.Dashboard is { } dashboard)
        {
            Context.Say($"{dashboard.Name,-8} {dashboard.LoginUrl(Secrets)}");
        }

        Context.Say($"resource service (gRPC) {ResourceService.Url.ToString().TrimEnd('/')}; its key: resourceServiceApiKey in secrets.json");
        Context.Say($"endpoints: {_state.EndpointsFile}; secrets (API keys): {_state.SecretsFile}");
        Context.Say("press Ctrl+C to stop everything");
    }

    /// <summary>
    /// When this state folder ran containers before (<c>containers/engine</c> names the engine): its containers still there
    /// were left by an AppHost that was killed, and are removed, saying so; with <c>--fresh</c> its data volumes go too.
    /// </summary>
    private async Task<List<(string Message, bool IsError)>> RemoveLeftoverContainersAsync(CancellationToken cancellationToken)
    {
        var said = new List<(string, bool)>();
        var marker = Path.Combine(_state.Root, "containers", "engine");
        if (!File.Exists(marker))
        {
            return said;
        }

        var (engine, problem) = ContainerEngine.Find(File.ReadAllText(marker).Trim(), _state);
        if (engine is null)
        {
            said.Add(($"this state folder ran containers, but their engine does not answer now ({problem}); any left running stay", true));
            return said;
        }

        foreach (var name in await engine.RemoveContainersOfStateAsync(cancellationToken))
        {
            said.Add(($"removed container {name}, left by an AppHost that did not shut down", false));
        }

        if (_builder.Fresh)
        {
            foreach (var volume in await engine.RemoveVolumesOfStateAsync(cancellationToken))
            {
                said.Add(($"--fresh: removed volume {volume}", false));
            }
        }

        return said;
    }

    /// <summary>Last of a stop: no container of this state folder may remain, whatever happened to its resource.</summary>
    private async Task RemoveContainersAsync()
    {
        if (_context?.ContainerEngineIfFound is not { } engine)
        {
            return;
        }

        try
        {
            foreach (var name in await engine.RemoveContainersOfStateAsync(CancellationToken.None))
            {
                Context.Say($"removed container {name}, which outlived its resource's stop");
            }
        }
        catch (ProvisioningException ex)
        {
            Context.SayError($"could not check for containers left behind: {ex.Message}");
        }
    }

    /// <summary>Data a resource had to keep outside <c>.apphost/</c> (see PostgresServerResource.DataHome).</summary>
    private void WipeExternalData()
    {
        if (!Directory.Exists(_state.Root))
        {
            return;
        }

        foreach (var pointer in Directory.EnumerateFiles(_state.Root, "LOCATION", SearchOption.AllDirectories))
        {
            var outside = File.ReadAllText(pointer).Trim();
            if (outside.StartsWith("/var/tmp/kiln-", StringComparison.Ordinal) && Directory.Exists(outside))
            {
                Directory.Delete(outside, recursive: true);
            }
        }
    }

    private void OnStopSignal(PosixSignalContext context)
    {
        // Keep the process alive: Run() stops the resources in order, then returns.
        context.Cancel = true;
        _stopping.Cancel();
    }
}
