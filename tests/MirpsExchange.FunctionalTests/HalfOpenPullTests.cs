using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A replica that has caught up follows its peer's feed on one long-lived connection. When that connection goes
/// half-open (the peer's answers lost on the way, as after a middlebox dropped its state; the chaos harness's
/// half-open link), the replica must notice and connect again, or it silently stops receiving the origin's changes.
/// </summary>
public class HalfOpenPullTests
{
    [Fact]
    public async Task A_caught_up_pull_whose_connection_goes_half_open_connects_again_and_receives_the_next_change()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var origin = await TestNode.StartAsync("BLZ", null, Samples.ShareWithAll);
            await using var link = new LossyLink(new Uri(origin.Address).Authority);
            await using var replica = await TestNode.StartAsync("PAN", null,
                [.. PeerSyncTests.PullArgs(folder, await SharedIdentity.CredentialAsync("PAN"), (link.Address, "BLZ")), "--Node:PeerStallTimeout=00:00:02"]);
            await origin.Observations.SubmitObservationsAsync(Refugees(2020, 100));
            Assert.True(await HoldsAsync(replica, 1, TimeSpan.FromSeconds(30)), "the replica did not get the first change");

            link.LoseAnswers(); // the open connection (the replica's follow stream) is half-open from now on
            await origin.Observations.SubmitObservationsAsync(Refugees(2021, 200));

            Assert.True(await HoldsAsync(replica, 2, TimeSpan.FromSeconds(30)), "the replica still follows a half-open connection: it never got change 2");
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    private static SubmitObservationsRequest Refugees(int year, double value) => new()
    {
        Observations =
        {
            new Observation
            {
                IndicatorCode = "REFUGEES", Country = "BLZ", Period = $"{year}", Sex = "_T", Age = "_T", CountryOfOrigin = "_T",
                Value = value, Status = ObservationStatus.Normal,
            },
        },
    };

    private static async Task<bool> HoldsAsync(TestNode replica, long sequence, TimeSpan within)
    {
        var sync = new SyncService.SyncServiceClient(replica.Channel);
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            var status = await sync.GetSyncStatusAsync(new GetSyncStatusRequest());
            if ((status.Origins.FirstOrDefault(o => o.Origin == "BLZ")?.LatestSequence ?? 0) >= sequence)
            {
                return true;
            }
            await Task.Delay(200);
        }
        return false;
    }

    /// <summary>A TCP forwarder to a node whose open connections can be made to lose everything the node sends, for good.</summary>
    private sealed class LossyLink : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<Connection, byte> _open = new();
        private readonly Task _accepting;
        private readonly string _upstream;

        public LossyLink(string upstream)
        {
            _upstream = upstream;
            _listener.Start();
            Address = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _accepting = AcceptAsync();
        }

        public string Address { get; }

        public void LoseAnswers()
        {
            foreach (var connection in _open.Keys)
            {
                connection.Lost = true;
            }
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptSocketAsync(_stop.Token);
                    var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    var colon = _upstream.LastIndexOf(':');
                    await server.ConnectAsync(IPAddress.Loopback, int.Parse(_upstream[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), _stop.Token);
                    var connection = new Connection();
                    _open[connection] = 0;
                    _ = Task.WhenAll(PumpAsync(client, server, connection, answers: false), PumpAsync(server, client, connection, answers: true))
                        .ContinueWith(_ => { _open.TryRemove(connection, out var _); client.Dispose(); server.Dispose(); }, TaskScheduler.Default);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task PumpAsync(Socket from, Socket to, Connection connection, bool answers)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                {
                    if (!(answers && connection.Lost))
                    {
                        await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
                    }
                }
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                from.Dispose();
                to.Dispose();
            }
        }

        private sealed class Connection
        {
            public volatile bool Lost;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _listener.Dispose();
            _stop.Dispose();
        }
    }
}
