using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Extensions;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// A hostile relay: not the project's node, but a bare gRPC server on 127.0.0.1 implementing SyncService as
/// a node would on the wire. It says it is <see cref="Country"/>'s node with the standard catalogue, accepts
/// any caller, and answers StreamChanges with whatever <see cref="Script"/> makes of the request (the
/// sequence the replica resumes after); then it keeps the stream open as a following node does, or ends it.
/// </summary>
public sealed class MaliciousPeer : SyncService.SyncServiceBase, IAsyncDisposable
{
    private WebApplication? _app;

    private MaliciousPeer(string country) => Country = country;

    public string Country { get; }
    public string Address { get; private set; } = "";

    /// <summary>What to stream to a replica resuming after a sequence.</summary>
    public Func<long, IEnumerable<StreamChangesResponse>> Script { get; set; } = _ => [];

    /// <summary>When set, what to stream for each request instead of <see cref="Script"/> (a reader that asks for several origins).</summary>
    public Func<StreamChangesRequest, IEnumerable<StreamChangesResponse>>? RequestScript { get; set; }

    /// <summary>What ListLifecycleEntries answers to a replica asking after an entry sequence (the lifecycle log it relays).</summary>
    public Func<long, IEnumerable<Mirps.Observation.V1.LifecycleEntry>> Lifecycle { get; set; } = _ => [];

    /// <summary>When set, ListLifecycleEntries answers <see cref="Lifecycle"/> for this origin only (none for the others).</summary>
    public string? LifecycleOrigin { get; set; }

    /// <summary>What ListLifecycleEntries answers for the Secretariat's decision log (origin "secretariat") after an entry sequence.</summary>
    public Func<long, IEnumerable<Mirps.Observation.V1.LifecycleEntry>> Decisions { get; set; } = _ => [];

    /// <summary>After the script: keep the stream open (a following node with nothing new) or end it.</summary>
    public bool HoldOpen { get; set; } = true;

    /// <summary>StreamChanges answers UNAVAILABLE every time (a claim it will not serve), with <see cref="FailDetail"/>.</summary>
    public bool FailStreams { get; set; }

    /// <summary>The status detail of a failed StreamChanges: the peer's own words.</summary>
    public string FailDetail { get; set; } = "not now";

    /// <summary>StreamChanges keeps every stream open and sends nothing, whether or not the caller follows.</summary>
    public bool Silent { get; set; }

    /// <summary>The latest sequence of PAN's log it says it holds in GetSyncStatus (0: it names no origin).</summary>
    public long Holds { get; set; }

    /// <summary>The head of PAN's log its status shows beside <see cref="Holds"/> (null: none).</summary>
    public Mirps.Observation.V1.LogHead? Head { get; set; }

    /// <summary>How many messages it has written (a replica that stops reading stops this count).</summary>
    public int Written => _written;

    private int _written;

    /// <summary>When set, StreamChanges answers with this one message payload as it is, bytes no protobuf encoder writes.</summary>
    public byte[]? RawMessage { get; set; }

    /// <summary>The sequences replicas asked to resume after, in order.</summary>
    public List<long> Requests { get; } = [];

    /// <summary>Each StreamChanges call's origin and after_sequence, in the order they came (guarded by <see cref="Requests"/>).</summary>
    public List<(string Origin, long After)> Streams { get; } = [];

    public (string Address, string Country) Peer => (Address, Country);

    /// <summary>The Secretariat's pull of PAN from <paramref name="address"/>, once <paramref name="done"/> says so (or after 30 s).</summary>
    public static Task<PeerStatus> PullAsync(TestSecretariat secretariat, string address, Func<PeerStatus, bool> done) => PullAsync(secretariat.Channel, address, done);

    /// <summary>The pull from <paramref name="address"/> of the node <paramref name="node"/> calls, once <paramref name="done"/> says so (or after 30 s).</summary>
    public static async Task<PeerStatus> PullAsync(Grpc.Net.Client.GrpcChannel node, string address, Func<PeerStatus, bool> done)
    {
        var client = new SyncService.SyncServiceClient(node);
        var deadline = DateTime.UtcNow.AddSeconds(90); // returns as soon as done: the bound only matters on a loaded machine (CI runs test projects side by side)
        while (true)
        {
            var status = (await client.GetSyncStatusAsync(new GetSyncStatusRequest())).Peers.SingleOrDefault(p => p.Address == address);
            if (status is not null && done(status) || DateTime.UtcNow > deadline)
            {
                return status ?? new PeerStatus();
            }
            await Task.Delay(100);
        }
    }

