using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using Mirps.Sync.V1;
using Mirps.Tls;
using MirpsExchange.Catalogue;
using Microsoft.EntityFrameworkCore;
using Mirps.Observation.V1;
using MirpsExchange.Node.Extensions;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// Pulls, for every configured peer and origin, the origin's changes after the last one held here and
/// applies each streamed batch in one transaction (the cursor is the origin's latest sequence in the
/// store, so it advances with the data and a batch applied twice changes nothing). Follows the peer's
/// feed; on failure retries with exponential backoff and jitter. Refuses a peer whose catalogue differs, unless one
/// catalogue maps the other (<see cref="CatalogueUpgrade"/>): then it names its own version in every feed request.
/// What it checks in what a peer sends, and what the writer checks, are <see cref="ReplicaRules"/>.
/// </summary>
public sealed partial class PeerSyncWorker(
    IOptions<NodeOptions> options,
    IServiceScopeFactory scopes,
    StandardCatalogue catalogue,
    PeerStates states,
    TimeProvider clock,
    ILogKeys logKeys,
    ReplicaRules rules,
    MirpsExchange.Node.Store.CatalogueVersions originCatalogues,
    ILogger<PeerSyncWorker> logger,
    ILoggerFactory loggers,
    IOptions<TlsOptions> tls,
    OriginRecovery recovery,
    IServiceProvider services) : BackgroundService
{
    /// <summary>How long a pull waits at start for the published log keys' first fetch.</summary>
    private static readonly TimeSpan KeysAtStart = TimeSpan.FromSeconds(10);

    /// <summary>Pauses between asking again for changes a relay did not hold (and for lifecycle reasons no peer served): doubling from the first to the last.</summary>
    private static readonly TimeSpan FirstNotHeldPause = TimeSpan.FromSeconds(2), MaxNotHeldPause = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var node = options.Value;
        StartUpTimeline.Mark("pulls start");
        if (node.Peers.Count == 0)
        {
            return;
        }
        // Over TLS tokens are bound to the node's client certificate, which it presents to the identity server and every peer.
        // A token is good at one node only: one client (one cached token) per peer node, shared by its origins and the
        // start-up recovery check, and asked for while the store was migrated (PeerCredentials; a credential is required with peers).
        var credentials = services.GetRequiredService<PeerCredentials>();
        await Task.WhenAll(node.Peers.SelectMany(peer => peer.Origins.Select(origin => PullAsync(peer, origin, credentials.For(peer.Country), credentials.Certificate, stoppingToken))));
    }

    private async Task PullAsync(PeerOptions peer, string origin, TokenClient tokens, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate, CancellationToken stoppingToken)
    {
        // The node's own State's log is pulled only once the start-up check has compared it with what the peers hold
        // (OriginRecovery); other origins' logs are pulled at once, beside that check (see OriginRecovery.Checked).
        if (string.Equals(origin, options.Value.Country, StringComparison.OrdinalIgnoreCase))
        {
            await recovery.Checked.WaitAsync(stoppingToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
        var address = peer.Address;
        var state = states.Register(address, origin);
        using var channel = OpenChannel(peer, tokens, certificate, tls.Value, out var identity, options.Value.PeerStallTimeout);
        if (origin == MirpsAuth.Secretariat)
        {
            // The Secretariat's decision log (accepted, rejected): a lifecycle log with no change log beside it, so a State's
            // node answers for its own cells from its own store, and the Secretariat takes its decisions back after losing its disk.
            await PullLifecycleAsync(channel, origin, address, state, static () => { }, stoppingToken);
            return;
        }
        var client = new SyncService.SyncServiceClient(channel);
        var feed = new ChangeFeedDecoder();
        var failures = 0;
        var notHeldPause = FirstNotHeldPause;
        // A node just started may not have fetched the published log keys yet: every head would look signed with an
        // unknown key. The first pull waits a little for them (then the verifier says UNKNOWN_SIGNING_KEY, and asks
        // again, as ever) before it reads the feed, while it asks the peer's status (and a token) and opens the feed.
        var keysAtStart = logKeys.FirstFetch.WaitAsync(KeysAtStart, stoppingToken).ContinueWith(static _ => { }, TaskScheduler.Default);
        CancellationTokenSource? reconnect = null, stall = null;
        // The origin's lifecycle log (approvals) from the same peer, beside its changes; stopped before the channel is disposed.
        // An approval applied may release drafts the origin held back (NOT_HELD placeholders here): the feed is asked again at once.
        using var lifecycle = new BackgroundLoop(cancellation => PullLifecycleAsync(channel, origin, address, state, () =>
        {
            try
            {
                reconnect?.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // between two connections: the next one reads from the first placeholder anyway
            }
        }, cancellation), stoppingToken);
        // How the peer's catalogue relates to this node's, as its status last said (null before it answered).
        CatalogueUpgrade.Relation? peerCatalogue = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                state.Set(PeerState.Connecting);
                // Where to resume, and the chain held there, are read from the store while the peer is asked its status
                // (with a token fetched first): neither waits for the other, and a node just started takes a while over its
                // store's first queries (on another thread: SQLite's queries complete synchronously, so called here they ran
                // before the status was even asked). Observed here, so a pull that stops before it awaits them leaves no failure unobserved.
                var local = Task.Run(() => HeldHereAsync(origin, stoppingToken), CancellationToken.None);
                _ = local.ContinueWith(static held => held.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                var status = await client.GetSyncStatusAsync(new GetSyncStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stoppingToken);
                StartUpTimeline.Mark($"pull {origin}: token, status");
                // Another version syncs when one catalogue declares it maps the other (CatalogueUpgrade): States upgrade on different days.
                peerCatalogue = CatalogueUpgrade.RelationTo(catalogue, status.CatalogVersion, status.CatalogDigest);
                if (peerCatalogue == CatalogueUpgrade.Relation.Unrelated)
                {
                    var message = $"FAILED_PRECONDITION: the peer's catalogue {PeerText.Quote(status.CatalogVersion)} ({PeerText.Quote(status.CatalogDigest, 12)}) differs from ours {catalogue.Version} ({catalogue.Digest[..12]}) and neither maps the other; sync with this peer is stopped";
                    state.Set(PeerState.Stopped, message);
                    LogCatalogueMismatch(logger, address, origin, message);
                    return;
                }
                ReplicaRules.CheckDeclaredNode(peer.Country, status.NodeCountry.Length == 0 ? MirpsAuth.Secretariat : status.NodeCountry);
                if (string.Equals(peer.Country, origin, StringComparison.OrdinalIgnoreCase))
                {
                    await originCatalogues.SeenAsync(origin, status.CatalogVersion, stoppingToken); // the origin's own node: the version its State reports in
                }
                var peerHolds = status.Origins.FirstOrDefault(o => o.Origin == origin);
                var held = peerHolds?.LatestSequence ?? 0;
                state.PeerHolds(held, peerHolds?.LastChangeTime);
                var self = Sharing.Reader.OfNode(options.Value.Country);
                // Every change is checked against the origin's signed log before it is written (ChainVerifier).
                var (applied, resume, nextRelease, notHeld, verifier) = await local;
                StartUpTimeline.Mark($"pull {origin}: resume point read");
                state.Applied(applied, null);
                // A following stream is ended to ask again: when the first embargo held here ends, and, with
                // growing pauses, while changes a relay did not hold are still missing here.
                reconnect = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var reconnectAt = DateTimeOffset.MaxValue;
                void ReconnectIn(TimeSpan delay)
                {
                    if (clock.GetUtcNow() + delay < reconnectAt)
                    {
                        reconnectAt = clock.GetUtcNow() + delay;
                        reconnect.CancelAfter(delay);
                    }
                }
                void AskAgainForUnheld()
                {
                    ReconnectIn(notHeldPause);
                    notHeldPause = TimeSpan.FromTicks(Math.Min(notHeldPause.Ticks * 2, MaxNotHeldPause.Ticks));
                }
                // At least a second after the release time here: a source whose clock is behind still says "embargoed".
                TimeSpan UntilReleased(long releaseTime) => TimeSpan.FromMilliseconds(Math.Clamp((releaseTime - Now()) / 1000, 0, int.MaxValue - 1000) + 1000);
                if (nextRelease is { } first)
                {
                    ReconnectIn(UntilReleased(first));
                }
                if (notHeld)
                {
                    AskAgainForUnheld();
                }
                else
                {
                    notHeldPause = FirstNotHeldPause;
                }
                // Large batches: each is one transaction here, and an initial catch-up moves whole messages of about 1 MiB.
                // 8,192 rather than 10,000: a parsed message's list of changes then stays a small object (64 KiB),
                // where 10,000 grew it to 128 KiB, a large-object allocation per message.
                // While the peer says it holds more than this node, a message must come within the stall timeout.
                stall = CancellationTokenSource.CreateLinkedTokenSource(reconnect.Token);
                var stallTimeout = options.Value.PeerStallTimeout;
                void WatchForStall(long have)
                {
                    stall.CancelAfter(have < held ? stallTimeout : Timeout.InfiniteTimeSpan);
                }
                WatchForStall(applied);
                using var call = feed.StreamChanges(channel.CreateCallInvoker(),
                    new StreamChangesRequest
                    {
                        Origin = origin, AfterSequence = resume, Follow = true, BatchSize = 8_192, CatalogVersion = catalogue.Version,
                        SuppressionMethods = { MirpsExchange.Node.Sharing.SuppressionMethods.ImplementedBy(options.Value.Sharing) },
                    }, stall.Token);
                await keysAtStart;
                StartUpTimeline.Mark($"pull {origin}: feed opened, log keys");
                state.Set(PeerState.Connected);
                // Checked and verified as they are read, on the read-ahead thread, while the last message is written.
                VerifiedChanges Check(StreamChangesResponse message)
                {
                    var verified = CheckMessage(message, verifier, rules, origin, peer, self, Now(), held, accepted =>
                        WatchForStall(verifier.Pending?.Last ?? (accepted.Changes.Count > 0 ? accepted.Changes[^1].OriginSequence : applied)));
                    state.Received(message.Changes); // what the peer holds, once its message passed every check (the lag metrics)
                    return verified;
                }
                await foreach (var verified in ReadAheadAsync(call.ResponseStream, Check, static v => v.Changes.Count == 0, reconnect.Token))
                {
                    if (verified.Changes.Count == 0)
                    {
                        continue; // waiting for the head that covers them
                    }
                    await using var scope = scopes.CreateAsyncScope();
                    var writer = scope.ServiceProvider.GetRequiredService<ReplicaWriter>();
                    var (_, _, last) = await writer.ApplyChangesAsync(origin, verified, stoppingToken);
                    StartUpTimeline.Report(loggers, $"pull {origin}: first message applied");
                    verified.Release();
                    state.Applied(last, verified.Changes[^1].RecordedTime);
                    failures = 0;
                    foreach (var change in verified.Changes)
                    {
                        if (change.Withholding == Withholding.Embargoed && change.Policy?.ReleaseTime is { } time)
                        {
                            ReconnectIn(UntilReleased(StoreTime.ToMicros(time.ToDateTimeOffset())));
                        }
                        else if (change.Withholding == Withholding.NotHeld && !notHeld)
                        {
                            notHeld = true;
                            AskAgainForUnheld();
                        }
                    }
                }
                verifier.End(); // the peer ended the feed: changes still waiting for their head will not get it
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && reconnect?.IsCancellationRequested == true
                && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                failures = 0; // time to ask again for withheld changes: reconnect at once
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && stall?.IsCancellationRequested == true
                && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                failures++;
                var error = $"{ReplicaRules.PeerStalled}: the peer says it holds {origin}'s log further than this node, but sent nothing for {options.Value.PeerStallTimeout:c}; asking it again";
                state.Set(PeerState.Failing, error);
                LogPullFailed(logger, address, origin, failures, error);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition && peerCatalogue == CatalogueUpgrade.Relation.ReaderLater
                && e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason is EarlierCatalogueFeed.Reason)
            {
                // The peer's catalogue maps this one's, but a change this catalogue cannot hold comes next: nothing
                // further can be pulled until this node upgrades its catalogue; an operator must act. Only a peer on a later
                // catalogue (as its status said) can say so: from any other, the same answer is a failure retried as ever, or a
                // relay could stop this node's pull for good with one forged status.
                var message = $"FAILED_PRECONDITION: the peer answered {PeerText.Quote(e.Status.Detail, PeerRefusedException.MaxLength)}; sync with this peer is stopped";
                state.Set(PeerState.Stopped, message);
                LogCatalogueMismatch(logger, address, origin, message);
                return;
            }
            // A peer refused by a replica rule, the peer or identity server unreachable or refusing, a store error (a
            // change that conflicts with what is held, a full disk): this pull fails and is tried again, the node runs on.
            catch (Exception e) when (e is PeerRefusedException or RpcException or HttpRequestException or TokenRequestException or System.Data.Common.DbException)
            {
                failures++;
                if (e is RpcException { StatusCode: StatusCode.Unauthenticated })
                {
                    tokens.Refused(); // revoked before it expired (a rotation, a rolled key): ask for a new one next time
                }
                // A peer's words (its status detail) only quoted, cleaned and capped; our reasons as ours (PeerText).
                var error = identity.Mismatch ?? (e is RpcException ? "the peer " : "") + PeerText.Of(e);
                state.Set(PeerState.Failing, error);
                LogPullFailed(logger, address, origin, failures, error);
            }
            finally
            {
                stall?.Dispose();
                stall = null;
                reconnect?.Dispose();
                reconnect = null;
            }
            // Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... at most 30 s, each ±50%.
            var delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 500 * Math.Pow(2, Math.Min(failures, 10))) * (0.5 + Random.Shared.NextDouble()));
            try
            {
                await Task.Delay(failures == 0 ? TimeSpan.FromMilliseconds(200) : delay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// A channel to <paramref name="peer"/> whose calls carry the node's token for it; an https peer is trusted against
    /// Tls:CaFile alone, and must prove with its certificate whose node it is (<paramref name="identity"/> says why not).
    /// </summary>
    /// <param name="pingAfter">When set: a pull that has caught up follows the feed on one long-lived connection and expects
    /// nothing, so no stall timeout is running: HTTP/2 pings after this long without traffic find out when that connection went
    /// half-open (the peer's answers lost on the way, a middlebox that dropped its state), and the pull connects again instead
    /// of following a dead connection for good.</param>
    internal static GrpcChannel OpenChannel(PeerOptions peer, TokenClient tokens, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate,
        TlsOptions tls, out PeerIdentity identity, TimeSpan? pingAfter = null)
    {
        var handler = FederationTrust.CreateHandler(tls.CaFile, certificate);
        if (pingAfter is { } after)
        {
            handler.KeepAlivePingDelay = after;
            handler.KeepAlivePingTimeout = after;
            handler.KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests;
        }
        identity = new PeerIdentity(peer.Country);
        identity.Check(handler);
        return GrpcChannel.ForAddress(peer.Address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            Credentials = ChannelCredentials.Create(
                peer.Address.StartsWith("https", StringComparison.Ordinal) ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure, tokens.ToCallCredentials()),
            UnsafeUseInsecureChannelCallCredentials = new Uri(peer.Address).IsLoopback,
        });
    }

    /// <summary>What this node holds of <paramref name="origin"/>'s log: where to resume (<see cref="ResumePointAsync"/>) and the verifier from there on (<see cref="ChainFromAsync"/>).</summary>
    private async Task<(long Applied, long Resume, long? NextRelease, bool NotHeld, ChainVerifier Verifier)> HeldHereAsync(string origin, CancellationToken cancellationToken)
    {
        var (applied, resume, nextRelease, notHeld) = await ResumePointAsync(origin, cancellationToken);
        var (from, verifier) = await ChainFromAsync(origin, resume, cancellationToken);
        return (applied, from, nextRelease, notHeld, verifier);
    }

    /// <summary>
    /// A message of <paramref name="origin"/>'s feed from <paramref name="peer"/>, checked and verified before anything of it
    /// is written: times in range, changes the peer may hold, the chain against the signed heads (<paramref name="verifier"/>),
    /// heads that come while the peer says it holds up to <paramref name="held"/>, what is withheld against the verified
    /// policies, and the content. <paramref name="accepted"/> runs once the chain is verified. <paramref name="whole"/>: the node
    /// pulls its own State's log (recovery), and every change must come with its content (<see cref="ReplicaRules.CheckWhole"/>).
    /// </summary>
    internal static VerifiedChanges CheckMessage(StreamChangesResponse message, ChainVerifier verifier, ReplicaRules rules, string origin, PeerOptions peer,
        Sharing.Reader self, long now, long held, Action<VerifiedChanges>? accepted = null, bool whole = false)
    {
        ChainVerifier.RequireTimesInRange(message); // before any rule converts a time
        ReplicaRules.CheckMayHold(message.Changes, peer.Reader, peer.Address, now);
        var verified = verifier.Accept(message);
        accepted?.Invoke(verified);
        ReplicaRules.CheckHeadsCome(origin, peer.Address, held, verifier.Pending);
        ReplicaRules.CheckWithheldByPolicy(verified.Changes, self, peer.Address, now, fromOrigin: peer.Country == origin); // against the policies just verified
        if (whole)
        {
            ReplicaRules.CheckWhole(verified.Changes, origin, peer.Address);
        }
        rules.CheckContent(origin, verified.Changes); // here rather than under the write lock: it overlaps the last message's writes
        return verified with { ContentChecked = true };
    }

    /// <summary>
    /// Where to resume: after the last change held here, or before the first placeholder to ask for again
    /// (an embargo that has ended, or a change a relay did not hold); and when the next embargo held here ends.
    /// </summary>
    private async Task<(long Applied, long Resume, long? NextRelease, bool NotHeld)> ResumePointAsync(string origin, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        var applied = (await OriginLog.LastChangeAsync(db, origin, cancellationToken)).Sequence;
        var now = Now();
        var placeholders = db.WithheldChanges.AsNoTracking().Where(w => w.Origin == origin);
        var again = await placeholders
            .Where(w => w.Reason == Withholding.NotHeld || (w.Reason == Withholding.Embargoed && (w.ReleaseTime == null || w.ReleaseTime <= now)))
            .OrderBy(w => w.OriginSequence)
            .Select(w => (long?)w.OriginSequence)
            .FirstOrDefaultAsync(cancellationToken);
        var nextRelease = await placeholders
            .Where(w => w.Reason == Withholding.Embargoed && w.ReleaseTime > now)
            .MinAsync(w => w.ReleaseTime, cancellationToken);
        var notHeld = await placeholders.AnyAsync(w => w.Reason == Withholding.NotHeld, cancellationToken);
        return (applied, again is { } first ? Math.Min(applied, first - 1) : applied, nextRelease, notHeld);
    }

    /// <summary>
    /// The stream's messages, each next one received and parsed on another thread while the caller applies
    /// the last: a feed's message takes about as long to parse as a third of its writes.
    /// </summary>
    private static async IAsyncEnumerable<TResult> ReadAheadAsync<T, TResult>(
        IAsyncStreamReader<T> stream, Func<T, TResult> check, Func<TResult, bool> isEmpty, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        where TResult : class
    {
        // A message that releases nothing (its changes wait for a head in the next one) is not handed to the
        // writer: the read goes on at once, so the writer is not left idle for a whole read.
        async Task<TResult?> ReadAsync()
        {
            while (await stream.MoveNext(cancellationToken))
            {
                var result = check(stream.Current);
                if (!isEmpty(result))
                {
                    return result;
                }
            }
            return null;
        }
        var next = Task.Run(ReadAsync, cancellationToken);
        try
        {
            while (await next is { } current)
            {
                next = Task.Run(ReadAsync, cancellationToken);
                yield return current;
            }
        }
        finally
        {
            // The caller stopped early (a failed batch, a reconnect): the call's end fails the read ahead; observe it.
            _ = next.ContinueWith(static read => read.Exception, TaskContinuationOptions.OnlyOnFaulted);
        }
    }

    /// <summary>
    /// The verifier of <paramref name="origin"/>'s log from <paramref name="resume"/> on: the link held here at
    /// that change, and the keys rotations held here handed over to and from. A copy held from before logs were signed
    /// has no links: the pull then starts from the origin's first change, and the attested log replaces it.
    /// </summary>
    private Task<(long Resume, ChainVerifier Verifier)> ChainFromAsync(string origin, long resume, CancellationToken cancellationToken) =>
        ChainFromAsync(scopes, logKeys, Now, origin, resume, cancellationToken);

    /// <summary>As <see cref="ChainFromAsync(string, long, CancellationToken)"/>, for any puller of the log (<see cref="OriginRecovery"/>).</summary>
    internal static async Task<(long Resume, ChainVerifier Verifier)> ChainFromAsync(
        IServiceScopeFactory scopes, ILogKeys logKeys, Func<long> Now, string origin, long resume, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        await db.Database.OpenConnectionAsync(cancellationToken);
        var (_, time, hash) = await OriginLog.LinkAsync(db.Database.GetDbConnection(), null, origin, resume, cancellationToken);
        if (hash is null)
        {
            (resume, time, hash) = (0, 0, []);
        }
        var (handedOver, rotatedAway) = await ChainVerifier.HandoversAsync(db, origin, cancellationToken);
        return (resume, new ChainVerifier(origin, resume, hash, time, logKeys, Now, handedOver, rotatedAway));
    }

    private long Now() => StoreTime.ToMicros(clock.GetUtcNow());

    /// <summary>
    /// Asks the peer every Node:LifecyclePollInterval for <paramref name="origin"/>'s lifecycle entries after the last held here,
    /// and stores those <see cref="Approval.LifecycleLog.VerifyAsync"/> passes. A refused entry reports the peer Failing with
    /// the reason (nothing of the answer is written); a peer that predates approvals (UNIMPLEMENTED) is asked again later.
    /// </summary>
    private async Task PullLifecycleAsync(GrpcChannel channel, string origin, string address, PeerStates.Entry state, Action approved, CancellationToken cancellationToken)
    {
        var client = new Mirps.Approval.V1.ApprovalService.ApprovalServiceClient(channel);
        // The log's head held here when this peer was last asked for every reason missing here (-1: not yet), and when to ask it again
        // with the head unchanged: pauses doubling as for changes a relay did not hold.
        var (reasonsAskedAt, reasonPause, reasonsAgainAt) = (-1L, FirstNotHeldPause, DateTimeOffset.MinValue);
        while (!cancellationToken.IsCancellationRequested)
        {
            var more = false;
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var log = scope.ServiceProvider.GetRequiredService<Approval.LifecycleLog>();
                var (after, _, _) = await log.LastAsync(origin, cancellationToken);
                var page = await client.ListLifecycleEntriesAsync(new Mirps.Approval.V1.ListLifecycleEntriesRequest { Origin = origin, AfterEntrySequence = after },
                    deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cancellationToken);
                var verified = await log.VerifyAsync(origin, after, page.Entries, catalogue, logKeys, cancellationToken);
                var applied = await log.ApplyAsync(origin, verified, cancellationToken);
                more = applied == Approval.LifecycleLog.MaxPage;
                // The head held here: read again only when some of the page was not stored by this pull (another stored it meanwhile).
                var head = page.Entries.Count > applied ? (await log.LastAsync(origin, cancellationToken)).Sequence : after + applied;
                if (!more && (head != reasonsAskedAt || clock.GetUtcNow() >= reasonsAgainAt))
                {
                    reasonPause = head != reasonsAskedAt ? FirstNotHeldPause : TimeSpan.FromTicks(Math.Min(reasonPause.Ticks * 2, MaxNotHeldPause.Ticks));
                    await AskForReasonsAsync(client, log, origin, cancellationToken);
                    (reasonsAskedAt, reasonsAgainAt) = (head, clock.GetUtcNow() + reasonPause);
                }
                if (origin == MirpsAuth.Secretariat)
                {
                    state.Set(PeerState.Connected); // its only pull: the peer answered and what it sent verified
                    if (!states.DecisionLogAnswered && await DecisionLogReachesHighWaterAsync(log, cancellationToken))
                    {
                        states.DecisionLogPulled();
                    }
                }
                if (verified.Any(v => v.Entry.Action == LifecycleAction.Approve) && await log.HoldsNotHeldAsync(origin, cancellationToken))
                {
                    approved();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (PeerRefusedException refused)
            {
                state.Set(PeerState.Failing, refused.Error);
                LogLifecycleRefused(logger, address, origin, refused.Error);
            }
            catch (Exception e) when (e is RpcException or HttpRequestException or TokenRequestException or System.Data.Common.DbException or ObjectDisposedException)
            {
                // Asked again next round: the change pull reports the peer's reachability.
            }
            if (more)
            {
                continue;
            }
            try
            {
                await Task.Delay(options.Value.LifecyclePollInterval, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Reasons this node may read but holds without their text (a relay that may not pass them on served the entries, or one that
    /// strips them): asked of this peer, every page from each missing one on, and taken where they match the reason hash signed.
    /// Every peer listing the origin is asked so from its own pull, at once for each new head of the log held here, and with the head
    /// unchanged only after pauses that double (2 s to 5 minutes): a text no peer serves costs a request per peer every 5 minutes at
    /// most, not one on every poll for as long as the node runs (second hostile review, finding 6).
    /// </summary>
    private async Task AskForReasonsAsync(Mirps.Approval.V1.ApprovalService.ApprovalServiceClient client, Approval.LifecycleLog log, string origin, CancellationToken cancellationToken)
    {
        var self = Sharing.Reader.OfNode(options.Value.Country);
        for (var first = await log.FirstWithoutReasonAsync(origin, self, 0, cancellationToken); first > 0;)
        {
            var page = await client.ListLifecycleEntriesAsync(new Mirps.Approval.V1.ListLifecycleEntriesRequest { Origin = origin, AfterEntrySequence = first - 1 },
                deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cancellationToken);
            await log.FillReasonsAsync(origin, page.Entries, cancellationToken);
            if (page.Entries.Count == 0 || page.Entries[^1].EntrySequence < first)
            {
                return; // the peer holds no more of the log (or answers out of order): nothing further from it
            }
            first = await log.FirstWithoutReasonAsync(origin, self, page.Entries[^1].EntrySequence, cancellationToken);
        }
    }

    /// <summary>
    /// Whether the Secretariat's decision log held here reaches how far this node signed it (its high-water mark, on the
    /// Secretariat's node; a State's node signs none of it): only then does a peer's answer count as the federation's (hostile
    /// review, finding 1: an empty page from a hostile State lifted the guard of a Secretariat restored below its last decision).
    /// </summary>
    private async Task<bool> DecisionLogReachesHighWaterAsync(Approval.LifecycleLog log, CancellationToken cancellationToken) =>
        options.Value.Country.Length > 0
        || (await log.LastAsync(MirpsAuth.Secretariat, cancellationToken)).Sequence >= (services.GetRequiredService<RestoreDetection>().Signed()?.Entries ?? 0);

    /// <summary>A loop run beside the caller until it is disposed (or its stopping token fires).</summary>
    private sealed class BackgroundLoop : IDisposable
    {
        private readonly CancellationTokenSource _stop;

        public BackgroundLoop(Func<CancellationToken, Task> loop, CancellationToken stoppingToken)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var token = _stop.Token;
            _ = Task.Run(() => loop(token), CancellationToken.None);
        }

        public void Dispose() => _stop.Cancel();
    }

    [LoggerMessage(EventName = "LifecycleEntryRefused", Level = LogLevel.Warning, Message = "Refused {Origin}'s lifecycle entries from {Peer}: {Error}")]
    private static partial void LogLifecycleRefused(ILogger logger, string peer, string origin, string error);

    [LoggerMessage(EventName = "PeerPullFailed", Level = LogLevel.Warning, Message = "Pulling {Origin} from {Peer} failed ({Failures} in a row): {Error}")]
    private static partial void LogPullFailed(ILogger logger, string peer, string origin, int failures, string error);

    [LoggerMessage(EventName = "PeerCatalogueMismatch", Level = LogLevel.Error, Message = "Not pulling {Origin} from {Peer}: {Error}")]
    private static partial void LogCatalogueMismatch(ILogger logger, string peer, string origin, string error);
}

/// <summary>
/// A TLS peer's proven identity: the party its certificate names (urn:mirps:PAN, urn:mirps:secretariat)
/// must be the one Node:Peers configures, or the handshake is refused, before any token or request is
/// sent, and <see cref="Mismatch"/> says why, naming both.
/// </summary>
public sealed class PeerIdentity(string configured)
{
    private readonly string _expected = Mirps.Tls.FederationIdentity.Normalize(configured);

    /// <summary>Why the last handshake was refused (an invalid certificate, or one naming another party), or null.</summary>
    public string? Mismatch { get; private set; }

    /// <summary>Adds the check to the handler's own certificate validation (chain to the federation CA, host name).</summary>
    public void Check(SocketsHttpHandler handler) => handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
    {
        if (errors != System.Net.Security.SslPolicyErrors.None || certificate is null || !Mirps.Tls.FederationTrust.IssuedDirectlyByCa(chain))
        {
            Mismatch = $"PEER_CERTIFICATE_INVALID: the peer's certificate is not valid for this federation ({errors}: it must chain to Tls:CaFile and name the address); nothing is pulled from it";
            return false;
        }
        using var presented = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var named = Mirps.Tls.FederationIdentity.PartyOf(presented);
        if (named is null || named != _expected)
        {
            Mismatch = $"PEER_IDENTITY_MISMATCH: the peer's certificate names {named ?? "no MIRPS party"}, but Node:Peers configures it as {_expected}'s node; nothing is pulled from it";
            return false;
        }
        Mismatch = null;
        return true;
    };
}

/// <summary>
/// The live state of every pull, for the status call, health checks and metrics: its state, what is applied here,
/// and how far it lags behind what the peer holds (sequences, and how long the oldest change not yet here has waited).
/// </summary>
public sealed class PeerStates
{
    private readonly ConcurrentDictionary<(string Address, string Origin), Entry> _entries = new();
    private readonly TimeProvider _clock;
    private readonly TaskCompletionSource _decisionLogAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Whether a peer answered a pull of the Secretariat's decision log (origin "secretariat") since this node started, and
    /// this node then held the log up to its high-water mark (on the Secretariat's node; an empty page below it is no answer).
    /// </summary>
    public bool DecisionLogAnswered => _decisionLogAnswered.Task.IsCompleted;

    /// <summary>Completes when <see cref="DecisionLogAnswered"/> first holds.</summary>
    public Task DecisionLogAnsweredTask => _decisionLogAnswered.Task;

    /// <summary>A peer answered a pull of the Secretariat's decision log, what it sent verified, and the log held here reaches the high-water mark.</summary>
    public void DecisionLogPulled() => _decisionLogAnswered.TrySetResult();

    public PeerStates(TimeProvider clock, System.Diagnostics.Metrics.IMeterFactory meters)
    {
        _clock = clock;
        var meter = System.Diagnostics.Metrics.MeterFactoryExtensions.Create(meters, MirpsExchange.Node.Extensions.NodeExtensions.MeterName);
        meter.CreateObservableGauge("mirps.sync.peer.lag.changes", () => Measure(s => s.SequencesBehind), "{change}",
            "How many of the origin's changes the peer holds that are not applied here yet, per peer and origin.");
        meter.CreateObservableGauge("mirps.sync.peer.lag.time", () => Measure(s => s.TimeBehind?.ToTimeSpan().TotalSeconds ?? 0), "s",
            "How long the oldest change held by the peer and not applied here has waited since the origin recorded it, per peer and origin.");
        meter.CreateObservableGauge("mirps.sync.peer.applied", () => Measure(s => s.AppliedSequence), "{change}",
            "The last sequence of the origin applied here, per peer and origin.");
        _notHeld = meter.CreateCounter<long>("mirps.sync.peer.not_held", "{change}",
            "NOT_HELD placeholders received from the peer (a relay that does not hold a change this node may read, or a draft its origin holds back), " +
            "per peer and origin, each time the peer sends one: regional figures read the origin's log only up to the head before the first.");
    }

    private readonly System.Diagnostics.Metrics.Counter<long> _notHeld;

    public Entry Register(string address, string origin) => _entries.GetOrAdd((address, origin), key => new Entry(key.Address, key.Origin, _clock, _notHeld));

    public IReadOnlyList<PeerStatus> Snapshot() => [.. _entries.Values.OrderBy(e => e.Address).ThenBy(e => e.Origin).Select(e => e.ToMessage())];

    private IEnumerable<System.Diagnostics.Metrics.Measurement<T>> Measure<T>(Func<PeerStatus, T> value) where T : struct =>
        Snapshot().Select(s => new System.Diagnostics.Metrics.Measurement<T>(value(s), new KeyValuePair<string, object?>("peer", s.Address), new KeyValuePair<string, object?>("origin", s.Origin)));

    public sealed class Entry(string address, string origin, TimeProvider clock, System.Diagnostics.Metrics.Counter<long>? notHeld = null)
    {
        public string Address => address;
        public string Origin => origin;

        private readonly Lock _lock = new();
        private PeerState _state = PeerState.Connecting;
        private string _error = "";
        private long _applied;
        private Google.Protobuf.WellKnownTypes.Timestamp? _lastChange;
        // What the peer is known to hold: its latest sequence and that change's recorded time.
        private long _peerSequence;
        private Google.Protobuf.WellKnownTypes.Timestamp? _peerTime;
        // The first change of each message received and not yet applied (a few: one is read ahead of the writer), in sequence order.
        private readonly List<(long Sequence, Google.Protobuf.WellKnownTypes.Timestamp Time)> _pending = [];

        public void Set(PeerState state, string? error = null)
        {
            lock (_lock)
            {
                _state = state;
                // One line without control characters, whatever an error's text holds (each is built with the peer's words quoted: PeerText).
                _error = error is null ? (state == PeerState.Connected ? "" : _error) : PeerText.Clean(error, 2 * PeerRefusedException.MaxLength);
            }
        }

        public void Applied(long sequence, Google.Protobuf.WellKnownTypes.Timestamp? time)
        {
            lock (_lock)
            {
                _applied = sequence;
                _lastChange = time ?? _lastChange;
                _pending.RemoveAll(p => p.Sequence <= sequence);
            }
        }

        /// <summary>The peer's status: it holds the origin's log up to <paramref name="sequence"/>, last recorded at <paramref name="time"/>.</summary>
        public void PeerHolds(long sequence, Google.Protobuf.WellKnownTypes.Timestamp? time)
        {
            lock (_lock)
            {
                _peerSequence = sequence;
                _peerTime = time;
                _pending.Clear(); // a new connection: what was read ahead on the last one is asked for again
            }
        }

        /// <summary>A message of the feed, received (not yet applied): the peer holds at least its changes, and says it does not hold its NOT_HELD ones.</summary>
        public void Received(IReadOnlyList<Mirps.Observation.V1.StoredObservation> changes)
        {
            if (changes.Count == 0)
            {
                return;
            }
            var notHeldCount = 0;
            foreach (var change in changes)
            {
                notHeldCount += change.Withholding == Mirps.Observation.V1.Withholding.NotHeld ? 1 : 0;
            }
            if (notHeldCount > 0)
            {
                notHeld?.Add(notHeldCount, new KeyValuePair<string, object?>("peer", address), new KeyValuePair<string, object?>("origin", origin));
            }
            lock (_lock)
            {
                var (first, last) = (changes[0], changes[^1]);
                if (last.OriginSequence > _peerSequence)
                {
                    (_peerSequence, _peerTime) = (last.OriginSequence, last.RecordedTime);
                }
                if (first.OriginSequence > _applied && first.RecordedTime is not null && (_pending.Count == 0 || _pending[^1].Sequence < first.OriginSequence))
                {
                    _pending.Add((first.OriginSequence, first.RecordedTime));
                }
            }
        }

        public PeerStatus ToMessage()
        {
            lock (_lock)
            {
                var behind = Math.Max(0, _peerSequence - _applied);
                var status = new PeerStatus
                {
                    Address = address, Origin = origin, State = _state, AppliedSequence = _applied, LastError = _error,
                    PeerSequence = _peerSequence, SequencesBehind = behind,
                };
                if (_lastChange is not null)
                {
                    status.LastChangeTime = _lastChange;
                }
                if (behind > 0)
                {
                    // The oldest change known not to be here: the first of a message received, else (known from the status
                    // alone) the peer's latest, which is no older than the first missing one: a lower bound.
                    var oldest = _pending.Count > 0 ? _pending[0].Time : _peerTime;
                    var waited = oldest is null ? TimeSpan.Zero : clock.GetUtcNow() - oldest.ToDateTimeOffset();
                    status.TimeBehind = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(waited > TimeSpan.Zero ? waited : TimeSpan.Zero);
                }
                else
                {
                    status.TimeBehind = new Google.Protobuf.WellKnownTypes.Duration();
                }
                return status;
            }
        }
    }
}
