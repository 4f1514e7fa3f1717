using System.Globalization;
using System.Text.Json;

namespace Kiln.AppHost.Launching;

/// <summary>
/// The second safeguard against orphans (the first is the parent-death signal): every child's PID and
/// kernel start time are recorded in <c>.apphost/processes.json</c>. A later start ends any recorded
/// process still alive, after checking its start time so a recycled PID is never touched.
/// </summary>
internal sealed class ProcessRegistry(string path)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, Entry> _entries = [];

    public void Add(int pid, string resource)
    {
        lock (_gate)
        {
            _entries[pid] = new Entry(pid, StartTime(pid), resource);
            Save();
        }
    }

    public void Remove(int pid)
    {
        lock (_gate)
        {
            if (_entries.Remove(pid))
            {
                Save();
            }
        }
    }

    /// <summary>Ends what a previous AppHost (one that could not clean up) left behind; returns their names.</summary>
    public IReadOnlyList<string> EndLeftovers()
    {
        if (!File.Exists(path))
        {
            return [];
        }

        var ended = new List<string>();
        Entry[] entries;
        try
        {
            entries = JsonSerializer.Deserialize<Entry[]>(File.ReadAllText(path)) ?? [];
        }
        catch (JsonException)
        {
            entries = [];
        }

        var killed = new List<int>();
        foreach (var entry in entries)
        {
            if (entry.StartTime is not null && StartTime(entry.Pid) == entry.StartTime)
            {
                Signals.SendToGroup(entry.Pid, Signals.SigKill);
                killed.Add(entry.Pid);
                ended.Add($"{entry.Resource} (pid {entry.Pid})");
            }
        }

        // A server must be gone before its successor opens the same data folder.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (killed.Any(IsRunning) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
        }

        File.Delete(path);
        return ended;
    }

    /// <summary>
    /// Best effort: the registry is the second safeguard, so a state folder deleted under a running
    /// AppHost must not crash it (the parent-death signal still guards the children).
    /// </summary>
    private void Save()
    {
        try
        {
            var temp = path + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(_entries.Values.ToArray()));
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(ConsoleSink.Format("apphost", $"could not record child processes in {path}: {ex.Message}"));
        }
    }

    /// <summary>Alive and not a zombie (a zombie is dead, only waiting for its new parent to reap it).</summary>
    internal static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.</summary>
    private static string? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private sealed record Entry(int Pid, string? StartTime, string Resource);
}