    public static async Task<MaliciousPeer> StartAsync(string country = "CRI")
    {
        var peer = new MaliciousPeer(country);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(peer);
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            if (peer.RawMessage is { } raw && context.Request.Path.Value!.EndsWith("/StreamChanges", StringComparison.Ordinal))
            {
                // One gRPC frame (uncompressed, big-endian length) around the raw payload, then status OK.
                context.Response.ContentType = "application/grpc";
                var frame = new byte[5 + raw.Length];
                System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), raw.Length);
                raw.CopyTo(frame, 5);
                await context.Response.Body.WriteAsync(frame);
                context.Response.AppendTrailer("grpc-status", "0");
                return;
            }
            await next(context);
        });
        app.MapGrpcService<MaliciousPeer>();
        app.MapGrpcService<MaliciousApproval>();
        await app.StartAsync().WaitAsync(StartBound.Time);
        (peer._app, peer.Address) = (app, app.ListeningAddress());
        return peer;
    }

    public override Task<GetSyncStatusResponse> GetSyncStatus(GetSyncStatusRequest request, ServerCallContext context)
    {
        var catalogue = StandardCatalogue.LoadStandard();
        var status = new GetSyncStatusResponse { CatalogVersion = catalogue.Version, CatalogDigest = catalogue.Digest, NodeCountry = Country };
        if (Holds > 0)
        {
            status.Origins.Add(new OriginStatus { Origin = "PAN", LatestSequence = Holds, Head = Head });
        }
        return Task.FromResult(status);
    }

    public override async Task StreamChanges(StreamChangesRequest request, IServerStreamWriter<StreamChangesResponse> responseStream, ServerCallContext context)
    {
        lock (Requests)
        {
            Requests.Add(request.AfterSequence);
            Streams.Add((request.Origin, request.AfterSequence));
        }
        if (FailStreams)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, FailDetail));
        }
        if (Silent)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                // the caller gave up
            }
            return;
        }
        foreach (var message in RequestScript?.Invoke(request) ?? Script(request.AfterSequence))
        {
            await responseStream.WriteAsync(message, context.CancellationToken);
            Interlocked.Increment(ref _written);
        }
        if (HoldOpen && request.Follow)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                // the replica went away (it refused what it was sent, or the test ended)
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await _app.DisposeAsync();
        }
    }
}

/// <summary>The hostile relay's ApprovalService: it answers ListLifecycleEntries with <see cref="MaliciousPeer.Lifecycle"/>.</summary>
public sealed class MaliciousApproval(MaliciousPeer peer) : Mirps.Approval.V1.ApprovalService.ApprovalServiceBase
{
    public override Task<Mirps.Approval.V1.ListLifecycleEntriesResponse> ListLifecycleEntries(Mirps.Approval.V1.ListLifecycleEntriesRequest request, ServerCallContext context) =>
        Task.FromResult(new Mirps.Approval.V1.ListLifecycleEntriesResponse
        {
            Entries = { request.Origin == Mirps.Auth.MirpsAuth.Secretariat ? peer.Decisions(request.AfterEntrySequence) : peer.LifecycleOrigin is null || peer.LifecycleOrigin == request.Origin ? peer.Lifecycle(request.AfterEntrySequence) : [] },
        });
}

/// <summary>
/// A TCP relay of bytes in front of a real node that holds every connection until it is opened: the replica
/// then talks to the node itself, byte for byte, but only once the test lets it (so a case can first show
/// what a replica does with a hostile peer alone).
/// </summary>
public sealed class TcpGate : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private int _target;
    private readonly Task _accepting;

    public TcpGate(string target) : this() => Target = target;

    /// <summary>A gate whose node is named later (<see cref="Target"/>, before <see cref="Open"/>): a node that starts after its peer.</summary>
    public TcpGate()
    {
        _listener.Start();
        Address = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _accepting = AcceptAsync();
    }

    public string Address { get; }

    private int _connections;

    /// <summary>How many connections the gate has accepted (held, or relayed once open): a caller that came.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The node's address (its port is what counts).</summary>
    public string Target
    {
        set => _target = new Uri(value).Port;
    }

    public void Open() => _opened.TrySetResult();

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                _ = PipeAsync(client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopped
        }
    }

    private async Task PipeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                await _opened.Task.WaitAsync(_stop.Token);
                using var server = new TcpClient();
                await server.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
                var (a, b) = (client.GetStream(), server.GetStream());
                await Task.WhenAny(a.CopyToAsync(b, _stop.Token), b.CopyToAsync(a, _stop.Token));
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // either side went away
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
