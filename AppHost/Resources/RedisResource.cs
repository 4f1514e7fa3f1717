using Kiln.AppHost.Containers;
using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;

namespace Kiln.AppHost.Resources;

/// <summary>
/// A Redis-compatible cache. Local mode runs <c>redis-server</c> when the machine has it, else Garnet
/// (provisioned as a dotnet tool under <c>.apphost/tools</c>), password-protected, loopback only.
/// The password travels in a mode-600 config file, never on a command line that <c>ps</c> shows.
/// </summary>
internal sealed class RedisResource(string name) : Resource(name), IResourceWithConnectionString
{
    private const string GarnetVersion = "2.2.8";
    private SupervisedProcess? _process;
    private string? _existing;

    public override string Type => "redis";

    public int Port { get; private set; }

    public string ConnectionString => _existing ?? $"127.0.0.1:{Port},password={_password}";

    private string? _password;
    private ContainerEngine? _engine;

    /// <summary>Local or container once started (existing: nothing started).</summary>
    public ResourceMode Mode { get; private set; }

    internal override IEnumerable<Prerequisite> Prerequisites(RunContext context)
    {
        // Resolved before anything starts, so a bad --mode or a missing engine stops the AppHost at once.
        context.ModeFor(Name, context.ExistingConnectionString(Name) is not null);
        return [];
    }

    internal override async Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        if (context.ExistingConnectionString(Name) is { } existing)
        {
            _existing = existing;
            Mode = ResourceMode.Existing;
            context.Say($"{Name}: existing server (ConnectionStrings__{Name}); nothing started");
            return;
        }

        if (context.ModeFor(Name, hasExistingConnectionString: false) == ResourceMode.Container)
        {
            await StartContainerAsync(context, cancellationToken);
            return;
        }

        // A restarted server keeps its port: the services were handed it in their connection strings.
        Port = Port == 0 ? PortAllocator.Next() : Port;
        _password = context.Secrets.CachePassword;
        var home = context.State.For(Name);
        // Kiln:Resources:{name}:Server = redis | garnet; by default redis-server when the machine has it.
        var server = context.Configuration[$"Kiln:Resources:{Name}:Server"];
        var redisServer = server is null or "redis" ? Prerequisite.FindOnPath("redis-server") : null;
        if (redisServer is null)
        {
            context.Say($"{Name}: {(server == "garnet" ? "Garnet requested" : "no redis-server on this machine")}; using Garnet");
        }

        ProcessSpec spec;
        if (redisServer is not null)
        {
            var config = Path.Combine(home, "redis.conf");
            // Append-only: a killed server loses nothing it acknowledged (the file is written before the
            // replies go out; everysec only bounds what a crash of the machine could take).
            OwnerOnlyFile.Write(config, $"""
                port {Port}
                bind 127.0.0.1
                protected-mode yes
                requirepass {_password}
                dir {home}
                save 60 1
                appendonly yes
                appendfsync everysec
                daemonize no
                """);
            spec = new ProcessSpec(redisServer, [config]);
        }
        else
        {
            var garnet = await GarnetServer.EnsureAsync(context, cancellationToken);
            var config = Path.Combine(home, "garnet.conf");
            OwnerOnlyFile.Write(config, $$"""
                { "Port": {{Port}}, "Address": "127.0.0.1", "AuthenticationMode": "Password", "Password": "{{_password}}", "EnableLua": true }
                """);
            spec = new ProcessSpec(DotnetHost.Path, ["exec", garnet, "--config-import-path", config]);
        }

        // Restarted after a crash with the same config: same port, password and data folder.
        _process = Supervise(context,
            log => ChildProcess.StartAsync(spec, log, context.Processes),
            (process, ct) => HealthProbe.WaitForRedisAsync(Name, Port, _password, process.Exited, TimeSpan.FromSeconds(30), ct),
            stopGrace: TimeSpan.FromSeconds(10));
        await _process.StartAsync(cancellationToken);
    }

    /// <summary>
    /// Container mode: Kiln's Redis image (or <c>Kiln:Resources:{name}:Image</c>: an image that takes its password from
    /// REDIS_PASSWORD, as bitnami/redis does), the password from secrets.json through an env file, port 6379 published on
    /// 127.0.0.1, append-only data in a named volume. Ready once AUTH + PING answer from the host.
    /// </summary>
    private async Task StartContainerAsync(RunContext context, CancellationToken cancellationToken)
    {
        Mode = ResourceMode.Container;
        var engine = _engine = context.ContainerEngine!;
        context.RememberContainers(engine);
        Port = Port == 0 ? PortAllocator.Next() : Port;
        _password = context.Secrets.CachePassword;
        var container = new BackingContainer(Name, ContainerImages.RedisImage);
        context.Say($"{Name}: container mode, image {container.Image(context)}, data in volume {engine.VolumeName(Name)}");
        await container.PrepareAsync(context, engine, "/data", cancellationToken);
        var spec = container.RunSpec(context, engine, new ContainerOptions
        {
            Secrets = new Dictionary<string, string> { ["REDIS_PASSWORD"] = _password },
            Ports = [(Port, 6379)],
            DataVolumePath = "/data",
        });
        _process = Supervise(context,
            log => ChildProcess.StartAsync(spec, log, context.Processes),
            (process, ct) => HealthProbe.WaitForRedisAsync(Name, Port, _password, process.Exited, TimeSpan.FromSeconds(90), ct),
            stopGrace: TimeSpan.FromSeconds(15));
        await _process.StartAsync(cancellationToken);
    }

    /// <summary>The server's process id while it runs.</summary>
    public int? Pid => _process?.Pid;

    internal override Task StopAsync() => BackingContainer.StopAsync(_process, _engine, Name);

    internal override object? DescribeEndpoint() => _existing is null ? new { endpoint = $"127.0.0.1:{Port}" } : null;

    internal override IReadOnlyList<(string Name, Uri Url)> Endpoints =>
        _existing is null && Port != 0 ? [("tcp", new Uri($"tcp://127.0.0.1:{Port}"))] : [];

    /// <summary>Garnet as a dotnet tool, installed on first use; its server assembly is run directly.</summary>
    private static class GarnetServer
    {
        public static async Task<string> EnsureAsync(RunContext context, CancellationToken cancellationToken)
        {
            var toolPath = Path.Combine(context.State.Root, "tools", "garnet");
            var dll = Find(toolPath);
            if (dll is not null)
            {
                return dll;
            }

            context.Say($"installing Garnet {GarnetVersion} as a dotnet tool under {toolPath} (first run only)");
            try
            {
                await MachineProvisioner.RunAsync(context.Console, "provision", DotnetHost.Path,
                    ["tool", "install", "garnet-server", "--version", GarnetVersion, "--tool-path", toolPath], cancellationToken);
            }
            catch (ProvisioningException ex)
            {
                context.Say(ex.Message);
            }

            return Find(toolPath) ?? throw new ProvisioningException(
                $"Installing Garnet failed (dotnet tool install garnet-server --version {GarnetVersion} --tool-path {toolPath}). "
                + "Install a Redis-compatible server instead: sudo apt-get install -y redis-server");
        }

        private static string? Find(string toolPath) =>
            Directory.Exists(toolPath)
                ? Directory.EnumerateFiles(toolPath, "GarnetServer.dll", SearchOption.AllDirectories).FirstOrDefault()
                : null;
    }
}

internal static class RedisResourceExtensions
{
    public static ResourceBuilder<RedisResource> AddRedis(this DistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new RedisResource(name));
}
