using Kiln.AppHost.Dashboard;
using Kiln.AppHost.Provisioning;
using Microsoft.Extensions.Configuration;

namespace Kiln.AppHost.Model;

/// <summary>
/// Declares the system: <c>Add*</c> resources, references and waits, then <see cref="Build"/>. The
/// command line takes <c>--fresh</c> (wipe <c>.apphost/</c> first), <c>--no-simulator</c> (sets
/// <c>Kiln:Simulator:Enabled</c> to false), <c>--state-dir DIR</c> and <c>--mode auto|local|container</c> (<c>Kiln:Mode</c>:
/// how every backing resource runs, unless <c>Kiln:Resources:{name}:Mode</c> says otherwise for one).
/// </summary>
internal sealed class DistributedApplicationBuilder
{
    private readonly List<Resource> _resources = [];

    private DistributedApplicationBuilder(string[] args)
    {
        Fresh = args.Contains("--fresh");
        var remaining = args.Where(a => a is not "--fresh" and not NoSimulator).ToArray();
        Configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(remaining, new Dictionary<string, string> { ["--state-dir"] = "Kiln:StateDirectory", ["--mode"] = "Kiln:Mode" })
            .AddInMemoryCollection(args.Contains(NoSimulator) ? [KeyValuePair.Create("Kiln:Simulator:Enabled", (string?)"false")] : [])
            .Build();
        StateDirectory = Configuration["Kiln:StateDirectory"] ?? Provisioning.StateDirectory.DefaultRoot();
        // Every AppHost has its dashboard, as Aspire adds one without being asked, unless told not to (Aspire's DisableDashboard).
        if (!string.Equals(Configuration["AppHost:DisableDashboard"], "true", StringComparison.OrdinalIgnoreCase))
        {
            Dashboard = AddResource(new DashboardResource()).Resource;
        }
    }

    /// <summary>The dashboard: started before the projects (which export to it), stopped after them; null when disabled.</summary>
    public DashboardResource? Dashboard { get; }

    /// <summary>The switch that leaves the demo plant out (tests always pass it).</summary>
    public const string NoSimulator = "--no-simulator";

    public static DistributedApplicationBuilder CreateBuilder(string[] args) => new(args);

    public IConfiguration Configuration { get; }

    public bool Fresh { get; }

    /// <summary>
    /// The AppHost's own environment (its launch profile sets Development), which decides the
    /// Development-only OTEL settings handed to services. A local orchestrator run without one is
    /// taken to be Development too.
    /// </summary>
    public bool IsDevelopment =>
        string.Equals(Configuration["DOTNET_ENVIRONMENT"] ?? Configuration["ASPNETCORE_ENVIRONMENT"] ?? "Development", "Development",
            StringComparison.OrdinalIgnoreCase);

    public string StateDirectory { get; }

    public IReadOnlyList<Resource> Resources => _resources;

    public ResourceBuilder<T> AddResource<T>(T resource) where T : Resource
    {
        if (_resources.Any(r => r.Name == resource.Name))
        {
            throw new InvalidOperationException($"A resource named '{resource.Name}' is already declared.");
        }

        _resources.Add(resource);
        return new ResourceBuilder<T>(this, resource);
    }

    public DistributedApplication Build() => new(this);
}
