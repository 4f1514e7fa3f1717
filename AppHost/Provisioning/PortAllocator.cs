using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kiln.AppHost.Provisioning;

/// <summary>
/// Free loopback ports for servers the AppHost starts, never handed out twice by one AppHost. A port is
/// chosen here and bound later by the server, so it is taken from below the kernel's ephemeral range: a
/// port from that range (what binding port 0 returns) can be taken meanwhile as the source port of any
/// outgoing connection on the machine, which happened under load.
/// </summary>
internal static class PortAllocator
{
    private const string EphemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range";
    private const int Lowest = 20_000;
    private const int Attempts = 200;

    private static readonly HashSet<int> Given = [];

    public static int Next()
    {
        var below = EphemeralStart();
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var port = below > Lowest + 1_000 ? Random.Shared.Next(Lowest, below) : KernelChosen();
            lock (Given)
            {
                if (!Given.Contains(port) && IsFree(port) && Given.Add(port))
                {
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"No free loopback port found in {Attempts} attempts between {Lowest} and {below}.");
    }

    /// <summary>The first port of the kernel's ephemeral range (32768 by default on Linux).</summary>
    private static int EphemeralStart()
    {
        try
        {
            var first = File.ReadAllText(EphemeralRangeFile).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0];
            return int.Parse(first, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Where the ephemeral range leaves no room below it: what the kernel picks.</summary>
    private static int KernelChosen()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
