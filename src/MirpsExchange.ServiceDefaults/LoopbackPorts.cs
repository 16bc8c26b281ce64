using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// A free loopback port to hand to a process before it starts (a web endpoint whose redirect URI is registered first, a
/// throwaway PostgreSQL server, a node restarted on the address its peers know). Such a port is free when it is chosen and
/// bound a moment later, so it is taken from below the kernel's ephemeral range: the ports the kernel hands to every
/// <c>bind(0)</c> and every outgoing connection (of this process and of any other on the machine) are never in it, so
/// none of them can take the port in that moment. A port is handed out once per process, and only when a probe binds it.
/// </summary>
public static class LoopbackPorts
{
    /// <summary>The lowest port handed out: above the registered services most machines run.</summary>
    private const int Lowest = 20000;

    private static readonly ConcurrentDictionary<int, byte> Handed = new();
    private static readonly Lazy<int> Highest = new(() => EphemeralStart(ReadLinuxRange()) - 1);

    /// <summary>A loopback port free now and outside the ephemeral range (if that range leaves room below it; else any free port).</summary>
    public static int Free()
    {
        var highest = Highest.Value;
        for (var attempt = 0; highest > Lowest + 1000 && attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(Lowest, highest + 1);
            if (Handed.TryAdd(port, 0) && TryProbe(port))
            {
                return port;
            }
        }
        // No room below the ephemeral range (or every try busy): a port the kernel picks, as before.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// The first port of the ephemeral range given Linux's <c>ip_local_port_range</c> text ("32768\t60999"), or IANA's
    /// 49152 (Windows' and macOS's default) when there is none or it cannot be read.
    /// </summary>
    public static int EphemeralStart(string? linuxRange)
    {
        var first = linuxRange?.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return int.TryParse(first, out var start) && start is > 0 and < 65536 ? start : 49152;
    }

    private static string? ReadLinuxRange()
    {
        try
        {
            return OperatingSystem.IsLinux() ? File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range") : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool TryProbe(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
