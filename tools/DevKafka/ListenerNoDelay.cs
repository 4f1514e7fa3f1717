using Kiln.DevKafka.Native;

namespace Kiln.DevKafka;

/// <summary>
/// The mock broker's sockets lack TCP_NODELAY, so Nagle holds back small pipelined produce responses
/// until the client's delayed ACK (~40 ms). Linux copies TCP_NODELAY from a listening socket to every
/// socket it accepts, so setting it on the listeners fixes all later connections.
/// </summary>
internal static class ListenerNoDelay
{
    /// <summary>Sets TCP_NODELAY on this process's 127.0.0.1 TCP listeners bound to <paramref name="ports"/>.</summary>
    /// <returns>The ports whose listener now has TCP_NODELAY.</returns>
    public static IReadOnlyList<int> Apply(IReadOnlyCollection<int> ports)
    {
        var tuned = new List<int>();
        foreach (var fd in OpenSocketDescriptors())
        {
            if (LibC.LoopbackTcpListenerPort(fd) is { } port
                && ports.Contains(port)
                && LibC.TrySetTcpNoDelay(fd)
                && LibC.HasTcpNoDelay(fd))
            {
                tuned.Add(port);
            }
        }

        return tuned;
    }

    private static IEnumerable<int> OpenSocketDescriptors()
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(entry).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while we were looking (the enumeration's own descriptor, for one)
            }

            if (target is not null
                && target.StartsWith("socket:", StringComparison.Ordinal)
                && int.TryParse(Path.GetFileName(entry), System.Globalization.CultureInfo.InvariantCulture, out var fd))
            {
                yield return fd;
            }
        }
    }
}
