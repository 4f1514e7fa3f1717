using System.Reflection;
using Kiln.AppHost.Model;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// Runs the real AppHost <c>Program</c> in-process and takes the application it builds instead of
/// letting it run, the way Aspire.Hosting.Testing does: the test then starts, uses and stops exactly
/// the system the AppHost declares, in an isolated state folder with fresh random ports.
/// </summary>
internal static class AppHostFactory
{
    private static readonly Lock Gate = new();

    public static DistributedApplication Create(string stateDirectory, params string[] arguments)
    {
        var entryPoint = typeof(DistributedApplication).Assembly.EntryPoint
            ?? throw new InvalidOperationException("The AppHost assembly has no entry point.");
        DistributedApplication? application = null;
        lock (Gate)
        {
            DistributedApplication.TestingHook = app => application = app;
            try
            {
                entryPoint.Invoke(null, [new[] { "--state-dir", stateDirectory }.Concat(arguments).ToArray()]);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                throw ex.InnerException;
            }
            finally
            {
                DistributedApplication.TestingHook = null;
            }
        }

        application = application ?? throw new InvalidOperationException("The AppHost did not build an application.");
        application.EchoOutput = false;
        return application;
    }

    /// <summary>A state folder the resources' own users can reach (PostgreSQL runs as 'postgres').</summary>
    public static string NewStateDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "kiln-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(Path.GetDirectoryName(path)!, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    /// <summary>The resource processes the AppHost recorded in the state folder's processes.json.</summary>
    public static List<int> RecordedProcesses(string stateDirectory)
    {
        using var registry = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(stateDirectory, "processes.json")));
        return [.. registry.RootElement.EnumerateArray().Select(e => e.GetProperty("Pid").GetInt32())];
    }

    /// <summary>Removes a test's state folder (PostgreSQL's files included; the tests run as root).</summary>
    public static void Remove(string stateDirectory)
    {
        if (Directory.Exists(stateDirectory))
        {
            Directory.Delete(stateDirectory, recursive: true);
        }
    }

    public static void WriteLogs(DistributedApplication app, ITestOutputHelper output)
    {
        try
        {
            foreach (var (name, log) in app.Context.Logs)
            {
                foreach (var line in log.Snapshot().TakeLast(40))
                {
                    output.WriteLine($"{name,-10}| {line}");
                }
            }
        }
        catch (InvalidOperationException)
        {
            output.WriteLine("(the application never started; no resource output)");
        }
    }
}
