using System.Diagnostics;
using System.Text.Json;
using Kiln.AppHost.Launching;

namespace Kiln.Tests.AppHost;

/// <summary>The second safeguard against orphans: what an AppHost recorded, the next one ends.</summary>
public sealed class ProcessRegistryTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"kiln-registry-{Guid.NewGuid():N}.json");
    private readonly Process _sleeper = Process.Start("sleep", "60");

    [Fact]
    public void A_recorded_process_still_running_is_ended_by_the_next_start()
    {
        new ProcessRegistry(_file).Add(_sleeper.Id, "leftover");

        var ended = new ProcessRegistry(_file).EndLeftovers();

        Assert.Equal([$"leftover (pid {_sleeper.Id})"], ended);
        Assert.True(_sleeper.WaitForExit(5000), "the leftover process was not ended");
        Assert.False(File.Exists(_file));
    }

    [Fact]
    public void A_recycled_pid_is_never_touched()
    {
        // Same PID, different start time: another program now owns that number.
        File.WriteAllText(_file, JsonSerializer.Serialize(new[] { new { Pid = _sleeper.Id, StartTime = "1", Resource = "old" } }));

        var ended = new ProcessRegistry(_file).EndLeftovers();

        Assert.Empty(ended);
        Assert.False(_sleeper.HasExited);
    }

    public void Dispose()
    {
        if (!_sleeper.HasExited)
        {
            _sleeper.Kill();
        }

        _sleeper.Dispose();
        File.Delete(_file);
    }
}
