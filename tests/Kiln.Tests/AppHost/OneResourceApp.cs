using Kiln.AppHost.Model;
using Kiln.AppHost.Testing;

namespace Kiln.Tests.AppHost;

/// <summary>
/// An AppHost running one resource of a test's own making on a state folder of its own: no platform, no dashboard, so
/// what the AppHost does with any resource is tested in a second, not in a platform's boot.
/// </summary>
internal sealed class OneResourceApp : IAsyncDisposable
{
    private readonly string _state = DistributedApplicationTestingBuilder.NewStateDirectory();

    /// <summary>The app once <see cref="StartAsync"/> was called, even when its start failed.</summary>
    public DistributedApplication? App { get; private set; }

    public async Task<DistributedApplication> StartAsync(Resource resource)
    {
        // Local mode: the fault tests end the server's own process (auto would pick a container wherever an engine works).
        var builder = DistributedApplicationBuilder.CreateBuilder(["--state-dir", _state, "--AppHost:DisableDashboard=true", "--mode", "local"]);
        builder.AddResource(resource);
        App = builder.Build();
        App.EchoOutput = false;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await App.StartAsync(deadline.Token);
        return App;
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        DistributedApplicationTestingBuilder.RemoveStateDirectory(_state);
    }
}
