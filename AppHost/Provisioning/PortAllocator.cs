using System.Net;
using System.Net.Sockets;

namespace Kiln.AppHost.Provisioning;

/// <summary>Free loopback ports, asked of the kernel, never handed out twice by one AppHost.</summary>
internal static class PortAllocator
{
    private static readonly HashSet<int> Given = [];

    public static int Next()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            lock (Given)
            {
                if (Given.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
