using System.Diagnostics;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Testing;

namespace Kiln.Tests.Distributed;

/// <summary>Children must not outlive the AppHost even when it cannot clean up (SIGKILL, a crash).</summary>
[Collection(PlatformTestGroup.Name)]
public sealed class ApphostCrashTests
{
    [Fact]
    public async Task Killing_the_apphost_ends_every_resource_process()
    {
        var state = DistributedApplicationTestingBuilder.NewStateDirectory();
        var appHostDll = typeof(DistributedApplication).Assembly.Location;
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in new[] { "exec", appHostDll, "--state-dir", state, "--mode", "local" })
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var appHost = Process.Start(startInfo)!;
        appHost.BeginOutputReadLine();
        appHost.BeginErrorReadLine();
        List<int> children;
        try
        {
            await Eventually.TrueAsync(() => File.Exists(Path.Combine(state, "endpoints.json")) || appHost.HasExited, TimeSpan.FromMinutes(2),
                "every resource to be healthy");
            Assert.False(appHost.HasExited, "the AppHost exited before its resources were healthy");
            children = TestApplicationOutput.RecordedProcesses(state);
            Assert.True(children.Count >= 7, $"expected a process per resource replica, found {children.Count}");
        }
        finally
        {
            appHost.Kill(); // SIGKILL: the AppHost gets no chance to stop anything itself
            await appHost.WaitForExitAsync();
        }

        await Eventually.TrueAsync(() => !children.Any(ProcessRegistry.IsRunning), TimeSpan.FromSeconds(10), "every resource process to end");
        Assert.All(children, pid => Assert.False(ProcessRegistry.IsRunning(pid), $"resource process {pid} outlived the killed AppHost"));
        DistributedApplicationTestingBuilder.RemoveStateDirectory(state);
    }
}
