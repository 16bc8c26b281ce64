using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MirpsExchange.Chaos;

/// <summary>
/// A TCP proxy on 127.0.0.1 between a puller and the node it pulls from (the puller is configured with the proxy's
/// address as the peer's). It copies bytes untouched (TLS passes through) and injects the fault it is set to: refused
/// or reset connections, delay, a stall, a half-open connection, random cuts. Its upstream follows the node across
/// restarts (a restarted node listens on a new port).
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Connection, byte> _open = new();
    private readonly Task _accepting;
    private readonly Random _random = new();
    private volatile Setting _setting = new(null, 0);

    public FaultProxy(string name)
    {
        Name = name;
        _listener.Start();
        Address = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _accepting = AcceptAsync();
    }

    public string Name { get; }

    /// <summary>Where the puller connects (its configured peer address).</summary>
    public string Address { get; }

    private volatile string? _upstream;

    /// <summary>host:port of the node now; null while it is down (connections are then refused).</summary>
    public string? Upstream
    {
        get => _upstream;
        set => _upstream = value;
    }

    /// <summary>
    /// Sets the fault (null: none). Refuse and Reset also cut every open connection now; HalfOpen makes every open
    /// connection half-open for good (the node's answers are lost even after the fault ends, as after a peer's reboot
    /// that the puller was not told of), and so every connection opened while it lasts.
    /// </summary>
    public void Set(FaultKind? fault, int amount = 0)
    {
        _setting = new Setting(fault, amount);
        foreach (var connection in _open.Keys)
        {
            if (fault is FaultKind.LinkRefuse or FaultKind.LinkReset)
            {
                connection.Reset();
            }
            else if (fault is FaultKind.LinkHalfOpen)
            {
                connection.HalfOpen = true;
            }
        }
    }

    private sealed record Setting(FaultKind? Fault, int Amount);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        client.NoDelay = true;
        var upstream = Upstream;
        if (_setting.Fault == FaultKind.LinkRefuse || upstream is null)
        {
            Abort(client);
            return;
        }
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            var colon = upstream.LastIndexOf(':');
            using var connecting = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            connecting.CancelAfter(TimeSpan.FromSeconds(5));
            await server.ConnectAsync(IPAddress.Parse(upstream[..colon]), int.Parse(upstream[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), connecting.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            Abort(client);
            server.Dispose();
            return;
        }
        var connection = new Connection(client, server) { HalfOpen = _setting.Fault == FaultKind.LinkHalfOpen };
        _open[connection] = 0;
        try
        {
            await Task.WhenAll(PumpAsync(connection, client, server, toServer: true), PumpAsync(connection, server, client, toServer: false));
        }
        finally
        {
            _open.TryRemove(connection, out _);
            connection.Close();
        }
    }

    private async Task PumpAsync(Connection connection, Socket from, Socket to, bool toServer)
    {
        var buffer = new byte[16 * 1024];
        var sinceOpen = 0L;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                sinceOpen += read;
                if (!toServer && connection.HalfOpen)
                {
                    continue; // lost
                }
                while (true)
                {
                    var setting = _setting;
                    switch (setting.Fault)
                    {
                        case FaultKind.LinkStall:
                            // Nothing gets through while it lasts; the connection stays open (as packets dropped by a broken route, then resent).
                            await Task.Delay(100, _stop.Token);
                            continue;
                        case FaultKind.LinkDelay:
                            await Task.Delay(setting.Amount, _stop.Token);
                            break;
                        case FaultKind.LinkReset when sinceOpen > 64:
                        case FaultKind.LinkRefuse:
                            connection.Reset();
                            return;
                        case FaultKind.LinkDrop when Next(setting.Amount) == 0:
                            connection.Reset();
                            return;
                    }
                    break;
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            connection.Reset();
        }
    }

    private int Next(int bound)
    {
        lock (_random)
        {
            return _random.Next(Math.Max(1, bound));
        }
    }

    private static void Abort(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0); // close with RST
        }
        catch (SocketException)
        {
        }
        socket.Dispose();
    }

    private sealed class Connection(Socket client, Socket server)
    {
        private int _closed;

        /// <summary>What the node sends on it is lost, for good.</summary>
        public volatile bool HalfOpen;

        /// <summary>Both sides cut with a TCP reset.</summary>
        public void Reset()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                Abort(client);
                Abort(server);
            }
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                client.Dispose();
                server.Dispose();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var connection in _open.Keys)
        {
            connection.Reset();
        }
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
