using System.Net;
using System.Net.Sockets;
using Mirps.Observation.V1;

namespace MirpsExchange.Chaos;

/// <summary>The harness's own parts: a schedule replays from its seed, the proxy's faults bite, the checks can fail.</summary>
public class HarnessTests
{
    [Fact]
    public void A_schedule_is_a_pure_function_of_its_seed()
    {
        var length = TimeSpan.FromMinutes(2);
        string Of(long seed) => Schedule.Describe(seed, Schedule.Create(seed, length, [.. Federation.Nodes], Federation.LinkNames));

        Assert.Equal(Of(42), Of(42));
        Assert.NotEqual(Of(42).Split('\n', 2)[1], Of(43).Split('\n', 2)[1]);
        var faults = Schedule.Create(42, length, [.. Federation.Nodes], Federation.LinkNames);
        // Every kind of fault comes up in two minutes, every one ends within the run, and one at a time per process or link.
        Assert.Equal(Enum.GetValues<FaultKind>().Order(), faults.Select(f => f.Kind).Distinct().Order());
        Assert.All(faults, f => Assert.True(f.End <= length, f.ToString()));
        foreach (var target in faults.GroupBy(f => f.Kind == FaultKind.IdentityDown ? Federation.Identity : f.Target))
        {
            var ordered = target.OrderBy(f => f.At).ToList();
            Assert.All(ordered.Zip(ordered.Skip(1)), pair => Assert.True(pair.First.End <= pair.Second.At, $"{pair.First} overlaps {pair.Second}"));
        }
    }

    [Fact]
    public async Task The_proxy_passes_bytes_and_refuses_stalls_and_half_opens_as_set()
    {
        using var echo = new TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        using var stop = new CancellationTokenSource();
        var serving = ServeEchoAsync(echo, stop.Token);
        await using var proxy = new FaultProxy("test") { Upstream = $"127.0.0.1:{((IPEndPoint)echo.LocalEndpoint).Port}" };
        var port = new Uri(proxy.Address).Port;

        using (var client = await ConnectAsync(port))
        {
            Assert.Equal("a", await RoundTripAsync(client, "a"));
            proxy.Set(FaultKind.LinkHalfOpen);
            Assert.Null(await RoundTripAsync(client, "b")); // the answer is lost...
            proxy.Set(null);
            Assert.Null(await RoundTripAsync(client, "c")); // ...for good on this connection
        }
        using (var client = await ConnectAsync(port))
        {
            Assert.Equal("d", await RoundTripAsync(client, "d")); // a new one works
            proxy.Set(FaultKind.LinkStall);
            Assert.Null(await RoundTripAsync(client, "e"));
            proxy.Set(null);
            Assert.Equal("e", await ReadAsync(client)); // held, then delivered
        }
        proxy.Set(FaultKind.LinkRefuse);
        using (var client = await ConnectAsync(port))
        {
            Assert.Null(await RoundTripAsync(client, "f"));
        }
        await stop.CancelAsync();
        echo.Stop();
        await serving;
    }

    [Fact]
    public void The_leak_check_flags_what_a_State_may_not_read()
    {
        var violations = new List<string>();
        using var invariants = new Invariants(null!, violations.Add);
        StoredObservation Served(string origin, string indicator, double value, Withholding withholding = Withholding.Unspecified) => new()
        {
            Origin = origin, OriginSequence = 7, Withholding = withholding,
            Observation = new Observation { IndicatorCode = indicator, Country = origin, Period = "2020", Value = value },
        };

        invariants.CheckServedToState("BLZ", "CRI", Served("CRI", "REFUGEES", 120)); // fine
        invariants.CheckServedToState("BLZ", "CRI", Served("CRI", "REFUGEES", 0, Withholding.SmallCount)); // withheld, no value: fine
        invariants.CheckServedToState("CRI", "CRI", Served("CRI", "REFUGEES", 3)); // its own: fine
        Assert.Empty(violations);

        invariants.CheckServedToState("BLZ", "CRI", Served("CRI", "REFUGEES", 3));
        invariants.CheckServedToState("BLZ", "CRI", Served("PAN", "IDPS", 120));
        invariants.CheckServedToState("BLZ", "PAN", Served("PAN", "REFUGEES", 3, Withholding.SmallCount));
        Assert.Equal(3, violations.Count);
    }

    private static async Task ServeEchoAsync(TcpListener listener, CancellationToken stop)
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var socket = await listener.AcceptSocketAsync(stop);
                connections.Add(Task.Run(async () =>
                {
                    using (socket)
                    {
                        var buffer = new byte[256];
                        int read;
                        try
                        {
                            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, stop)) > 0)
                            {
                                await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, stop);
                            }
                        }
                        catch (Exception e) when (e is SocketException or OperationCanceledException)
                        {
                        }
                    }
                }, CancellationToken.None));
            }
        }
        catch (OperationCanceledException)
        {
        }
        await Task.WhenAll(connections);
    }

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return socket;
    }

    /// <summary>Sends <paramref name="text"/> and reads the echo; null if none comes within a second or the connection is cut.</summary>
    private static async Task<string?> RoundTripAsync(Socket socket, string text)
    {
        try
        {
            await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(text), SocketFlags.None);
        }
        catch (SocketException)
        {
            return null;
        }
        return await ReadAsync(socket);
    }

    private static async Task<string?> ReadAsync(Socket socket)
    {
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            return read == 0 ? null : System.Text.Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return null;
        }
    }
}
