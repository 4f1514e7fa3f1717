using Kiln.AppHost.Health;
using Kiln.AppHost.Model;

namespace Kiln.Tests.AppHost;

/// <summary>
/// Waiting for a resource, as a test host does: every wait ends by a deadline, and a failure says which
/// resource, in what state, and what it last wrote. The resources here are scripted stand-ins for a
/// server process; the orchestration around them is the real one.
/// </summary>
public sealed class ResourceNotificationTests : IAsyncDisposable
{
    private readonly OneResourceApp _host = new();

    [Fact]
    public async Task A_wait_for_health_that_times_out_names_the_resource_its_state_and_its_last_lines()
    {
        var app = await StartAsync(new ScriptedResource("probe", ["listening on 127.0.0.1:1", "warming the cache"], health: () => "cache still warming"));
        app.ResourceNotifications.DefaultWaitTimeout = TimeSpan.FromMilliseconds(300);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => app.ResourceNotifications.WaitForResourceHealthyAsync("probe"));

        Assert.StartsWith("probe: did not become healthy within 0 s (cache still warming); it is Running;", error.Message, StringComparison.Ordinal);
        Assert.Contains("probe| warming the cache", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wait_returns_as_soon_as_the_resource_is_healthy()
    {
        string? problem = "not yet";
        var app = await StartAsync(new ScriptedResource("probe", [], health: () => problem));
        var wait = app.ResourceNotifications.WaitForResourceHealthyAsync("probe");
        Assert.False(wait.IsCompleted);

        problem = null;

        await wait.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_wait_for_a_state_returns_when_the_resource_reaches_it()
    {
        var app = await StartAsync(new ScriptedResource("probe", [], health: () => null));
        await app.ResourceNotifications.WaitForResourceAsync("probe", ResourceState.Running).WaitAsync(TimeSpan.FromSeconds(10));

        var exited = app.ResourceNotifications.WaitForResourceAsync("probe", ResourceState.Exited);
        Assert.False(exited.IsCompleted);
        await app.StopResourceAsync("probe");

        await exited.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_resource_that_fails_to_start_is_reported_with_its_output()
    {
        var failing = new ScriptedResource("broken", ["config: port 0 refused"], health: () => null, failWith: "broken exited with code 3");

        var error = await Assert.ThrowsAsync<ResourceFailedException>(() => StartAsync(failing));

        Assert.Contains("broken exited with code 3; it is FailedToStart;", error.Message, StringComparison.Ordinal);
        Assert.Contains("broken| config: port 0 refused", error.Message, StringComparison.Ordinal);
        var waitError = await Assert.ThrowsAsync<InvalidOperationException>(() => _host.App!.ResourceNotifications.WaitForResourceHealthyAsync("broken"));
        Assert.Contains("broken: failed to start", waitError.Message, StringComparison.Ordinal);
    }

    private Task<DistributedApplication> StartAsync(ScriptedResource resource) => _host.StartAsync(resource);

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    private sealed class ScriptedResource(string name, string[] output, Func<string?> health, string? failWith = null) : Resource(name)
    {
        public override string Type => "scripted";

        internal override Task StartAsync(RunContext context, CancellationToken cancellationToken)
        {
            foreach (var line in output)
            {
                context.LogFor(Name).Write(line);
            }

            return failWith is null ? Task.CompletedTask : throw new ResourceFailedException(Name, failWith);
        }

        internal override Task StopAsync() => Task.CompletedTask;

        internal override object? DescribeEndpoint() => null;

        internal override Task<string?> CheckHealthAsync(CancellationToken cancellationToken) => Task.FromResult(health());
    }
}
