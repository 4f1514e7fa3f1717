using Kiln.AppHost.Model;
using Kiln.AppHost.Testing;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>One running platform shared by the platform tests; stopped and its state removed afterwards.</summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(2);

    public string StateDirectory { get; private set; } = "";

    internal DistributedApplication App { get; private set; } = null!;

    internal ApiDriver Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var deadline = new CancellationTokenSource(StartDeadline);
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync(deadline.Token);
        StateDirectory = appHost.StateDirectory;
        App = await appHost.BuildAsync(deadline.Token);
        await App.StartAsync(deadline.Token);
        Api = new ApiDriver(App);
    }

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        await App.DisposeAsync();
    }

    /// <summary>The last lines of every resource's output, for a failing test's report.</summary>
    internal void WriteLogs(ITestOutputHelper output) => App.WriteLogs(output);
}

/// <summary>
/// Platform tests boot many processes; they run one at a time, and those that only use the platform
/// share one (<see cref="PlatformFixture"/>). Tests of the platform's own life boot their own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PlatformTestGroup : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform";
}
