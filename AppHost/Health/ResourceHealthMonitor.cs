using System.Text.Json;
using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.AppHost.Health;

/// <summary>One health check's last result.</summary>
internal sealed record HealthResult(string Key, HealthStatus Status, string Description, DateTimeOffset LastRunAt);

/// <summary>
/// Keeps every running process's health current and says when it changes, as Aspire's health check service does for its
/// dashboard: each project replica's <c>/health</c> (one result per check it reports there) and each backing service's
/// readiness. Checks start as soon as a resource is Running, repeat every 5 s while healthy (Aspire: 30 s; a dashboard
/// should show a failing service sooner) and, while not, after 1 s × the number of failures in a row, at most 5 s.
/// A resource that is not running has no results: its health is unknown.
/// </summary>
internal sealed class ResourceHealthMonitor
{
    private static readonly TimeSpan HealthyInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FailingStep = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly DistributedApplication _app;
    private readonly Dictionary<string, Subject> _subjects = new(StringComparer.Ordinal);
    private readonly Lock _wakeGate = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal ResourceHealthMonitor(DistributedApplication app)
    {
        _app = app;
        foreach (var resource in app.Resources)
        {
            resource.StateChanged += _ => Wake();
            resource.Changed += _ => Wake();
        }
    }

    /// <summary>Raised (on the monitor's own thread) when any result's status or description changed.</summary>
    public event Action? Changed;

    /// <summary>
    /// The latest results for a backing service (by name) or a project replica (by its display name, <c>api-0</c>);
    /// empty when it is not running or not checked yet.
    /// </summary>
    public IReadOnlyList<HealthResult> ResultsFor(string name)
    {
        lock (_subjects)
        {
            return _subjects.TryGetValue(name, out var subject) ? subject.Results : [];
        }
    }

    /// <summary>The worst of the results, or null when there are none.</summary>
    public static HealthStatus? Overall(IReadOnlyList<HealthResult> results) =>
        results.Count == 0 ? null : results.Min(r => r.Status);

    /// <summary>Checks until <paramref name="stopping"/> ends.</summary>
    public Task RunAsync(CancellationToken stopping) => Task.Run(() => LoopAsync(stopping), CancellationToken.None);

