using Kiln.AppHost.Launching;
using Kiln.AppHost.Provisioning;

namespace Kiln.AppHost.Model;

/// <summary>Lifecycle states, named as the Aspire dashboard names them.</summary>
internal enum ResourceState
{
    NotStarted,
    Waiting,
    Starting,
    Running,
    FailedToStart,
    Exited,
    Finished,
}

/// <summary>How a backing service is run (SPEC.md: container, local or existing).</summary>
internal enum ResourceMode
{
    Local,
    Container,
    Existing,
}

/// <summary>
/// Something the AppHost runs or points at. A kind of resource is one file: the resource, its
/// builder extension and how it starts, reports health and stops.
/// </summary>
internal abstract class Resource(string name)
{
    public string Name { get; } = name;

    /// <summary>The kind shown to people: project, postgres, redis, kafka…</summary>
    public abstract string Type { get; }

    public ResourceState State
    {
        get;
        internal set
        {
            field = value;
            if (value is ResourceState.Exited or ResourceState.Finished or ResourceState.FailedToStart)
            {
                StoppedAt = DateTimeOffset.UtcNow;
            }

            if (value != ResourceState.Starting)
            {
                RecoveringFromCrash = false;
            }

            StateChanged?.Invoke(this);
        }
    } = ResourceState.NotStarted;

    /// <summary>Raised on every state change, for <see cref="ResourceNotificationService"/>.</summary>
    internal event Action<Resource>? StateChanged;

    /// <summary>
    /// Raised when something shown about the resource changed without a state change (a replica of a project crashed
    /// or came back, with a new process id): for the resource service, which then sends the resource again.
    /// </summary>
    internal event Action<Resource>? Changed;

    internal void OnChanged() => Changed?.Invoke(this);

    /// <summary>Starting because its process crashed and is being restarted, not because it was asked to start.</summary>
    internal bool RecoveringFromCrash { get; private set; }

    /// <summary>When it last stopped (on request, with the AppHost, or failing to start).</summary>
    public DateTimeOffset? StoppedAt { get; private set; }

    /// <summary>Its process while one runs (a backing service's server); a project's are its replicas'.</summary>
    internal int? ProcessId => _supervised?.Pid;

    /// <summary>Restarts after crashes, over every start of this resource in this AppHost run.</summary>
    internal int Restarts => _restartsBefore + (_supervised?.Restarts ?? 0);

    /// <summary>When its current process was launched.</summary>
    internal DateTimeOffset? StartedAt => _supervised?.StartedAt;

    /// <summary>Whether it can be stopped and started on request (not a database, which lives and dies with its server).</summary>
    internal virtual bool CanStopAndStart => true;

    private SupervisedProcess? _supervised;
    private int _restartsBefore;

    /// <summary>Resources that must be healthy before this one starts.</summary>
    public IList<Resource> WaitsFor { get; } = [];

    internal virtual IEnumerable<Prerequisite> Prerequisites(RunContext context) => [];

    /// <summary>Starts the resource and returns once it is healthy.</summary>
    internal abstract Task StartAsync(RunContext context, CancellationToken cancellationToken);

    internal abstract Task StopAsync();

    /// <summary>What a resource holds beyond its processes (a forwarder's port), released when the AppHost ends.</summary>
    internal virtual ValueTask ReleaseAsync() => ValueTask.CompletedTask;

    /// <summary>This resource's entry in <c>endpoints.json</c> (no secrets), or null for none.</summary>
    internal abstract object? DescribeEndpoint();

    /// <summary>
    /// Its named endpoints once allocated, the primary one first, named as Aspire's endpoint annotations are
    /// (a project's <c>http</c>; a backing service's <c>tcp</c>): what <c>GetEndpoint</c> hands tests.
    /// </summary>
    internal virtual IReadOnlyList<(string Name, Uri Url)> Endpoints => [];

    /// <summary>
    /// The address of a named endpoint, allocated before the resource starts if need be, so another resource can be handed
    /// it (<see cref="EndpointReference"/>) without waiting for this one, as Aspire allocates endpoints before it starts anything.
    /// </summary>
    internal virtual Uri AllocateEndpoint(string endpointName) =>
        throw new NotSupportedException($"{Name} ({Type}) cannot hand out its '{endpointName}' endpoint before it starts.");

    /// <summary>
    /// Asks a running resource whether it is healthy now: null when it is, else the problem. A backing
    /// service is healthy once it started (its start waits for its readiness probe); a project overrides this.
    /// </summary>
    internal virtual Task<string?> CheckHealthAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    /// <summary>
    /// The supervised process of a backing service: after a crash it shows as Starting (as Aspire shows a
    /// restarting resource) until the restarted process is ready, then Running again.
    /// </summary>
    internal SupervisedProcess Supervise(RunContext context, Func<ResourceLog, Task<ChildProcess>> launch,
        Func<ChildProcess, CancellationToken, Task> waitUntilReady, TimeSpan stopGrace, Action? crashed = null, Action? recovered = null)
    {
        _restartsBefore = Restarts;
        return _supervised = new(Name, context.LogFor(Name), context, new SupervisedProcess.Lifecycle(launch, waitUntilReady, stopGrace)
        {
            Crashed = _ =>
            {
                RecoveringFromCrash = true;
                State = ResourceState.Starting;
                crashed?.Invoke();
            },
            Recovered = () =>
            {
                State = ResourceState.Running;
                recovered?.Invoke();
            },
        });
    }
}

/// <summary>A resource that services reach through <c>ConnectionStrings__{Name}</c>.</summary>
internal interface IResourceWithConnectionString
{
    string Name { get; }

    /// <summary>Available once the resource is running.</summary>
    string ConnectionString { get; }
}
