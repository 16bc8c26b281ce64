using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using Mirps.Tls;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// Whether the node's own write path may write: not while it is behind what its replicas hold of its own log
/// (<see cref="OriginRecovery"/>), since its next sequence numbers are then already taken by changes it lost.
/// </summary>
public sealed class RecoveryState(IOptions<NodeOptions> options, Store.StoreLock? storeLock = null)
{
    /// <summary>The reason submits are refused with while the node recovers (UNAVAILABLE).</summary>
    public const string Recovering = "RECOVERING";

    /// <summary>The refusal of a write, and the status code it is refused with.</summary>
    private sealed record Refused(Google.Rpc.Code Code, string Reason, string Why);

    // A State's node with peers writes nothing until the start-up check (OriginRecovery) says it may, even if a submit came first;
    // nor does the Secretariat's node add to its decision log before it has compared it with how far it signed it.
    private volatile Refused? _refusal = options.Value switch
    {
        { Country.Length: > 0, Peers.Count: > 0 } node =>
            new(Google.Rpc.Code.Unavailable, Recovering, $"{node.Country}'s node is comparing its log with what its peers hold of it (start-up); try again shortly"),
        { Country.Length: 0 } => new(Google.Rpc.Code.Unavailable, Recovering, "the Secretariat's node is comparing its decision log with how far it signed it (start-up); try again shortly"),
        _ => null,
    };

    /// <summary>
    /// Refuses a write while the node recovers its log or could not: UNAVAILABLE, RECOVERING (try again shortly), or
    /// FAILED_PRECONDITION with the reason (<see cref="OriginRecovery.QuorumMissing"/>, <see cref="OriginRecovery.NoSignedHead"/>)
    /// when it waits for the federation to prove its log's head; the message says why. FAILED_PRECONDITION,
    /// <see cref="Store.StoreLock.LostReason"/>, while the node does not hold its PostgreSQL store's lock.
    /// </summary>
    public void RequireWritable()
    {
        storeLock?.WritableNow(); // first: a write allowed here is refused by the fence if the lock is taken again before its transaction
        if (storeLock?.Lost is { } lost)
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, Store.StoreLock.LostReason, lost); // another session may be restoring the store
        }
        if (_refusal is { } refusal)
        {
            throw RpcErrors.WithReason(refusal.Code, refusal.Reason, refusal.Why);
        }
    }

    /// <summary>Null when the node writes; otherwise why it does not (recovering its log, or waiting for a quorum).</summary>
    public string? Refusal => _refusal?.Why;

    /// <summary>
    /// Why the node's own State's writes are refused, as GetSyncStatus.write_refusal (and so mirps sync status) shows it: while
    /// the node does not hold its PostgreSQL store's lock, <see cref="Store.StoreLock.LostReason"/> and why (the refusal a
    /// submit gets first, <see cref="RequireWritable"/>); else <see cref="Refusal"/>. Null when writes are accepted.
    /// </summary>
    public string? WriteRefusal => storeLock?.Lost is { } lost ? $"{Store.StoreLock.LostReason}: {lost}" : Refusal;

    /// <summary>The reason writes are refused with (null when the node writes).</summary>
    public string? Reason => _refusal?.Reason;

    // One line, without control characters, whatever a peer's text inside it did (PeerText quotes it where it is taken in).
    internal void Refuse(string why) => _refusal = new(Google.Rpc.Code.Unavailable, Recovering, PeerText.Clean(why));

    /// <summary>Refuses writes until the federation proves the log's head (FAILED_PRECONDITION with <paramref name="reason"/>).</summary>
    internal void Await(string reason, string why) => _refusal = new(Google.Rpc.Code.FailedPrecondition, reason, PeerText.Clean(why));

    internal void Ready() => _refusal = null;
}

/// <summary>The node's "recovery" health: degraded while it refuses writes (recovering its log, or waiting for the federation to prove it), saying why.</summary>
public sealed class RecoveryHealthCheck(RecoveryState state) : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
{
    public Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.Refusal is { } why
            ? Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Degraded($"writes refused ({state.Reason}): {why}")
            : Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy("the node's own log is as the federation holds it; writes accepted"));
}

