namespace Kiln.AppHost.Model;

/// <summary>
/// Waits for resources to reach a state or become healthy, as Aspire's <c>ResourceNotificationService</c>
/// does, with one difference its users ask for: every wait has a deadline
/// (<see cref="DefaultWaitTimeout"/> unless the caller's token ends sooner), and a failed wait names the
/// resource, its state and its last lines of output.
/// </summary>
internal sealed class ResourceNotificationService
{
    private static readonly TimeSpan HealthPollInterval = TimeSpan.FromMilliseconds(100);
    private readonly DistributedApplication _app;
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = NewSignal();

    internal ResourceNotificationService(DistributedApplication app)
    {
        _app = app;
        foreach (var resource in app.Resources)
        {
            resource.StateChanged += _ => Pulse();
        }
    }

    public TimeSpan DefaultWaitTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Returns once <paramref name="resourceName"/> is in <paramref name="targetState"/>.</summary>
    public Task WaitForResourceAsync(string resourceName, ResourceState targetState, CancellationToken cancellationToken = default) =>
        WaitAsync(resourceName, $"reach {targetState}", (resource, _) =>
            Task.FromResult(resource.State == targetState ? null : $"it is {resource.State}"), cancellationToken);

    /// <summary>
    /// Returns once <paramref name="resourceName"/> is running and healthy now (a project: every replica's
    /// <c>/health</c> answers 200). Fails at once when the resource failed to start.
    /// </summary>
    public Task WaitForResourceHealthyAsync(string resourceName, CancellationToken cancellationToken = default) =>
        WaitAsync(resourceName, "become healthy", async (resource, ct) => resource.State switch
        {
            ResourceState.Running => await resource.CheckHealthAsync(ct),
            ResourceState.FailedToStart => throw new InvalidOperationException(_app.Describe(resource.Name, "failed to start")),
            var state => $"it is {state}",
        }, cancellationToken);

    private async Task WaitAsync(string resourceName, string what, Func<Resource, CancellationToken, Task<string?>> problem,
        CancellationToken cancellationToken)
    {
        var resource = _app.Resource<Resource>(resourceName);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(DefaultWaitTimeout);
        var last = "not checked yet";
        try
        {
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    changed = _changed.Task;
                }

                if ((last = await problem(resource, deadline.Token) ?? "") is "")
                {
                    return;
                }

                // A state change wakes the wait at once; health can change without one, so it is polled too.
                await Task.WhenAny(changed, Task.Delay(HealthPollInterval, deadline.Token));
                deadline.Token.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(_app.Describe(resourceName, $"did not {what} within {DefaultWaitTimeout.TotalSeconds:0} s ({last})"));
        }
    }

    private void Pulse()
    {
        lock (_gate)
        {
            _changed.TrySetResult();
            _changed = NewSignal();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
