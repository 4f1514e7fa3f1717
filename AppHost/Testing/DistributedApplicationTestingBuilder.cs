using System.Reflection;
using Kiln.AppHost.Model;

namespace Kiln.AppHost.Testing;

/// <summary>
/// Runs the real AppHost <c>Program</c> and takes the application it declares instead of letting it run,
/// as Aspire.Hosting.Testing does, so a test starts, uses and stops exactly that system:
/// <code>
/// var appHost = await DistributedApplicationTestingBuilder.CreateAsync(ct);
/// await using var app = await appHost.BuildAsync(ct);
/// await app.StartAsync(ct);
/// await app.ResourceNotifications.WaitForResourceHealthyAsync("worker", ct);
/// using var http = app.CreateHttpClient("api");
/// </code>
/// Each application gets its own state folder (fresh ports, data and secrets), removed when it is
/// disposed, unless the test names one with <c>--state-dir</c> to keep it across starts. Resource
/// output is kept per resource instead of echoed, and quoted by every failure.
/// </summary>
internal sealed class DistributedApplicationTestingBuilder
{
    // The AppHost's entry point hands its application to a static hook: one capture at a time.
    private static readonly SemaphoreSlim Capture = new(1, 1);

    private readonly DistributedApplication _application;
    private readonly bool _ownsStateDirectory;

    private DistributedApplicationTestingBuilder(DistributedApplication application, string stateDirectory, bool ownsStateDirectory)
    {
        _application = application;
        StateDirectory = stateDirectory;
        _ownsStateDirectory = ownsStateDirectory;
    }

    /// <summary>Where this application keeps its data, secrets, endpoints.json and processes.json.</summary>
    public string StateDirectory { get; }

    public static Task<DistributedApplicationTestingBuilder> CreateAsync(CancellationToken cancellationToken = default) =>
        CreateAsync([], cancellationToken);

    /// <param name="args">
    /// The AppHost's command line (<c>--fresh</c>, <c>--state-dir DIR</c>, <c>--mode container</c>, <c>--Key=value</c> settings).
    /// Without <c>--mode</c> the backing resources run in local mode, whatever the machine has.
    /// </param>
    public static async Task<DistributedApplicationTestingBuilder> CreateAsync(string[] args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var stateIndex = Array.IndexOf(args, "--state-dir");
        var ownsState = stateIndex < 0;
        var state = ownsState ? NewStateDirectory() : args[stateIndex + 1];
        // Tests declare their own sensors and readings: the demo plant's would only get in their way.
        string[] arguments = ownsState ? ["--state-dir", state, DistributedApplicationBuilder.NoSimulator, .. args] : [DistributedApplicationBuilder.NoSimulator, .. args];
        // Local mode unless the test asks for another (--mode container): installing podman on a machine must not move
        // every platform test into containers (slower, and the fault tests end the local servers' processes themselves).
        if (!args.Contains("--mode") && !args.Any(a => a.StartsWith("--mode=", StringComparison.Ordinal) || a.StartsWith("--Kiln:Mode=", StringComparison.Ordinal)))
        {
            arguments = [.. arguments, "--mode", "local"];
        }

        var entryPoint = typeof(DistributedApplication).Assembly.EntryPoint
            ?? throw new InvalidOperationException("The AppHost assembly has no entry point.");
        DistributedApplication? application = null;
        await Capture.WaitAsync(cancellationToken);
        try
        {
            DistributedApplication.TestingHook = app => application = app;
            entryPoint.Invoke(null, [arguments]);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }
        finally
        {
            DistributedApplication.TestingHook = null;
            Capture.Release();
        }

        application = application ?? throw new InvalidOperationException("The AppHost's Program did not build an application.");
        application.EchoOutput = false;
        return new DistributedApplicationTestingBuilder(application, state, ownsState);
    }

    public Task<DistributedApplication> BuildAsync(CancellationToken cancellationToken = default)
    {
        if (_ownsStateDirectory)
        {
            _application.AfterDispose = () => RemoveStateDirectory(StateDirectory);
        }

        return Task.FromResult(_application);
    }

    /// <summary>
    /// A folder under the temporary directory that the resources' own users can reach: PostgreSQL runs
    /// as 'postgres', so neither the folder nor its parent may be private.
    /// </summary>
    public static string NewStateDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "kiln-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        const UnixFileMode Traversable = (UnixFileMode)0b111_101_101;
        File.SetUnixFileMode(Path.GetDirectoryName(path)!, Traversable);
        File.SetUnixFileMode(path, Traversable);
        return path;
    }

    /// <summary>
    /// Removes a state folder, PostgreSQL's files included (tests run as root), and when it ran containers, their data
    /// volumes (which live in the engine, not in the folder).
    /// </summary>
    public static void RemoveStateDirectory(string path)
    {
        var marker = Path.Combine(path, "containers", "engine");
        if (File.Exists(marker))
        {
            var state = new Provisioning.StateDirectory(path);
            if (Containers.ContainerEngine.Find(File.ReadAllText(marker).Trim(), state).Engine is { } engine)
            {
                engine.RemoveContainersOfStateAsync(CancellationToken.None).GetAwaiter().GetResult();
                engine.RemoveVolumesOfStateAsync(CancellationToken.None).GetAwaiter().GetResult();
            }
        }

        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