/// <summary>
/// A State's node that lost its disk, or was restored from an old backup, recovers its own history from its replicas.
/// A store restored with `mirps restore`, or put back below how far the node signed its logs by any other means
/// (<see cref="RestoreDetection"/>), must recover as with Node:Recover.
/// At start (before the node listens) it asks every Node:Peers node what it holds of the State's own log; when one holds
/// more than the store (as far as a head of the log it shows, signed with the State's published log key, covers: a claim
/// without one is never counted as a higher head, so it can neither hold writes refused as one nor clear a restored store's mark;
/// under a quorum check it counts as a peer that answered without proving, against the majority: docs/sync.md, finding B),
/// the node takes the rest from the peer that holds most, exactly as a replica pulls (the origin's
/// signed heads verified with its published log keys, <see cref="ChainVerifier"/>, then <see cref="ReplicaRules"/> and
/// <see cref="ReplicaWriter"/>), so a replica cannot feed it invented history; its next submit then continues the
/// sequence, with no gap and no reuse. Submits are refused (UNAVAILABLE, <see cref="RecoveryState.Recovering"/>) until it
/// is done. A peer that serves a history the keys do not verify is passed over (its claim proven false), with an error;
/// with Node:RecoverFrom only that peer is used, and refused when another holds more (RECOVERY_SOURCE_BEHIND).
/// Every change must come with its content (the origin may read all of its own data): a source that serves one as a placeholder
/// is refused for it (OWN_CHANGE_NOT_HELD) and the next is asked, so a peer cannot leave the node sequence numbers without content
/// that another holds. Only when no source serves some change whole (a draft or an embargo every replica holds as a placeholder)
/// do its placeholders come back: their sequence is taken, their content is not recovered.
/// When writes wait for a recovery (Node:Recover, or a store restored from a backup: the restore mark), the peers' answers
/// count only from a quorum that proves the State's head (the configured Secretariat with a signed head, and a majority of
/// the peers that answered: <see cref="QuorumMissing"/>), and writes never resume below the highest signed head shown, so
/// one peer showing a genuine but stale head cannot make the node reuse a sequence the federation holds (a fork).
/// Node:AcceptLocalHead is the operator's way out for a State whose log no peer holds (<see cref="NoSignedHead"/>).
/// The Secretariat's node runs the same check for its decision log (origin "secretariat", its only log): a store below its
/// high-water mark takes the missing entries from the peers whose origins list secretariat, verified, and refuses decisions
/// (<see cref="BelowHighWater"/>) until it holds them or the loss is accepted; then its earlier, unsigned decisions are signed
/// (<see cref="Approval.DecisionLogGuard"/>). No quorum: its entries carry its own signature, so one peer that serves them proves them.
/// </summary>
public sealed partial class OriginRecovery(
    IOptions<NodeOptions> options,
    IOptions<TlsOptions> tls,
    IServiceScopeFactory scopes,
    StandardCatalogue catalogue,
    ILogKeys logKeys,
    ReplicaRules rules,
    RecoveryState state,
    TimeProvider clock,
    IServiceProvider services,
    ILogger<OriginRecovery> logger) : IHostedService, IDisposable
{
    /// <summary>A recovery source holds less of the log than another peer (Node:RecoverFrom).</summary>
    public const string SourceBehind = "RECOVERY_SOURCE_BEHIND";

    /// <summary>No peer answered (Node:Recover), or every one that holds more served a history that does not verify.</summary>
    public const string NoSource = "RECOVERY_NO_SOURCE";

    /// <summary>
    /// A node whose writes wait for a recovery (Node:Recover, a restored store) has no quorum that proves its log's head: the
    /// Secretariat did not answer with a head signed by the State, or not a majority of the peers that answered did.
    /// Submits get FAILED_PRECONDITION with this reason; the check is made again every Node:RecoveryRetryInterval.
    /// </summary>
    public const string QuorumMissing = "RECOVERY_QUORUM_MISSING";

    /// <summary>
    /// As <see cref="QuorumMissing"/>, but the Secretariat answered that it holds none of the State's log: nothing proves
    /// the head. Node:AcceptLocalHead accepts the store's head once a quorum confirms that no peer holds more.
    /// </summary>
    public const string NoSignedHead = "RECOVERY_NO_SIGNED_HEAD";

    /// <summary>
    /// A restored store's node had signed its log further (its high-water mark, kept beside its log-signing key) than any
    /// source proves: those sequences are taken (a peer out of reach may hold them), so the node writes none of them again.
    /// Writes stay refused, the check made again every Node:RecoveryRetryInterval, until a source serves the log up to the
    /// mark; Node:AcceptLocalHead accepts the loss (logged at Error level, naming the sequences signed again).
    /// </summary>
    public const string BelowHighWater = "RECOVERY_BELOW_HIGH_WATER";

    // The session reads the host's services through these.
    private IOptions<NodeOptions> OptionsP => options;
    private IOptions<TlsOptions> TlsP => tls;
    private IServiceScopeFactory ScopesP => scopes;
    private StandardCatalogue CatalogueP => catalogue;
    private ILogKeys LogKeysP => logKeys;
    private ReplicaRules RulesP => rules;
    private RecoveryState StateP => state;
    private TimeProvider ClockP => clock;
    private ILogger<OriginRecovery> LoggerP => logger;

    private readonly CancellationTokenSource _stopping = new();
    private Task _recovery = Task.CompletedTask;
    private Task _retrying = Task.CompletedTask;

    /// <summary>Completes when the node's recovery is over (at once when there was nothing to recover).</summary>
    public Task Completion => _recovery;

    private readonly TaskCompletionSource _checked = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes when the start-up check is over (the node then writes, recovers, or waits for its quorum; or the check
    /// failed, and the host stops): a pull of the node's own State's log waits for it. Pulls of other origins do not (see
    /// <see cref="SyncExtensions.AddPeerSync"/>).
    /// </summary>
    public Task Checked => _checked.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await CheckAtStartAsync(cancellationToken);
        }
        finally
        {
            _checked.TrySetResult();
        }
    }

    private async Task CheckAtStartAsync(CancellationToken cancellationToken)
    {
        Extensions.StartUpTimeline.Mark("recovery check starts");
        var node = options.Value;
        await DetectRestoreAsync(cancellationToken);
        if (node.AcceptLocalHead && !MustRecover)
        {
            LogAcceptLocalHeadIgnored(logger, Origin);
        }
        await CheckPeersAsync(() => new Session(this, node.Peers.Count > 0 ? services.GetRequiredService<PeerCredentials>() : null), cancellationToken);
    }

    /// <summary>
    /// A store restored from a backup (mirps restore), or put back below how far the node signed its log (any restore
    /// method, Store/RestoreDetection), must recover as with Node:Recover, until a recovery succeeds. The Secretariat's
    /// node too, for its decision log (hostile review, finding 1).
    /// </summary>
    private async Task DetectRestoreAsync(CancellationToken cancellationToken)
    {
        _restoredWhy = await StoreAsync((detection, connection, token) => detection.WhyRestoredAsync(connection, token), cancellationToken);
        _restored = _restoredWhy is not null;
        _signedMark = _restored ? await StoreAsync((detection, _, _) => Task.FromResult(detection.Signed() ?? default), cancellationToken) : default;
    }

    private Task _rechecking = Task.CompletedTask;

    /// <summary>
    /// The node took its PostgreSQL store's lock back after losing it (<see cref="Store.StoreLock"/>, review finding 4): another
    /// session may have restored the store meanwhile (mirps restore, pg_restore, a data-only restore), which would make the
    /// node's next write take a sequence the federation already holds. The start-up check is made again: a store found
    /// restored refuses writes (UNAVAILABLE, RECOVERING) before this returns, and then compares with its peers, recovers, or
    /// waits for its quorum, exactly as at start-up. The lock keeps writes refused until this returns. The start-up check, a
    /// recovery, its retries for a quorum or an earlier re-check that is under way is waited for first (second hostile review,
    /// finding 5): each may have read the store before it was restored, and would let writes resume on what it read; only
    /// then is the store looked at.
    /// </summary>
    public async Task CheckAfterStoreLockRetakenAsync(CancellationToken cancellationToken)
    {
        // Each may start the next (a re-check recovers, a recovery retries): until none runs. Their failures are their own (logged, writes refused).
        var running = Running();
        if (!running.IsCompleted)
        {
            LogRetakenWaiting(logger, Origin);
        }
        for (; !running.IsCompleted; running = Running())
        {
            await running.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).WaitAsync(cancellationToken);
        }
        await DetectRestoreAsync(cancellationToken);
        if (!_restored)
        {
            return;
        }
        state.Refuse($"{(IsSecretariat ? "The Secretariat" : options.Value.Country)}'s node took its store's lock back and found {_restoredWhy}: it compares its log with what its peers hold of it before it writes");
        _rechecking = Task.Run(async () =>
        {
            try
            {
                await CheckPeersAsync(() => new Session(this), _stopping.Token);
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                Fail($"{NoSource}: {Why}, and the check of what its peers hold failed ({e.GetType().Name}: {PeerText.Of(e)}); writes are refused until the node is restarted");
            }
        }, CancellationToken.None);
    }

    /// <summary>What of the start-up check, a recovery, its retries and a re-check after the store lock was taken back still runs.</summary>
    private Task Running() => Task.WhenAll(_checked.Task, _recovery, _retrying, _rechecking);

    /// <summary>
    /// Compares the store's log with what the peers hold of it (a session from <paramref name="open"/>): writes resume, or
    /// the node recovers in the background (<see cref="_recovery"/>), or waits for a quorum and asks again (<see cref="_retrying"/>).
    /// </summary>
    private async Task CheckPeersAsync(Func<Session> open, CancellationToken cancellationToken)
    {
        // The recovery's writes, and those of the tasks it starts, go on while a lock taken back waits for the store's check (StoreLockFence).
        using var recovering = Store.StoreLock.RecoveryWrites();
        var node = options.Value;
        if (IsSecretariat && !MustRecover)
        {
            await RecoveredAsync(cancellationToken); // its decision log reaches the mark: it decides (DecisionLogGuard)
            return;
        }
        if (!IsSecretariat && node.Peers.Count == 0)
        {
            if (MustRecover)
            {
                Fail($"{NoSource}: {Why}, but Node:Peers names no node to recover {node.Country}'s log from; writes are refused");
            }
            return;
        }
        var session = open();
        try
        {
            var behind = await session.CheckAsync(cancellationToken);
            Extensions.StartUpTimeline.Mark("recovery checked");
            if (behind is null)
            {
                session.Dispose();
                await RecoveredAsync(cancellationToken);
                return;
            }
            _recovery = Task.Run(async () =>
            {
                using (session)
                {
                    await RoundAsync(session, behind);
                }
            }, CancellationToken.None);
            // Without a quorum that proves the log's head, the check is made again until one answers (the node keeps serving reads meanwhile).
            _retrying = Task.Run(async () =>
            {
                await _recovery;
                while (state.Reason is QuorumMissing or NoSignedHead or BelowHighWater && !_stopping.IsCancellationRequested)
                {
                    try
                    {
                        await Task.Delay(node.RecoveryRetryInterval, clock, _stopping.Token);
                        using var again = new Session(this);
                        var next = await again.CheckAsync(_stopping.Token);
                        if (next is null)
                        {
                            await RecoveredAsync(_stopping.Token);
                            return;
                        }
                        await RoundAsync(again, next);
                    }
                    catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception e) when (e is RpcException or HttpRequestException or System.Data.Common.DbException or InvalidOperationException)
                    {
                        LogRecoveryFailed(logger, node.Country, $"the check of what the peers hold failed ({e.GetType().Name}: {PeerText.Of(e)}); it is made again");
                    }
                }
            }, CancellationToken.None);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Recovers what <paramref name="behind"/> names (nothing when the check refused writes).</summary>
    private async Task RoundAsync(Session session, Behind behind)
    {
        try
        {
            await session.RecoverAsync(behind, _stopping.Token);
        }
        catch (Exception e) when (!_stopping.IsCancellationRequested)
        {
            Fail($"{NoSource}: recovering {options.Value.Country}'s log failed ({e.GetType().Name}: {PeerText.Of(e)}); writes are refused until the node is restarted");
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        try
        {
            await Task.WhenAll(_rechecking, _recovery, _retrying, _earlierDecisions).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // stopped mid-recovery: the next start compares again
        }
    }

    public void Dispose() => _stopping.Dispose();

    private bool _restored;
    private string? _restoredWhy;

    /// <summary>How far the node signed its log (its high-water mark) when its store must recover: the recovery's floor (0: none, or the loss accepted).</summary>
    private (long Changes, long Entries) _signedMark;

    /// <summary>Whether writes wait for a recovery that succeeds: Node:Recover (a State's node), or a store restored from a backup.</summary>
    private bool MustRecover => options.Value.Recover && !IsSecretariat || _restored;

    /// <summary>The Secretariat's node: its only log of its own is its decision log, whose floor alone it checks (no change log, no quorum).</summary>
    private bool IsSecretariat => options.Value.Country.Length == 0;

    /// <summary>The origin of the node's own signed logs: its State, or the Secretariat's decision log ("secretariat").</summary>
    private string Origin => IsSecretariat ? MirpsAuth.Secretariat : options.Value.Country;

    private Task _earlierDecisions = Task.CompletedTask;

    private string Why => _restored ? $"{_restoredWhy}, so it must recover" : "Node:Recover is set";

    /// <summary>The node holds its log as its peers do: writes resume, and a restored store's mark is cleared.</summary>
    private async Task RecoveredAsync(CancellationToken cancellationToken)
    {
        if (_restored)
        {
            await StoreAsync(async (detection, connection, token) => { await detection.ClearAsync(connection, token); return (string?)null; }, cancellationToken);
            _restored = false;
        }
        state.Ready();
        if (IsSecretariat)
        {
            // Only now, on the log as the federation holds it (Approval/DecisionLogGuard).
            _earlierDecisions = await services.GetRequiredService<Approval.DecisionLogGuard>().StartSigningEarlierDecisionsAsync(services, _stopping.Token);
        }
    }

    private async Task<T> StoreAsync<T>(Func<RestoreDetection, System.Data.Common.DbConnection, CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        using var recovering = Store.StoreLock.RecoveryWrites(); // the store's check itself, made while the lock waits for it
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredKeyedService<NodeDbContext>(NodeDbContext.Writer);
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            return await action(scope.ServiceProvider.GetRequiredService<RestoreDetection>(), db.Database.GetDbConnection(), cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private void Fail(string why)
    {
        state.Refuse(why);
        LogRecoveryFailed(logger, options.Value.Country, why);
    }

    private long Now() => StoreTime.ToMicros(clock.GetUtcNow());

    /// <summary>
    /// What a peer proved it holds of the node's log (0: it holds none of it; null: it did not answer, or showed no signed head
    /// that backs its claim, <see cref="Error"/> says why), and whether it answered at all (<see cref="Reached"/>: as the peer
    /// configured, whatever it answered).
    /// </summary>
    private sealed record PeerHolding(PeerOptions Peer, long? Latest, string? Error, bool Reached);

    /// <summary>The node's own head and the peers that hold more, most first.</summary>
    private sealed record Behind(long Own, List<PeerHolding> Sources);

    /// <summary>The connections of one check and recovery: the client certificate and tokens (<see cref="PeerCredentials"/>), one channel per peer.</summary>
    private sealed class Session : IDisposable
    {
        private readonly OriginRecovery _owner;
        private PeerCredentials? _credentials;
        private readonly bool _ownsCredentials;
        private readonly Dictionary<string, (global::Grpc.Net.Client.GrpcChannel Channel, PeerIdentity Identity)> _channels = new(StringComparer.Ordinal);

        /// <param name="shared">The node's own (the start-up check: its tokens were asked for while the store was migrated, and
        /// the pulls use them too); null for a later check, which loads the credential and certificate afresh.</param>
        public Session(OriginRecovery owner, PeerCredentials? shared = null)
        {
            _owner = owner;
            (_credentials, _ownsCredentials) = (shared, shared is null);
        }

        private string Country => _owner.OptionsP.Value.Country;

        private string Origin => _owner.Origin;

        private SyncService.SyncServiceClient Client(PeerOptions peer, out PeerIdentity identity)
        {
            (global::Grpc.Net.Client.GrpcChannel Channel, PeerIdentity Identity) open;
            lock (_channels)
            {
                if (!_channels.TryGetValue(peer.Address, out open))
                {
                    // Pinged like a pull's channel: a source that keeps a connection open and silent is found out.
                    // Made on first use: a Secretariat's node with no peer to ask (nor a credential) checks its decision log's floor all the same.
                    _credentials ??= new PeerCredentials(_owner.OptionsP, _owner.TlsP);
                    var channel = PeerSyncWorker.OpenChannel(peer, _credentials.For(peer.Country), _credentials.Certificate, _owner.TlsP.Value, out var made, _owner.OptionsP.Value.PeerStallTimeout);
                    _channels[peer.Address] = open = (channel, made);
                }
            }
            identity = open.Identity;
            return new SyncService.SyncServiceClient(open.Channel);
        }

        /// <summary>
        /// Asks every peer what it holds of the node's log, beside the store's own head: null when none holds more
        /// (or, without Node:Recover, none answered), else where to recover from. Refuses (RECOVERY_SOURCE_BEHIND,
        /// RECOVERY_NO_SOURCE) with writes left refused. When writes wait for a recovery (Node:Recover, a restored store), the
        /// answer counts only from a quorum (<see cref="Quorum"/>); without one, writes stay refused (FAILED_PRECONDITION,
        /// <see cref="QuorumMissing"/> or <see cref="NoSignedHead"/>) and the check is made again later.
        /// </summary>
        public async Task<Behind?> CheckAsync(CancellationToken cancellationToken)
        {
            var node = _owner.OptionsP.Value;
            if (_owner.IsSecretariat)
            {
                // The Secretariat's decision log: its floor, from the peers that may hold the log (Node:Peers origins listing secretariat).
                return await LifecycleAboveHighWaterAsync(node.Peers.Where(p => p.Origins.Contains(MirpsAuth.Secretariat)), cancellationToken) ? null : new Behind(0, []);
            }
            var own = await OwnHeadAsync(cancellationToken);
            Dictionary<string, System.Security.Cryptography.ECDsa> handedOver;
            Dictionary<string, long> rotatedAway;
            await using (var scope = _owner.ScopesP.CreateAsyncScope())
            {
                (handedOver, rotatedAway) = await ChainVerifier.HandoversAsync(scope.ServiceProvider.GetRequiredService<NodeDbContext>(), Country, cancellationToken);
            }
            var holdings = await Task.WhenAll(node.Peers.Select(peer => HoldingAsync(peer, handedOver, rotatedAway, cancellationToken)));
            // Stopping mid-check: the calls cancelled are no peer's answer (nothing is refused or logged for them).
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var silent in holdings.Where(h => h.Latest is null))
            {
                LogPeerUnanswered(_owner.LoggerP, Country, silent.Peer.Address, silent.Error!);
            }
            if (_owner.MustRecover && !Quorum(own, holdings))
            {
                return new Behind(own, []); // writes stay refused until a quorum answers
            }
            if (_owner.MustRecover && !AboveHighWater(own, holdings))
            {
                return new Behind(own, []); // writes stay refused until a source proves the log up to the mark
            }
            // A peer that holds nothing of the log answers too (for the quorum), but is no source.
            var answered = holdings.Where(h => h.Latest > 0).OrderByDescending(h => h.Latest).ToList();
            if (answered.Count == 0)
            {
                return await NoneBehindAsync(own, holdings, cancellationToken); // none holds any of the log (with writes waiting for a recovery, the quorum accepted the store's head)
            }
            if (node.RecoverFrom.Length > 0)
            {
                var source = holdings.FirstOrDefault(h => string.Equals(h.Peer.Address.TrimEnd('/'), node.RecoverFrom.TrimEnd('/'), StringComparison.OrdinalIgnoreCase));
                if (source is null)
                {
                    _owner.Fail($"{NoSource}: Node:RecoverFrom ({node.RecoverFrom}) is not one of Node:Peers; writes are refused");
                    return new Behind(own, []);
                }
                if (source.Latest is null)
                {
                    _owner.Fail($"{NoSource}: the recovery source {source.Peer.Address} did not answer ({source.Error}); writes are refused");
                    return new Behind(own, []);
                }
                if (answered[0].Latest > source.Latest)
                {
                    _owner.Fail($"{SourceBehind}: the recovery source {source.Peer.Address} holds {Country}'s log up to change {source.Latest}, but " +
                        $"{answered[0].Peer.Address} holds it up to change {answered[0].Latest}: recover from the one that holds most (or leave Node:RecoverFrom empty); nothing was written, writes are refused");
                    return new Behind(own, []);
                }
                answered = [source];
            }
            var sources = answered.Where(h => h.Latest > own).ToList();
            if (sources.Count == 0)
            {
                return await NoneBehindAsync(own, holdings, cancellationToken);
            }
            _owner.StateP.Refuse($"{Country}'s node is recovering its log from its peers: its store holds it up to change {own}, {sources[0].Peer.Address} up to change {sources[0].Latest}; writes resume once it is recovered");
            LogRecovering(_owner.LoggerP, Country, own, sources[0].Peer.Address, sources[0].Latest!.Value);
            return new Behind(own, sources);
        }

        /// <summary>
        /// Whether the answers make a quorum that proves the State's head, for a node whose writes wait for a recovery: the
        /// configured Secretariat peer (Node:Peers with Country "secretariat", whose certificate names it over TLS: its identity,
        /// not what a peer says) answered with a head of the State's log signed with its published key, and so did more than
        /// half of the peers that answered at all (a peer that holds none of the log counts as answering; one whose claim no
        /// signed head backs does not). With Node:AcceptLocalHead the Secretariat may answer that it holds none of the log,
        /// and the store's head is accepted when no answer proves a head beyond it. Otherwise writes stay refused, saying why.
        /// </summary>
        private bool Quorum(long own, PeerHolding[] holdings)
        {
            var node = _owner.OptionsP.Value;
            var reached = holdings.Count(h => h.Reached);
            var answers = holdings.Count(h => h.Latest is not null);
            var secretariat = holdings.Where(h => string.Equals(h.Peer.Country, MirpsAuth.Secretariat, StringComparison.OrdinalIgnoreCase)).ToList();
            var beyond = holdings.Where(h => h.Latest > own).OrderByDescending(h => h.Latest).FirstOrDefault();
            var accept = node.AcceptLocalHead && beyond is null;
            string? missing = null;
            var reason = QuorumMissing;
            if (secretariat.Count == 0)
            {
                missing = $"Node:Peers names no Secretariat (a peer with Country=secretariat), whose answer must be among those that prove {Country}'s head";
            }
            else if (!secretariat.Any(h => h.Latest > 0 || (accept && h.Latest == 0)))
            {
                var held = secretariat.Where(h => h.Latest == 0).ToList();
                if (held.Count > 0)
                {
                    reason = NoSignedHead;
                    missing = $"the Secretariat ({held[0].Peer.Address}) holds no head of {Country}'s log signed by {Country}, so nothing proves its head; " +
                        $"if {Country} never shared its log, set Node:AcceptLocalHead=true for one start to accept the store's head (change {own}) once a quorum confirms no peer holds more";
                }
                else
                {
                    missing = $"the Secretariat did not answer with a head of {Country}'s log signed by {Country} ({string.Join("; ", secretariat.Select(h => $"{h.Peer.Address}: {h.Error}"))})";
                }
            }
            else if (answers * 2 <= reached)
            {
                missing = $"only {answers} of the {reached} peers that answered showed what they hold of {Country}'s log (a head signed by {Country}, or none of it): a majority must " +
                    $"({string.Join("; ", holdings.Where(h => h.Reached && h.Latest is null).Select(h => $"{h.Peer.Address}: {h.Error}"))})";
            }
            if (missing is not null)
            {
                var why = $"{reason}: {_owner.Why}, and writes resume only once the federation proves {Country}'s log's head, but {missing}. " +
                    $"Writes are refused; the check is made again every {node.RecoveryRetryInterval}";
                _owner.StateP.Await(reason, why);
                LogQuorumMissing(_owner.LoggerP, Country, why);
                return false;
            }
            if (node.AcceptLocalHead)
            {
                if (beyond is null)
                {
                    LogLocalHeadAccepted(_owner.LoggerP, Country, own, answers, reached);
                }
                else
                {
                    LogLocalHeadRefused(_owner.LoggerP, Country, own, beyond.Peer.Address, beyond.Latest!.Value);
                }
            }
            return true;
        }

        /// <summary>
        /// Whether the recovery may end at the highest head the answers prove: not below how far this node signed its log (its
        /// high-water mark), since those sequences are taken, whatever the quorum holds (a peer out of reach may hold them, and
        /// would prove a fork). Below the mark, writes stay refused (<see cref="BelowHighWater"/>) unless Node:AcceptLocalHead
        /// accepts the loss, logged at Error level with the sequences that will be signed again.
        /// </summary>
        private bool AboveHighWater(long own, PeerHolding[] holdings)
        {
            var mark = _owner._signedMark.Changes;
            var proven = Math.Max(own, holdings.Max(h => h.Latest ?? 0));
            if (mark <= proven)
            {
                return true;
            }
            var node = _owner.OptionsP.Value;
            if (node.AcceptLocalHead)
            {
                LogHighWaterLossAccepted(_owner.LoggerP, Country, mark, proven, proven + 1, mark);
                _owner._signedMark.Changes = 0;
                return true;
            }
            var why = $"{BelowHighWater}: {_owner.Why}, and this node signed {Country}'s log up to change {mark} (its high-water mark, beside its log-signing key), " +
                $"but no peer that answered proves it beyond change {proven}: changes {proven + 1} to {mark} are taken (a peer out of reach may hold them), and writing them again " +
                $"would fork the log. Writes are refused until a peer serves the log up to change {mark}; the check is made again every {node.RecoveryRetryInterval}. " +
                $"If those changes are lost everywhere, set Node:AcceptLocalHead=true for one start to accept the loss (changes {proven + 1} to {mark} are then signed again)";
            _owner.StateP.Await(BelowHighWater, why);
            LogBelowHighWater(_owner.LoggerP, Country, why);
            return false;
        }

        /// <summary>
        /// No peer holds more of the change log than the store: null (writes resume), unless the lifecycle log stays below the
        /// high-water mark (<see cref="LifecycleAboveHighWaterAsync"/>), when writes stay refused.
        /// </summary>
        private async Task<Behind?> NoneBehindAsync(long own, PeerHolding[] holdings, CancellationToken cancellationToken) =>
            await LifecycleAboveHighWaterAsync(holdings, cancellationToken) ? null : new Behind(own, []);

        /// <summary>The peers that answered, the Secretariat first: where a State's missing lifecycle entries are taken from.</summary>
        private Task<bool> LifecycleAboveHighWaterAsync(IEnumerable<PeerHolding> holdings, CancellationToken cancellationToken) =>
            LifecycleAboveHighWaterAsync(holdings.Where(h => h.Latest is not null)
                .OrderByDescending(h => string.Equals(h.Peer.Country, MirpsAuth.Secretariat, StringComparison.OrdinalIgnoreCase)).Select(h => h.Peer), cancellationToken);

        /// <summary>
        /// Whether writes may resume as far as the lifecycle log (a State's approvals, the Secretariat's decisions) goes: not below
        /// how far this node signed it (its high-water mark's entries, for a restored store), since those entry sequences are
        /// taken: a second entry N beside the one a replica holds is an equivocation. The entries the store lacks are taken from
        /// <paramref name="peers"/> in order, each verified as a replica verifies it (the origin's signature and chain); below the
        /// mark, writes stay refused (<see cref="BelowHighWater"/>) unless Node:AcceptLocalHead accepts the loss, logged at Error level.
        /// </summary>
        private async Task<bool> LifecycleAboveHighWaterAsync(IEnumerable<PeerOptions> peers, CancellationToken cancellationToken)
        {
            var mark = _owner._signedMark.Entries;
            var held = await OwnEntriesAsync(cancellationToken);
            if (held < mark)
            {
                // Before the published keys are first fetched every key is unknown (as in RecoverAsync).
                await _owner.LogKeysP.FirstFetch.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
            foreach (var peer in peers)
            {
                if (held >= mark)
                {
                    break;
                }
                try
                {
                    await PullLifecycleAsync(peer, cancellationToken);
                }
                catch (Exception e) when (e is RpcException or HttpRequestException or TokenRequestException or PeerRefusedException or System.Data.Common.DbException)
                {
                    LogSourceRefused(_owner.LoggerP, Origin, peer.Address, PeerText.Of(e));
                }
                held = await OwnEntriesAsync(cancellationToken);
            }
            if (held >= mark)
            {
                return true;
            }
            var node = _owner.OptionsP.Value;
            if (node.AcceptLocalHead)
            {
                LogLifecycleLossAccepted(_owner.LoggerP, Origin, mark, held, held + 1);
                _owner._signedMark.Entries = 0;
                return true;
            }
            var (log, what, writes) = _owner.IsSecretariat
                ? ("the Secretariat's decision log", "decision log", "Decisions are")
                : ($"{Country}'s lifecycle log (approvals)", "lifecycle log", "Writes are");
            var why = $"{BelowHighWater}: {_owner.Why}, and this node signed {log} up to entry {mark} (its high-water mark, beside its " +
                $"log-signing key), but no peer that answered serves it beyond entry {held}: entries {held + 1} to {mark} are taken (a peer out of reach may hold them), " +
                $"and signing them again would fork the {what}. {writes} refused until a peer serves it up to entry {mark}; the check is made again every " +
                $"{node.RecoveryRetryInterval}. If those entries are lost everywhere, set Node:AcceptLocalHead=true for one start to accept the loss (entries {held + 1} " +
                $"to {mark} are then signed again)";
            _owner.StateP.Await(BelowHighWater, why);
            LogBelowHighWater(_owner.LoggerP, Origin, why);
            return false;
        }

        private async Task<long> OwnEntriesAsync(CancellationToken cancellationToken)
        {
            await using var scope = _owner.ScopesP.CreateAsyncScope();
            return (await scope.ServiceProvider.GetRequiredService<Approval.LifecycleLog>().LastAsync(Origin, cancellationToken)).Sequence;
        }

        /// <summary>
        /// What <paramref name="peer"/> holds of the node's log, as far as it proves it: its claim counts only up to a head of the
        /// log it shows signed with the State's published log key (or one a rotation this store holds handed over to). A claim
        /// without such a head (none, a head of another origin, a key the identity server does not publish, a bad signature) is
        /// the peer's word alone: it is passed over like a peer that did not answer, so it can neither hold the node's writes
        /// refused nor count as the federation's answer that clears a restored store's mark.
        /// </summary>
        private async Task<PeerHolding> HoldingAsync(PeerOptions peer, Dictionary<string, System.Security.Cryptography.ECDsa> handedOver,
            Dictionary<string, long> rotatedAway, CancellationToken cancellationToken)
        {
            var reached = false;
            try
            {
                var client = Client(peer, out var identity);
                try
                {
                    var status = await client.GetSyncStatusAsync(new GetSyncStatusRequest(),
                        deadline: DateTime.UtcNow.Add(_owner.OptionsP.Value.RecoveryCheckTimeout), cancellationToken: cancellationToken);
                    ReplicaRules.CheckDeclaredNode(peer.Country, status.NodeCountry.Length == 0 ? MirpsAuth.Secretariat : status.NodeCountry);
                    reached = true;
                    var held = status.Origins.FirstOrDefault(o => o.Origin == Country);
                    if (held is not { LatestSequence: > 0 })
                    {
                        return new PeerHolding(peer, 0, $"it holds none of {Country}'s log", Reached: true);
                    }
                    if (held.Head is not { } head)
                    {
                        return new PeerHolding(peer, null, $"it says it holds {Country}'s log up to change {held.LatestSequence} but shows no head of it signed by {Country}: not believed", Reached: true);
                    }
                    if (head.Origin != Country || head.Sequence <= 0)
                    {
                        return new PeerHolding(peer, null, $"it shows a head of the log of {PeerText.Quote(head.Origin)} at change {head.Sequence} for {Country}'s: not believed", Reached: true);
                    }
                    // Before the published keys are first fetched every key is unknown (as in RecoverAsync).
                    await _owner.LogKeysP.FirstFetch.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);
                    var key = ChainVerifier.KeyFor(Country, head.KeyId, head.Sequence, head.SignedTime, _owner.LogKeysP, handedOver, rotatedAway,
                        $"the head of {Country}'s log at change {head.Sequence} {peer.Address} shows");
                    if (!Mirps.Log.LogHeadSignature.Verify(head, key))
                    {
                        throw new PeerRefusedException(ReplicaRules.SignatureInvalid,
                            $"the head of {Country}'s log at change {head.Sequence} it shows does not verify with {Country}'s key {head.KeyId}: not believed");
                    }
                    return new PeerHolding(peer, Math.Min(held.LatestSequence, head.Sequence), null, Reached: true);
                }
                catch (Exception e) when (identity.Mismatch is { } mismatch && e is RpcException or HttpRequestException)
                {
                    return new PeerHolding(peer, null, mismatch, Reached: false);
                }
            }
            catch (Exception e) when (e is RpcException or HttpRequestException or TokenRequestException or PeerRefusedException)
            {
                return new PeerHolding(peer, null, PeerText.Of(e), reached);
            }
        }

        /// <summary>
        /// Takes what the node lacks of its log from the sources, most first. A source whose history does not verify, or
        /// whose feed ends short of what it said it holds, is passed over: its claim is disproven. A source that fails or
        /// stalls is asked again after the others, and passed over after <see cref="MaxSourceAttempts"/> tries. Writes resume
        /// once the store holds the log up to the highest head any source proved (signed by the State: its sequences are taken), from one source or several; never below it, so when
        /// no source serves that far, writes stay refused (RECOVERY_NO_SOURCE).
        /// </summary>
        public async Task RecoverAsync(Behind behind, CancellationToken cancellationToken)
        {
            if (behind.Sources.Count == 0)
            {
                return; // refused in the check
            }
            var disproven = new List<string>();
            var pending = new List<PeerHolding>(behind.Sources);
            var failures = 0;
            var failed = new Dictionary<string, int>(StringComparer.Ordinal);
            // The highest head of the log a peer proved (signed by the State): writes never resume below it, since its sequences are taken.
            var target = behind.Sources.Max(h => h.Latest!.Value);
            await _owner.LogKeysP.FirstFetch.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            // First every change whole: a source that serves one of the State's own changes as a placeholder gave the wrong answer
            // (OWN_CHANGE_NOT_HELD) and the next is asked. Only when no source serves the content of some change (a draft or an
            // embargo every replica holds as a placeholder) are the sources refused for that alone asked again, taking the
            // placeholders: their sequences are taken, their content is lost.
            var placeholdersOnly = new List<PeerHolding>();
            var whole = true;
            while (pending.Count > 0 || (whole && placeholdersOnly.Count > 0))
            {
                if (pending.Count == 0)
                {
                    (whole, pending) = (false, placeholdersOnly);
                    LogTakingPlaceholders(_owner.LoggerP, Country, string.Join(", ", pending.Select(p => p.Peer.Address)));
                }
                var source = pending[0];
                try
                {
                    await PullAsync(source.Peer, source.Latest!.Value, whole, cancellationToken);
                    await PullLifecycleAsync(source.Peer, cancellationToken);
                    var now = await OwnHeadAsync(cancellationToken);
                    if (now >= target)
                    {
                        LogRecovered(_owner.LoggerP, Country, behind.Own, now, source.Peer.Address);
                        if (await LifecycleAboveHighWaterAsync(behind.Sources, cancellationToken))
                        {
                            await _owner.RecoveredAsync(cancellationToken);
                        }
                        return;
                    }
                    // A source that holds less served its part (one that holds more failed before): the rest from those that hold more.
                    pending.RemoveAll(p => p.Latest <= now);
                    continue;
                }
                catch (PeerRefusedException refused)
                {
                    if (refused.Reason == ReplicaRules.OwnChangeNotHeld)
                    {
                        placeholdersOnly.Add(source);
                    }
                    disproven.Add($"{source.Peer.Address}: {refused.Error}");
                    LogSourceRefused(_owner.LoggerP, Country, source.Peer.Address, refused.Error);
                    pending.RemoveAt(0);
                }
                catch (Exception e) when (e is RpcException or HttpRequestException or TokenRequestException or System.Data.Common.DbException or SourceStalledException)
                {
                    // A claim its holder does not serve proves nothing: the next source is tried before this one is asked again,
                    // and after MaxSourceAttempts failures it is passed over like a peer that did not answer the check.
                    var error = PeerText.Of(e);
                    pending.RemoveAt(0);
                    var attempts = failed[source.Peer.Address] = failed.GetValueOrDefault(source.Peer.Address) + 1;
                    if (attempts < MaxSourceAttempts)
                    {
                        pending.Add(source);
                    }
                    else
                    {
                        disproven.Add($"{source.Peer.Address}: did not serve what it said it holds ({error})");
                    }
                    _owner.StateP.Refuse($"{Country}'s node is recovering its log; {source.Peer.Address} failed ({error}); writes resume once it is recovered");
                    LogSourceRefused(_owner.LoggerP, Country, source.Peer.Address, error);
                    if (pending.Count > 0 && ++failures % pending.Count == 0)
                    {
                        // every pending source failed once more: wait before the next round
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(30_000, 500 * Math.Pow(2, Math.Min(failures / pending.Count, 10)))), _owner.ClockP, cancellationToken);
                    }
                }
            }
            // Every source above the store's head showed a head signed by the State there: the log reached it, so a write below it
            // would take a sequence the federation holds (a fork). Writes stay refused.
            var head = await OwnHeadAsync(cancellationToken);
            _owner.Fail($"{NoSource}: {Country}'s log could not be recovered beyond change {head}, though a peer showed a head of it signed by {Country} at change {target}: " +
                $"{string.Join("; ", disproven)}; nothing a source could not prove was written, and writes are refused until the node is restarted with a source that serves the log");
        }

        /// <summary>Pulls the node's own log from <paramref name="peer"/> after the store's head, as a replica pulls, up to <paramref name="until"/>.</summary>
        /// <param name="whole">Every change must come with its content (<see cref="ReplicaRules.CheckWhole"/>).</param>
        private async Task PullAsync(PeerOptions peer, long until, bool whole, CancellationToken cancellationToken)
        {
            Client(peer, out _);
            CallInvoker invoker;
            lock (_channels)
            {
                invoker = _channels[peer.Address].Channel.CreateCallInvoker();
            }
            var origin = Country;
            var (resume, verifier) = await PeerSyncWorker.ChainFromAsync(_owner.ScopesP, _owner.LogKeysP, () => _owner.Now(), origin, await OwnHeadAsync(cancellationToken), cancellationToken);
            var self = Sharing.Reader.OfNode(origin);
            var feed = new ChangeFeedDecoder();
            // Each message must come within Node:PeerStallTimeout: a source that keeps the stream open and silent is passed over.
            var stallTimeout = _owner.OptionsP.Value.PeerStallTimeout;
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stall.CancelAfter(stallTimeout);
            using var call = feed.StreamChanges(invoker,
                new StreamChangesRequest
                {
                    Origin = origin, AfterSequence = resume, Follow = false, BatchSize = 8_192, CatalogVersion = _owner.CatalogueP.Version,
                    SuppressionMethods = { MirpsExchange.Node.Sharing.SuppressionMethods.ImplementedBy(_owner.OptionsP.Value.Sharing) },
                }, stall.Token);
            while (await NextAsync(call, stall, peer, stallTimeout, cancellationToken))
            {
                var verified = PeerSyncWorker.CheckMessage(call.ResponseStream.Current, verifier, _owner.RulesP, origin, peer, self, _owner.Now(), until, whole: whole);
                if (verified.Changes.Count == 0)
                {
                    continue;
                }
                await using var scope = _owner.ScopesP.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<ReplicaWriter>().ApplyChangesAsync(origin, verified, cancellationToken);
                verified.Release();
            }
            verifier.End();
            await AsOwnAsync(origin, cancellationToken);
            var head = await OwnHeadAsync(cancellationToken);
            if (head < until)
            {
                throw new PeerRefusedException(ReplicaRules.PeerStalled,
                    $"{peer.Address} said it holds {origin}'s log up to change {until}, but its feed ended at change {head}");
            }
        }

        /// <summary>
        /// Takes the node's own lifecycle log (approvals) that <paramref name="peer"/> holds beyond the store's, verified as a
        /// replica verifies it, so the next approval continues its sequence rather than signing one the federation holds.
        /// </summary>
        private async Task PullLifecycleAsync(PeerOptions peer, CancellationToken cancellationToken)
        {
            Client(peer, out _);
            global::Grpc.Net.Client.GrpcChannel channel;
            lock (_channels)
            {
                channel = _channels[peer.Address].Channel;
            }
            var client = new Mirps.Approval.V1.ApprovalService.ApprovalServiceClient(channel);
            var origin = Origin;
            // The Secretariat's node asks while it starts (its check is not put off to the background as a State's recovery is):
            // each answer within the start-up check's timeout.
            var timeout = _owner.IsSecretariat ? _owner.OptionsP.Value.RecoveryCheckTimeout : _owner.OptionsP.Value.PeerStallTimeout;
            while (true)
            {
                await using var scope = _owner.ScopesP.CreateAsyncScope();
                var log = scope.ServiceProvider.GetRequiredService<Approval.LifecycleLog>();
                var (after, _, _) = await log.LastAsync(origin, cancellationToken);
                var page = await client.ListLifecycleEntriesAsync(new Mirps.Approval.V1.ListLifecycleEntriesRequest { Origin = origin, AfterEntrySequence = after },
                    deadline: DateTime.UtcNow.Add(timeout), cancellationToken: cancellationToken);
                var verified = await log.VerifyAsync(origin, after, page.Entries, _owner.CatalogueP, _owner.LogKeysP, cancellationToken);
                if (await log.ApplyAsync(origin, verified, cancellationToken) < Approval.LifecycleLog.MaxPage)
                {
                    return;
                }
            }
        }

        /// <summary>The next message of a recovery pull, within the stall timeout (<see cref="SourceStalledException"/> when none came).</summary>
        private static async Task<bool> NextAsync(AsyncServerStreamingCall<StreamChangesResponse> call, CancellationTokenSource stall, PeerOptions peer, TimeSpan timeout, CancellationToken cancellationToken)
        {
            try
            {
                var more = await call.ResponseStream.MoveNext(stall.Token);
                stall.CancelAfter(timeout);
                return more;
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException && stall.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new SourceStalledException($"{ReplicaRules.PeerStalled}: {peer.Address} sent nothing for {timeout}");
            }
        }

        /// <summary>
        /// The recovered log as the origin's own writer keeps it: a replica dates what it holds by when it received it
        /// (received_time, and a revision's end by when the next one arrived), the origin by when it recorded it, so its
        /// answers "as of" a time before the loss read as they did.
        /// </summary>
        private async Task AsOwnAsync(string origin, CancellationToken cancellationToken)
        {
            await using var scope = _owner.ScopesP.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredKeyedService<NodeDbContext>(NodeDbContext.Writer);
            using var _ = await scope.ServiceProvider.GetRequiredService<WriteGate>().EnterAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var key = string.Join(" AND ", new[] { "indicator_code", "country", "period", "sex", "age", "country_of_origin", "application_type", "decision_level",
                "procedure_type", "count_basis", "country_of_destination" }.Select(c => $"n.{c} = o.{c}"));
            var table = ObservationRowConfiguration.Table;
            await using var update = PositionalCommand.Create(db.Database.GetDbConnection(), transaction.GetDbTransaction(),
                $"UPDATE {table} SET received_time = recorded_time WHERE origin = @o AND received_time <> recorded_time; " +
                $"UPDATE {table} AS o SET superseded_time = COALESCE((SELECT n.recorded_time FROM {table} n WHERE n.origin = o.origin AND {key} AND n.revision = o.revision + 1), o.superseded_time) " +
                "WHERE o.origin = @o AND o.superseded_time IS NOT NULL; " +
                $"UPDATE {WithheldChangeConfiguration.Table} SET received_time = recorded_time WHERE origin = @o; " +
                $"UPDATE {LogHeadConfiguration.Table} SET received_time = signed_time WHERE origin = @o;",
                "@o");
            update.Parameters[0].Value = origin;
            await update.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        private async Task<long> OwnHeadAsync(CancellationToken cancellationToken)
        {
            await using var scope = _owner.ScopesP.CreateAsyncScope();
            return (await OriginLog.LastChangeAsync(scope.ServiceProvider.GetRequiredService<NodeDbContext>(), Country, cancellationToken)).Sequence;
        }

        public void Dispose()
        {
            foreach (var (channel, _) in _channels.Values)
            {
                channel.Dispose();
            }
            if (_ownsCredentials)
            {
                _credentials?.Dispose();
            }
        }
    }

    /// <summary>How often a source that claims more of the log is asked to serve it (failing or stalling) before it is passed over.</summary>
    private const int MaxSourceAttempts = 5;

    /// <summary>A recovery source kept its feed open and sent nothing within Node:PeerStallTimeout.</summary>
    private sealed class SourceStalledException(string message) : Exception(message);

    [LoggerMessage(EventName = "OriginRecovering", Level = LogLevel.Warning,
        Message = "{Origin}'s store holds its log up to change {Own}, but {Peer} holds it up to change {Latest}: recovering it before accepting writes")]
    private static partial void LogRecovering(ILogger logger, string origin, long own, string peer, long latest);

    [LoggerMessage(EventName = "OriginRecovered", Level = LogLevel.Warning,
        Message = "{Origin}'s log recovered from {Peer}: change {From} to change {To}, verified against its published log keys; writes resume")]
    private static partial void LogRecovered(ILogger logger, string origin, long from, long to, string peer);

    [LoggerMessage(EventName = "OriginRecoverySourceRefused", Level = LogLevel.Error,
        Message = "{Origin}'s log from {Peer} was refused while recovering: {Error}")]
    private static partial void LogSourceRefused(ILogger logger, string origin, string peer, string error);

    [LoggerMessage(EventName = "OriginRecoveryTakingPlaceholders", Level = LogLevel.Warning,
        Message = "{Origin}'s log: no source serves every change of it with its content; taking what {Peers} hold, placeholders included (those changes' content is not recovered)")]
    private static partial void LogTakingPlaceholders(ILogger logger, string origin, string peers);

    [LoggerMessage(EventName = "OriginRecoveryFailed", Level = LogLevel.Error, Message = "{Origin}'s node cannot accept writes: {Error}")]
    private static partial void LogRecoveryFailed(ILogger logger, string origin, string error);

    [LoggerMessage(EventName = "OriginRecoveryQuorumMissing", Level = LogLevel.Error, Message = "{Origin}'s node cannot accept writes: {Error}")]
    private static partial void LogQuorumMissing(ILogger logger, string origin, string error);

    [LoggerMessage(EventName = "OriginRecoveryBelowHighWater", Level = LogLevel.Error, Message = "{Origin}'s node cannot accept writes: {Error}")]
    private static partial void LogBelowHighWater(ILogger logger, string origin, string error);

    [LoggerMessage(EventName = "OriginHighWaterLossAccepted", Level = LogLevel.Error,
        Message = "Node:AcceptLocalHead: {Origin}'s node had signed its log up to change {Mark}, but its peers prove it only up to change {Proven}; the loss is accepted, " +
            "and changes {From} to {To} will be signed again (a peer that holds the lost ones will refuse them as a fork). Remove Node:AcceptLocalHead from the configuration")]
    private static partial void LogHighWaterLossAccepted(ILogger logger, string origin, long mark, long proven, long from, long to);

    [LoggerMessage(EventName = "OriginLifecycleHighWaterLossAccepted", Level = LogLevel.Error,
        Message = "Node:AcceptLocalHead: {Origin}'s node had signed its lifecycle log up to entry {Mark}, but its peers serve it only up to entry {Held}; the loss is " +
            "accepted, and entries {From} to {Mark} will be signed again (a peer that holds the lost ones will refuse them as a fork). Remove Node:AcceptLocalHead from the configuration")]
    private static partial void LogLifecycleLossAccepted(ILogger logger, string origin, long mark, long held, long from);

    [LoggerMessage(EventName = "OriginLocalHeadAccepted", Level = LogLevel.Warning,
        Message = "{Origin}'s restored store's head (change {Own}) accepted (Node:AcceptLocalHead): the Secretariat and {Answers} of the {Reached} peers that answered " +
            "hold no head of its log signed beyond it; writes resume. Remove Node:AcceptLocalHead from the configuration")]
    private static partial void LogLocalHeadAccepted(ILogger logger, string origin, long own, int answers, int reached);

    [LoggerMessage(EventName = "OriginLocalHeadRefused", Level = LogLevel.Error,
        Message = "Node:AcceptLocalHead refused: {Origin}'s store holds its log up to change {Own}, but {Peer} shows a head of it signed by {Origin} at change {Latest}; " +
            "the node recovers up to there instead. Remove Node:AcceptLocalHead from the configuration")]
    private static partial void LogLocalHeadRefused(ILogger logger, string origin, long own, string peer, long latest);

    [LoggerMessage(EventName = "OriginAcceptLocalHeadIgnored", Level = LogLevel.Warning,
        Message = "Node:AcceptLocalHead is set, but {Origin}'s store is not a restored one waiting for its recovery: the setting does nothing. Remove it from the configuration")]
    private static partial void LogAcceptLocalHeadIgnored(ILogger logger, string origin);

    [LoggerMessage(EventName = "StoreLockRetakenWaiting", Level = LogLevel.Warning,
        Message = "{Origin}'s node took its store's lock back while its start-up check or a recovery runs: writes stay refused until that is over and the store is checked for a restore made meanwhile")]
    private static partial void LogRetakenWaiting(ILogger logger, string origin);

    [LoggerMessage(EventName = "OriginRecoveryPeerUnanswered", Level = LogLevel.Warning,
        Message = "{Origin}'s start-up check: {Peer} did not prove what it holds of the log ({Error}); it is passed over")]
    private static partial void LogPeerUnanswered(ILogger logger, string origin, string peer, string error);
}
