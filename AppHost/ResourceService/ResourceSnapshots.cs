using Google.Protobuf.WellKnownTypes;
using Kiln.AppHost.Health;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using V1 = Kiln.ResourceService.V1;

namespace Kiln.AppHost.ResourceService;

/// <summary>
/// The resources as the resource service sends them: one per process (each replica of a project is its own, named as
/// its console lines are, <c>api-0</c>), built from the app model as it is now.
/// </summary>
internal static class ResourceSnapshots
{
    public static List<V1.Resource> Build(DistributedApplication app, ResourceHealthMonitor health, IReadOnlyCollection<string> secrets)
    {
        var resources = new List<V1.Resource>();
        // The dashboard watches this service and does not list itself, as Aspire's dashboard does not.
        foreach (var resource in app.Resources.Where(r => r is not Dashboard.DashboardResource))
        {
            if (resource is ProjectResource project)
            {
                for (var i = 0; i < project.Replicas; i++)
                {
                    resources.Add(Replica(project, i, health, secrets));
                }
            }
            else
            {
                resources.Add(BackingService(resource, health));
            }
        }

        return resources;
    }

    /// <summary>The resource-service names of a model resource: its replicas' for a project, else its own.</summary>
    public static IEnumerable<string> NamesOf(Resource resource) =>
        resource is ProjectResource project ? Enumerable.Range(0, project.Replicas).Select(i => ReplicaName(project, i)) : [resource.Name];

    /// <summary>As <see cref="ProjectReplica.DisplayName"/>, also before the replicas exist.</summary>
    public static string ReplicaName(ProjectResource project, int index) => project.Replicas > 1 ? $"{project.Name}-{index}" : project.Name;

    private static V1.Resource Replica(ProjectResource project, int index, ResourceHealthMonitor health, IReadOnlyCollection<string> secrets)
    {
        var name = ReplicaName(project, index);
        // Ports are allocated when the project starts (or when another resource is handed its endpoint): until then, no replica.
        var replica = index < project.RunningReplicas.Count ? project.RunningReplicas[index] : null;
        var restarting = project.State == ResourceState.Running && replica?.Restarting == true;
        var state = restarting ? ResourceState.Starting : project.State;
        var results = health.ResultsFor(name);
        var snapshot = New(name, project.Name, "Project", replica?.InstanceId ?? name, project, state, restarting, results);
        if (replica is not null)
        {
            snapshot.Urls.Add(new V1.Url { EndpointName = "http", FullUrl = replica.Url.ToString().TrimEnd('/') });
            if (state is ResourceState.Running or ResourceState.Starting && replica.Pid is { } pid)
            {
                snapshot.ProcessId = pid;
            }

            snapshot.Restarts = replica.Restarts;
            if (replica.StartedAt is { } started)
            {
                snapshot.StartedAt = Timestamp.FromDateTimeOffset(started);
            }

            foreach (var (key, value) in (replica.LaunchEnvironment ?? new Dictionary<string, string>()).OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                snapshot.Environment.Add(new V1.EnvironmentVariable { Name = key, Value = value, IsSecret = EnvironmentSecrets.IsSecret(key, value, secrets) });
            }

            snapshot.Properties.Add(Property("service.instance.id", "Service instance id", replica.InstanceId));
        }

        foreach (var reference in project.References)
        {
            snapshot.Relationships.Add(new V1.ResourceRelationship { ResourceName = reference.Name, Type = "Reference" });
        }

        AddWaits(snapshot, project);
        var scope = project.Replicas > 1 ? $" (all {project.Replicas} replicas of {project.Name})" : "";
        AddCommands(snapshot, project, scope);
        snapshot.Properties.Add(Property("project.assembly", "Assembly", project.Program));
        snapshot.Properties.Add(Property("replica.index", "Replica", $"{index + 1} of {project.Replicas}"));
        return snapshot;
    }

    private static V1.Resource BackingService(Resource resource, ResourceHealthMonitor health)
    {
        var type = resource is PostgresDatabaseResource ? "PostgresDatabase" : "Executable";
        var restarting = resource.State == ResourceState.Starting && resource.RecoveringFromCrash;
        var snapshot = New(resource.Name, resource.Name, type, resource.Name, resource, resource.State, restarting, health.ResultsFor(resource.Name));
        foreach (var (endpoint, url) in resource.Endpoints)
        {
            snapshot.Urls.Add(new V1.Url { EndpointName = endpoint, FullUrl = url.ToString().TrimEnd('/'), IsInternal = endpoint == "control" });
        }

        if (resource.State is ResourceState.Running or ResourceState.Starting && resource.ProcessId is { } pid)
        {
            snapshot.ProcessId = pid;
        }

        snapshot.Restarts = resource.Restarts;
        if (resource.StartedAt is { } started)
        {
            snapshot.StartedAt = Timestamp.FromDateTimeOffset(started);
        }

        if (resource is PostgresDatabaseResource database)
        {
            snapshot.Relationships.Add(new V1.ResourceRelationship { ResourceName = database.Server.Name, Type = "Parent" });
        }

        AddWaits(snapshot, resource);
        AddCommands(snapshot, resource, "");
        return snapshot;
    }

