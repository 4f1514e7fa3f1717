using System.Runtime.InteropServices;

namespace Kiln.Tests;

/// <summary>Signals .NET's Process API does not send: freezing and thawing a process or its whole group.</summary>
internal static class PosixSignals
{
    public const int Stop = 19;
    public const int Continue = 18;

    /// <summary>
    /// Sends <paramref name="signal"/> to a process and then to all its descendants (a process group would
    /// not do: PostgreSQL's backends each lead a group of their own). The parent goes first, so a frozen
    /// server starts no new children meanwhile.
    /// </summary>
    public static void SendToTree(int root, int signal)
    {
        if (Kill(root, signal) != 0)
        {
            throw new InvalidOperationException($"kill({root}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
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

    // DllImport rather than LibraryImport: the test project need not allow unsafe code for one int-only call.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
