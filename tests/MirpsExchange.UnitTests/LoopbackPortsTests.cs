using System.Net;
using System.Net.Sockets;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.UnitTests;

public class LoopbackPortsTests
{
    [Theory]
    [InlineData("32768\t60999\n", 32768)]
    [InlineData("40000 65000", 40000)]
    [InlineData(null, 49152)]
    [InlineData("", 49152)]
    [InlineData("garbage", 49152)]
    public void The_ephemeral_range_starts_where_the_kernel_says_or_at_IANAs_default(string? range, int start) =>
        Assert.Equal(start, LoopbackPorts.EphemeralStart(range));

    /// <summary>
    /// The CI failure this prevents: a port probed free (bind 0, then closed) was in the ephemeral range, and an outgoing
    /// connection of another test process took it before the node bound it ("address already in use").
    /// </summary>
    [Fact]
    public void A_free_port_is_below_the_ephemeral_range_bindable_and_never_handed_out_twice()
    {
        var start = OperatingSystem.IsLinux()
            ? LoopbackPorts.EphemeralStart(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range"))
            : LoopbackPorts.EphemeralStart(null);
        var ports = Enumerable.Range(0, 50).Select(_ => LoopbackPorts.Free()).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        if (start > 21000)
        {
            Assert.All(ports, port => Assert.InRange(port, 20000, start - 1));
        }
        using var listener = new TcpListener(IPAddress.Loopback, ports[0]);
        listener.Start();
        Assert.Equal(ports[0], ((IPEndPoint)listener.LocalEndpoint).Port);
    }
}
