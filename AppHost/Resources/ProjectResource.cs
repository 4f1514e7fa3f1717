using System.Security.Cryptography;
using Kiln.AppHost.Health;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;
using Microsoft.Extensions.Configuration;

namespace Kiln.AppHost.Resources;

/// <summary>
/// A .NET service of the solution, run from its built assembly (one process per replica) with the
/// environment the Aspire AppHost would give it (ASPIRE-CONTRACT.md §1), restarted with backoff
/// when it crashes.
/// </summary>
internal sealed class ProjectResource(string name, string program) : Resource(name)
{
    private readonly List<ProjectReplica> _replicas = [];

    public override string Type => "project";

    public string Program { get; } = program;

    public int Replicas { get; internal set; } = 1;

    internal List<Resource> References { get; } = [];

    internal Dictionary<string, Func<RunContext, string>> Environment { get; } = [];

    /// <summary>The replicas' HTTP base addresses, once allocated.</summary>
    public IReadOnlyList<Uri> Urls => [.. _replicas.Select(r => r.Url)];

    internal IReadOnlyList<ProjectReplica> RunningReplicas => _replicas;

    internal string AssemblyPath => ProgramPaths.Find(Program);

    internal override async Task StartAsync(RunContext context, CancellationToken cancellationToken)
    {
        if (!File.Exists(AssemblyPath))
        {
            throw new ProvisioningException($"{Name}: {AssemblyPath} does not exist. Build the solution first: dotnet build App.sln");
        }

        AllocateReplicas();
        await Task.WhenAll(_replicas.Select(r => r.StartAsync(context, cancellationToken)));
    }

    /// <summary>
    /// Ports are allocated up front so every replica (and every service referencing this one) knows them all; a
    /// project started again after a stop keeps them. Another resource may ask first (<see cref="AllocateEndpoint"/>).
    /// </summary>
    private void AllocateReplicas()
    {
        lock (_replicas)
        {
            for (var i = _replicas.Count; i < Replicas; i++)
            {
                var port = PortAllocator.Next();
                var suffix = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz", 8);
                _replicas.Add(new ProjectReplica(this, i, suffix, new Uri($"http://localhost:{port}")));
            }
        }
    }

    /// <summary>The <c>http</c> endpoint: the first replica's address, as <see cref="Endpoints"/> names it.</summary>
    internal override Uri AllocateEndpoint(string endpointName)
    {
        if (endpointName != "http")
        {
            throw new ArgumentException($"{Name} has one endpoint, 'http'; not '{endpointName}'.", nameof(endpointName));
        }

        AllocateReplicas();
        return _replicas[0].Url;
    }

    internal override Task StopAsync() => Task.WhenAll(_replicas.Select(r => r.StopAsync()));

    internal override async Task<string?> CheckHealthAsync(CancellationToken cancellationToken)
    {
        foreach (var replica in _replicas)
        {
            if (await HealthProbe.CheckHttpAsync(new Uri(replica.Url, "/health"), cancellationToken) is { } problem)
            {
                return $"{replica.DisplayName}: {problem}";
            }
        }

        return null;
    }

    internal override object? DescribeEndpoint() => new { urls = Urls.Select(u => u.ToString().TrimEnd('/')).ToArray() };

    /// <summary>The first replica's, as Aspire's testing API gives a project's endpoint.</summary>
    internal override IReadOnlyList<(string Name, Uri Url)> Endpoints => Urls.Count > 0 ? [("http", Urls[0])] : [];

