using System.Diagnostics;
using System.Text.Json;
using Kiln.AppHost.Model;

namespace Kiln.Tests.Distributed;

/// <summary>Children must not outlive the AppHost even when it cannot clean up (SIGKILL, a crash).</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class ApphostCrashTests
{
    [Fact]
    public async Task Killing_the_apphost_ends_every_resource_process()
    {
        var state = AppHostFactory.NewStateDirectory();
        var appHostDll = typeof(DistributedApplication).Assembly.Location;
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in new[] { "exec", appHostDll, "--state-dir", state })
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var appHost = Process.Start(startInfo)!;
        appHost.BeginOutputReadLine();
        appHost.BeginErrorReadLine();
        List<int> children;
        try
        {
            await Eventually(() => File.Exists(Path.Combine(state, "endpoints.json")) || appHost.HasExited, TimeSpan.FromMinutes(2));
            Assert.False(appHost.HasExited, "the AppHost exited before its resources were healthy");
            using var registry = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(state, "processes.json")));
            children = [.. registry.RootElement.EnumerateArray().Select(e => e.GetProperty("Pid").GetInt32())];
            Assert.True(children.Count >= 7, $"expected a process per resource replica, found {children.Count}");
        }
        finally
        {
            appHost.Kill(); // SIGKILL: the AppHost gets no chance to stop anything itself
            await appHost.WaitForExitAsync();
        }

        await Eventually(() => children.All(IsGone), TimeSpan.FromSeconds(10));
        Assert.All(children, pid => Assert.True(IsGone(pid), $"resource process {pid} outlived the killed AppHost"));
    }

    /// <summary>Gone, or a zombie: dead, waiting only for whoever inherited it to reap it.</summary>
    private static bool IsGone(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static async Task Eventually(Func<bool> condition, TimeSpan deadline)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition() && stopwatch.Elapsed < deadline)
        {
            await Task.Delay(50);
        }
    }
}
