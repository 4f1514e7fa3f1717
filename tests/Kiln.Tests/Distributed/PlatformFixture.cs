using Kiln.AppHost.Model;
using Kiln.AppHost.Testing;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>One running platform shared by the platform tests; stopped and its state removed afterwards.</summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(2);
    private readonly string[] _args;

    public PlatformFixture()
        : this([])
    {
    }

    /// <param name="args">The AppHost's command line, e.g. <c>--Kiln:RateLimits:Ingest:Burst=5</c>.</param>
    internal PlatformFixture(string[] args)
    {
        _args = args;
    }

    public string StateDirectory { get; private set; } = "";

    internal DistributedApplication App { get; private set; } = null!;

    internal ApiDriver Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var deadline = new CancellationTokenSource(StartDeadline);
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync(_args, deadline.Token);
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
/// A platform of one test class's own, for tests that kill, freeze or load its services: the shared one
/// (<see cref="PlatformFixture"/>, the collection's) must not be disturbed. Its own type, so that xunit
/// does not hand the class the collection's instance.
/// </summary>
public sealed class OwnPlatformFixture : IAsyncLifetime
{
    private readonly PlatformFixture _platform = new();

    public string StateDirectory => _platform.StateDirectory;

    internal DistributedApplication App => _platform.App;

    internal ApiDriver Api => _platform.Api;

    public Task InitializeAsync() => _platform.InitializeAsync();

    public Task DisposeAsync() => _platform.DisposeAsync();
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
