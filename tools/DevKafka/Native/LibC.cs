using System.Runtime.InteropServices;

namespace Kiln.DevKafka.Native;

/// <summary>Socket calls on raw descriptors, for sockets librdkafka opened and .NET never saw.</summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    private const ushort AddressFamilyInet = 2; // AF_INET
    private const int SolSocket = 1;            // SOL_SOCKET
    private const int SoAcceptConn = 30;        // SO_ACCEPTCONN
    private const int SoProtocol = 38;          // SO_PROTOCOL
    private const int IpProtoTcp = 6;           // IPPROTO_TCP
    private const int TcpNoDelay = 1;           // TCP_NODELAY
    private const uint Loopback = 0x7F000001;   // 127.0.0.1, host order

    [LibraryImport(Library, EntryPoint = "getsockname", SetLastError = true)]
    private static partial int GetSockName(int fd, byte* address, uint* addressLength);

    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, int* value, uint* valueLength);

    [LibraryImport(Library, EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, int* value, uint valueLength);

    /// <summary>The port of <paramref name="fd"/> when it is a TCP socket listening on 127.0.0.1, else null.</summary>
    public static int? LoopbackTcpListenerPort(int fd)
    {
        // Room for any address family (sockaddr_storage); only AF_INET is of interest.
        var address = stackalloc byte[128];
        uint length = 128;
        if (GetSockName(fd, address, &length) != 0 || length < 8)
        {
            return null;
        }

        // sockaddr_in: family (host order), port and address (network order).
        var family = *(ushort*)address;
        var port = (address[2] << 8) | address[3];
        var ipv4 = ((uint)address[4] << 24) | ((uint)address[5] << 16) | ((uint)address[6] << 8) | address[7];
        if (family != AddressFamilyInet || ipv4 != Loopback)
        {
            return null;
        }

        return ReadIntOption(fd, SolSocket, SoAcceptConn) == 1 && ReadIntOption(fd, SolSocket, SoProtocol) == IpProtoTcp
            ? port
            : null;
    }

    public static bool TrySetTcpNoDelay(int fd)
    {
        var on = 1;
        return SetSockOpt(fd, IpProtoTcp, TcpNoDelay, &on, sizeof(int)) == 0;
    }

    public static bool HasTcpNoDelay(int fd) => ReadIntOption(fd, IpProtoTcp, TcpNoDelay) is > 0;

    private static int? ReadIntOption(int fd, int level, int name)
    {
        int value;
        uint length = sizeof(int);
        return GetSockOpt(fd, level, name, &value, &length) == 0 ? value : null;
    }
}