    private static V1.Resource New(string name, string displayName, string type, string uid, Resource model, ResourceState state, bool restarting,
        IReadOnlyList<HealthResult> results)
    {
        // Health is a running process's: the monitor forgets a stopped one's results a moment after its state changes.
        results = state == ResourceState.Running ? results : [];
        var overall = ResourceHealthMonitor.Overall(results);
        var waitingFor = model.WaitsFor.Where(d => d.State != ResourceState.Running).Select(d => d.Name).ToList();
        var (text, style) = DescribeState(state, restarting, overall, waitingFor);
        var snapshot = new V1.Resource
        {
            Name = name,
            DisplayName = displayName,
            ResourceType = type,
            Uid = uid,
            State = state.ToString(),
            StateText = text,
            StateStyle = style,
            HealthStatus = ToProto(overall),
        };
        foreach (var result in results)
        {
            snapshot.HealthReports.Add(new V1.HealthReport
            {
                Key = result.Key,
                Status = ToProto(result.Status),
                Description = result.Description,
                LastRunAt = Timestamp.FromDateTimeOffset(result.LastRunAt),
            });
        }

        if (model.StoppedAt is { } stopped)
        {
            snapshot.StoppedAt = Timestamp.FromDateTimeOffset(stopped);
        }

        snapshot.Properties.Add(Property("kiln.type", "Kind", model.Type));
        return snapshot;
    }

    /// <summary>
    /// A state in words and its style, as the dashboard shows state and health together: "Waiting for pg, cache",
    /// "Running (Unhealthy)", "Starting (restarting after a crash)".
    /// </summary>
    internal static (string Text, string Style) DescribeState(ResourceState state, bool restarting, HealthStatus? health, IReadOnlyList<string> waitingFor) =>
        state switch
        {
            ResourceState.Waiting => (waitingFor.Count > 0 ? $"Waiting for {string.Join(", ", waitingFor)}" : "Waiting", "info"),
            ResourceState.Starting => (restarting ? "Starting (restarting after a crash)" : "Starting", restarting ? "warning" : "info"),
            ResourceState.Running => health switch
            {
                HealthStatus.Healthy => ("Running", "success"),
                HealthStatus.Degraded => ("Running (Degraded)", "warning"),
                HealthStatus.Unhealthy => ("Running (Unhealthy)", "warning"),
                _ => ("Running (health not checked yet)", "info"),
            },
            ResourceState.FailedToStart => ("Failed to start", "error"),
            ResourceState.Exited => ("Exited (stopped on request)", "warning"),
            ResourceState.Finished => ("Finished", ""),
            _ => ("Not started", ""),
        };

    private static void AddWaits(V1.Resource snapshot, Resource resource)
    {
        foreach (var dependency in resource.WaitsFor)
        {
            if (resource is not PostgresDatabaseResource database || database.Server != dependency)
            {
                snapshot.Relationships.Add(new V1.ResourceRelationship { ResourceName = dependency.Name, Type = "WaitFor" });
            }
        }
    }

    private static void AddCommands(V1.Resource snapshot, Resource resource, string scope)
    {
        if (!resource.CanStopAndStart)
        {
            return;
        }

        var running = resource.State == ResourceState.Running;
        var stopped = resource.State is ResourceState.Exited or ResourceState.FailedToStart;
        snapshot.Commands.Add(Command(ResourceCommands.Start, "Start", $"Start {resource.Name}{scope} again, on the same addresses", stopped));
        snapshot.Commands.Add(Command(ResourceCommands.Stop, "Stop", $"Stop {resource.Name}{scope}; what depends on it keeps running", running));
        snapshot.Commands.Add(Command(ResourceCommands.Restart, "Restart", $"Stop {resource.Name}{scope}, then start it again", running));
    }

    private static V1.ResourceCommand Command(string name, string displayName, string description, bool enabled) => new()
    {
        Name = name,
        DisplayName = displayName,
        DisplayDescription = description,
        State = enabled ? V1.ResourceCommandState.Enabled : V1.ResourceCommandState.Disabled,
    };

    private static V1.ResourceProperty Property(string name, string displayName, string value) =>
        new() { Name = name, DisplayName = displayName, Value = value };

    private static V1.HealthStatus ToProto(HealthStatus? status) => status switch
    {
        HealthStatus.Healthy => V1.HealthStatus.Healthy,
        HealthStatus.Degraded => V1.HealthStatus.Degraded,
        HealthStatus.Unhealthy => V1.HealthStatus.Unhealthy,
        _ => V1.HealthStatus.Unknown,
    };
}
