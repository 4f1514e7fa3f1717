using System.Globalization;

namespace Kiln.LoadGen;

/// <summary>
/// A resource's CPU time so far and its peak resident memory, from /proc: its process and every descendant
/// (PostgreSQL's work is done by the backends it forks), the CPU summed, the memory the largest of them.
/// </summary>
internal sealed record ProcessStats(string Resource, int Pid, double CpuSeconds, double PeakRssMb)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>
    /// Every resource with its descendants, and two processes on their own: the AppHost (it relays the broker's traffic)
    /// and this load generator, whose work shares the machine with the platform's.
    /// </summary>
    public static List<ProcessStats> Read(IEnumerable<(int Pid, string Resource)> processes)
    {
        var parents = ParentsByPid();
        var stats = new List<ProcessStats>();
        if (processes.Select(p => parents.GetValueOrDefault(p.Pid)).FirstOrDefault() is > 1 and var appHost && Measure("apphost", appHost) is { } host)
        {
            stats.Add(host);
        }

        if (Measure("loadgen", Environment.ProcessId) is { } self)
        {
            stats.Add(self);
        }

        foreach (var (root, resource) in processes)
        {
            foreach (var pid in WithDescendants(root, parents))
            {
                if (Measure(resource, pid) is { } measured)
                {
                    stats.Add(measured);
                }
            }
        }

        return stats;
    }

    private static ProcessStats? Measure(string resource, int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After the command: state is field 3, utime 14 and stime 15 (1-based), here 0-based from state.
            var cpu = (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
            var hwm = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            var kb = double.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return new ProcessStats(resource, pid, cpu, kb / 1024);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            return null; // it ended (a replica restarted, a backend closed): left out
        }
    }

    private static Dictionary<int, int> ParentsByPid()
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                    parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                }
            }
        }

        return parents;
    }

    private static IEnumerable<int> WithDescendants(int root, Dictionary<int, int> parents)
    {
        yield return root;
        foreach (var child in parents.Where(p => p.Value == root).Select(p => p.Key))
        {
            foreach (var descendant in WithDescendants(child, parents))
            {
                yield return descendant;
            }
        }
    }
}