    private async Task LoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                StartDueChecks(stopping);
            }
            catch (Exception ex)
            {
                // One bad pass (a project allocating its replicas under us) must not end health checking for the whole run.
                _app.Context.SayError($"health checks: {ex.Message}");
            }

            Task woken;
            lock (_wakeGate)
            {
                woken = _wake.Task;
            }

            // A state change wakes the loop at once (a resource that just became Running is checked now); else the next tick.
            await Task.WhenAny(woken, Task.Delay(Tick, stopping));
        }
    }

    /// <summary>Starts the check of every running process that is due; forgets the results of those not running.</summary>
    private void StartDueChecks(CancellationToken stopping)
    {
        var changed = false;
        foreach (var (name, check) in Targets())
        {
            Subject subject;
            lock (_subjects)
            {
                if (!_subjects.TryGetValue(name, out subject!))
                {
                    _subjects[name] = subject = new Subject();
                }

                if (check is null)
                {
                    // Not running: nothing to say about its health, and a check as soon as it runs again.
                    changed |= subject.Results.Count > 0;
                    subject.Results = [];
                    subject.Failures = 0;
                    subject.NextDue = DateTimeOffset.MinValue;
                    subject.Generation++;
                    continue;
                }

                if (subject.InFlight || DateTimeOffset.UtcNow < subject.NextDue)
                {
                    continue;
                }

                subject.InFlight = true;
            }

            _ = RunCheckAsync(subject, check, stopping);
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    private async Task RunCheckAsync(Subject subject, Func<CancellationToken, Task<IReadOnlyList<HealthResult>>> check, CancellationToken stopping)
    {
        int generation;
        lock (_subjects)
        {
            generation = subject.Generation;
        }

        IReadOnlyList<HealthResult> results;
        try
        {
            results = await check(stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            results = [new HealthResult("ready", HealthStatus.Unhealthy, ex.Message, DateTimeOffset.UtcNow)];
        }

        bool changed;
        lock (_subjects)
        {
            subject.InFlight = false;
            if (generation != subject.Generation)
            {
                // It stopped while this check ran: its health is unknown now, whatever the check found.
                return;
            }

            changed = !SameOutcome(subject.Results, results);
            subject.Results = results;
            subject.Failures = Overall(results) == HealthStatus.Healthy ? 0 : subject.Failures + 1;
            subject.NextDue = DateTimeOffset.UtcNow + (subject.Failures == 0 ? HealthyInterval : FailingStep * Math.Min(5, subject.Failures));
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    /// <summary>Every process to watch, with its check while it runs (null while it does not).</summary>
    private IEnumerable<(string Name, Func<CancellationToken, Task<IReadOnlyList<HealthResult>>>? Check)> Targets()
    {
        foreach (var resource in _app.Resources)
        {
            if (resource is ProjectResource project)
            {
                foreach (var replica in project.RunningReplicas.ToArray())
                {
                    var running = project.State == ResourceState.Running && !replica.Restarting;
                    yield return (replica.DisplayName, running ? ct => CheckHttpAsync(new Uri(replica.Url, "/health"), ct) : null);
                }
            }
            else
            {
                yield return (resource.Name, resource.State == ResourceState.Running ? ct => CheckResourceAsync(resource, ct) : null);
            }
        }
    }

    private static async Task<IReadOnlyList<HealthResult>> CheckResourceAsync(Resource resource, CancellationToken cancellationToken)
    {
        var problem = await resource.CheckHealthAsync(cancellationToken);
        return [new HealthResult("ready", problem is null ? HealthStatus.Healthy : HealthStatus.Unhealthy,
            problem ?? "running; it passed its readiness probe when it started", DateTimeOffset.UtcNow)];
    }

    private static async Task<IReadOnlyList<HealthResult>> CheckHttpAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(url, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return ParseHealthAnswer((int)response.StatusCode, body, DateTimeOffset.UtcNow);
        }
        catch (HttpRequestException ex)
        {
            return [new HealthResult("/health", HealthStatus.Unhealthy, ex.Message, DateTimeOffset.UtcNow)];
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return [new HealthResult("/health", HealthStatus.Unhealthy, $"{url} did not answer within {Http.Timeout.TotalSeconds:0} s", DateTimeOffset.UtcNow)];
        }
    }

    /// <summary>
    /// A service's <c>/health</c> answer as ServiceDefaults writes it (<c>{"status","checks":{name:{"status","description"}}}</c>):
    /// one result per check. Any other answer is one result, healthy for a 2xx.
    /// </summary>
    internal static IReadOnlyList<HealthResult> ParseHealthAnswer(int statusCode, string body, DateTimeOffset at)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("checks", out var checks) && checks.ValueKind == JsonValueKind.Object)
            {
                var results = new List<HealthResult>();
                foreach (var check in checks.EnumerateObject())
                {
                    var status = check.Value.TryGetProperty("status", out var s) && Enum.TryParse<HealthStatus>(s.GetString(), out var parsed)
                        ? parsed
                        : HealthStatus.Unhealthy;
                    var description = check.Value.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "";
                    results.Add(new HealthResult(check.Name, status, description, at));
                }

                if (results.Count > 0)
                {
                    return results;
                }
            }
        }
        catch (JsonException)
        {
            // Not ServiceDefaults' answer: judged by its status code below.
        }

        var healthy = statusCode is >= 200 and < 300;
        return [new HealthResult("/health", healthy ? HealthStatus.Healthy : HealthStatus.Unhealthy,
            healthy ? "" : $"/health answered {statusCode}: {(body.Length > 200 ? body[..200] : body)}", at)];
    }

    private static bool SameOutcome(IReadOnlyList<HealthResult> before, IReadOnlyList<HealthResult> after) =>
        before.Count == after.Count
        && before.Zip(after).All(p => p.First.Key == p.Second.Key && p.First.Status == p.Second.Status && p.First.Description == p.Second.Description);

    private void Wake()
    {
        lock (_wakeGate)
        {
            _wake.TrySetResult();
            _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private sealed class Subject
    {
        public IReadOnlyList<HealthResult> Results { get; set; } = [];
        public int Failures { get; set; }
        public DateTimeOffset NextDue { get; set; } = DateTimeOffset.MinValue;
        public bool InFlight { get; set; }

        /// <summary>Counts the times it stopped running: a check begun before a stop must not report after it.</summary>
        public int Generation { get; set; }
    }
}