    /// <summary>The environment of one replica: the Aspire contract plus references and explicit values.</summary>
    internal Dictionary<string, string> EnvironmentFor(ProjectReplica replica, RunContext context)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ASPNETCORE_URLS"] = replica.Url.ToString().TrimEnd('/'),
            ["LOGGING__CONSOLE__FORMATTERNAME"] = "simple",
            ["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"] = "in_memory",
            ["OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EXCEPTION_LOG_ATTRIBUTES"] = "true",
            ["OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EVENT_LOG_ATTRIBUTES"] = "true",
            ["OTEL_SERVICE_NAME"] = Name,
            ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={replica.InstanceId}",
        };

        // Aspire always sets this, for its dashboard renders colour. Kiln's output goes to a terminal or to a
        // file or pipe; colour codes only help the first, and make captured logs unreadable.
        if (context.ColorOutput)
        {
            env["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "true";
        }

        if (context.OtlpEndpoint is { } otlp)
        {
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.ToString().TrimEnd('/');
            env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"; // Aspire's choice when its dashboard has a gRPC endpoint
            env["OTEL_EXPORTER_OTLP_HEADERS"] = $"x-otlp-api-key={context.Secrets.OtlpApiKey}";
        }

        if (context.IsDevelopment)
        {
            env["OTEL_DOTNET_EXPERIMENTAL_ASPNETCORE_DISABLE_URL_QUERY_REDACTION"] = "true";
            env["OTEL_DOTNET_EXPERIMENTAL_HTTPCLIENT_DISABLE_URL_QUERY_REDACTION"] = "true";
            env["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
            env["OTEL_BSP_SCHEDULE_DELAY"] = "1000";
            env["OTEL_METRIC_EXPORT_INTERVAL"] = "1000";
            env["OTEL_TRACES_SAMPLER"] = "always_on";
            env["OTEL_METRICS_EXEMPLAR_FILTER"] = "trace_based";
            env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true";
        }

        foreach (var reference in References)
        {
            switch (reference)
            {
                case IResourceWithConnectionString connection:
                    env[$"ConnectionStrings__{connection.Name}"] = connection.ConnectionString;
                    break;
                case ProjectResource project:
                    // Both discovery forms: services__api__http__0 (Aspire 9.x/13.0) and API_HTTP (13.x).
                    for (var i = 0; i < project.Urls.Count; i++)
                    {
                        env[$"services__{project.Name}__http__{i}"] = project.Urls[i].ToString().TrimEnd('/');
                    }

                    env[$"{EnvironmentName(project.Name)}_HTTP"] = project.Urls[0].ToString().TrimEnd('/');
                    break;
            }
        }

        foreach (var (key, value) in Environment)
        {
            env[key] = value(context);
        }

        // ASPNETCORE_ENVIRONMENT comes from here, never from the AppHost; the app model's values win.
        var preferred = context.Configuration["DOTNET_LAUNCH_PROFILE"] ?? context.Configuration["AppHost:DefaultLaunchProfileName"];
        if (ProgramPaths.ProjectDirectory(Program) is { } directory
            && LaunchProfile.Select(Path.Combine(directory, "Properties", "launchSettings.json"), preferred) is { } profile)
        {
            env["DOTNET_LAUNCH_PROFILE"] = profile.Name;
            foreach (var (key, value) in profile.EnvironmentVariables)
            {
                env.TryAdd(key, value);
            }
        }

        return env;
    }

    /// <summary>What the AppHost's own environment must not pass on to a project (as DCP does not).</summary>
    internal static readonly string[] NotInherited =
        ["ASPNETCORE_URLS", "DOTNET_LAUNCH_PROFILE", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "ASPIRE_LOGLEVEL"];

    /// <summary><c>API_HTTP</c> from <c>api</c>: upper case, anything outside [A-Z0-9_] becomes '_'.</summary>
    internal static string EnvironmentName(string resource) =>
        string.Concat(resource.ToUpperInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_'));
}

/// <summary>Where the built programs are: recorded in the AppHost assembly at build time.</summary>
internal static class ProgramPaths
{
    public static string Find(string program) =>
        BuildMetadata.Find($"kiln-program:{program}")
        ?? throw new InvalidOperationException($"The AppHost was built without program '{program}'; add it to <KilnProgram> in AppHost.csproj.");

    /// <summary>bin/{Configuration}/{tfm}/X.dll → the project folder.</summary>
    public static string? ProjectDirectory(string program) =>
        Directory.GetParent(Find(program))?.Parent?.Parent?.Parent?.FullName;
}

internal static class ProjectResourceExtensions
{
    public static ResourceBuilder<ProjectResource> AddProject(this DistributedApplicationBuilder builder, string name, string program) =>
        builder.AddResource(new ProjectResource(name, program));

    public static ResourceBuilder<ProjectResource> WithReplicas(this ResourceBuilder<ProjectResource> builder, int replicas)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        builder.Resource.Replicas = replicas;
        return builder;
    }

    /// <summary>Hands the service a connection string or another service's endpoints.</summary>
    public static ResourceBuilder<ProjectResource> WithReference<T>(this ResourceBuilder<ProjectResource> builder, ResourceBuilder<T> reference)
        where T : Resource
    {
        builder.Resource.References.Add(reference.Resource);
        return builder;
    }

    public static ResourceBuilder<ProjectResource> WithEnvironment(this ResourceBuilder<ProjectResource> builder, string name,
        Func<RunContext, string> value)
    {
        builder.Resource.Environment[name] = value;
        return builder;
    }

    /// <summary>
    /// Hands the project another resource's endpoint as <paramref name="name"/> (<c>http://localhost:5123</c>), as Aspire's
    /// <c>WithEnvironment(name, endpointReference)</c>: a value only, so neither resource waits for the other.
    /// </summary>
    public static ResourceBuilder<ProjectResource> WithEnvironment(this ResourceBuilder<ProjectResource> builder, string name,
        EndpointReference endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        builder.Resource.Environment[name] = _ => endpoint.Url.ToString().TrimEnd('/');
        return builder;
    }

    /// <summary>A named endpoint of this project, to hand to another resource (<see cref="WithEnvironment(ResourceBuilder{ProjectResource}, string, EndpointReference)"/>).</summary>
    public static EndpointReference GetEndpoint(this ResourceBuilder<ProjectResource> builder, string endpointName) =>
        new(builder.Resource, endpointName);

    /// <summary>
    /// Hands the project every value of one section of the AppHost's own configuration (its command line, environment and
    /// appsettings.json), under the same keys: <c>--Kiln:RateLimits:Ingest:Burst=400</c> becomes <c>Kiln__RateLimits__Ingest__Burst=400</c>.
    /// </summary>
    public static ResourceBuilder<ProjectResource> WithEnvironment(this ResourceBuilder<ProjectResource> builder, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        foreach (var (key, value) in section.AsEnumerable())
        {
            if (value is not null)
            {
                builder.Resource.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = _ => value;
            }
        }

        return builder;
    }
}
