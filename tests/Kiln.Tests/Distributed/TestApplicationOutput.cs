using Kiln.AppHost.Model;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

internal static class TestApplicationOutput
{
    /// <summary>The last lines of every resource's output, for a failing test's report.</summary>
    public static void WriteLogs(this DistributedApplication app, ITestOutputHelper output)
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

    /// <summary>The resource processes the AppHost recorded in the state folder's processes.json.</summary>
    public static List<int> RecordedProcesses(string stateDirectory)
    {
        using var registry = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(stateDirectory, "processes.json")));
        return [.. registry.RootElement.EnumerateArray().Select(e => e.GetProperty("Pid").GetInt32())];
    }
}
