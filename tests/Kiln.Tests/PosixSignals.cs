using Kiln.AppHost.Launching;

namespace Kiln.Tests;

/// <summary>Freezing and thawing a process with everything it started, as a hung server looks to its clients.</summary>
internal static class PosixSignals
{
    /// <summary>
    /// Sends <paramref name="signal"/> to a process and then to all its descendants (a process group would
    /// not do: PostgreSQL's backends each lead a group of their own). The parent goes first, so a frozen
    /// server starts no new children meanwhile.
    /// </summary>
    public static void SendToTree(int root, int signal)
    {
        if (!Signals.Send(root, signal))
        {
            throw new InvalidOperationException($"process {root} could not be sent signal {signal}");
        }

        foreach (var child in ChildrenOf(root))
        {
            SendToTree(child, signal);
        }
    }
    private static IEnumerable<int> ChildrenOf(int parent)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // it ended meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            // pid (comm) state ppid ...: comm may hold spaces and parentheses, so parse after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (int.TryParse(fields[1], out var ppid) && ppid == parent && int.TryParse(Path.GetFileName(directory), out var pid))
            {
                yield return pid;
            }
        }
    }
}
