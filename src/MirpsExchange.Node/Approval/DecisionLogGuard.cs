using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Approval;

/// <summary>
/// When the Secretariat's node may add to its decision log (accept, reject, and sign the decisions it recorded before the log
/// was signed): only once it holds the log as the federation does, so that it never signs an entry at a sequence the States
/// already hold another decision at (an equivocation; hostile review, finding 1). In order:
/// <list type="number">
/// <item>the start-up check passed (<see cref="Sync.OriginRecovery"/>, <see cref="Sync.RecoveryState"/>): the store holds the
/// log up to how far the node signed it (its high-water mark beside its key, <see cref="ChangeLog.SignedHighWater"/>), the
/// missing entries taken from its peers and verified, or the loss accepted (Node:AcceptLocalHead); below it, decisions are
/// refused with RECOVERY_BELOW_HIGH_WATER, naming the entries;</item>
/// <item>with peers that may hold the log (Node:Peers origins listing secretariat), one of them has served it up to the mark
/// (<see cref="Sync.PeerStates.DecisionLogAnswered"/>: an empty page below it is no answer), or the log held here is not
/// empty: otherwise <see cref="Recovering"/> (a lost disk and a lost mark: the States may hold the whole log);</item>
/// <item>the earlier, unsigned decisions (the acceptances table of a store from before the decision log) are signed into the
/// log (<see cref="LifecycleLog.SignEarlierDecisionsAsync"/>), which itself waits for 1 and for a peer's answer as in 2, skips
/// those the recovered log already holds, and is tried again after a failure, waiting longer each time; until then <see cref="Recovering"/>.</item>
/// </list>
/// </summary>
public sealed partial class DecisionLogGuard(IOptions<NodeOptions> options, Sync.PeerStates peers, Sync.RecoveryState recovery, ILogger<DecisionLogGuard> logger)
{
    /// <summary>ErrorInfo reason: the Secretariat's decision log here may be incomplete (none of it held and no peer that may hold it has answered, or its earlier decisions are not signed into it yet).</summary>
    public const string Recovering = "DECISION_LOG_RECOVERING";

    private readonly TaskCompletionSource _earlierSigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    /// <summary>Whether a peer may hold the Secretariat's decision log (Node:Peers origins listing secretariat).</summary>
    private bool PullsDecisionLog => options.Value.Peers.Any(p => p.Origins.Contains(MirpsAuth.Secretariat));

    /// <summary>FAILED_PRECONDITION, nothing decided, unless the Secretariat's node may add to its decision log now.</summary>
    public async Task RequireAsync(LifecycleLog log, CancellationToken cancellationToken)
    {
        recovery.RequireWritable();
        if (!_earlierSigned.Task.IsCompleted)
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, Recovering,
                "the decisions this node recorded before its decision log was signed are not signed into the log yet: that waits until a peer that may hold the log " +
                "(Node:Peers origins listing secretariat) has served it up to how far this node signed it; nothing was decided; try again once `mirps sync status` shows the pull connected");
        }
        if (!PullsDecisionLog || peers.DecisionLogAnswered)
        {
            return;
        }
        if ((await log.LastAsync(MirpsAuth.Secretariat, cancellationToken)).Sequence == 0)
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, Recovering,
                "the Secretariat's decision log is empty here and no peer that may hold it (Node:Peers origins listing secretariat) has answered yet: nothing was decided; try again once `mirps sync status` shows the pull connected");
        }
    }

    /// <summary>
    /// On the Secretariat's node, once the start-up check passed (condition 1): with earlier, unsigned decisions in the store,
    /// starts signing them into its log in the background, after a peer that may hold the log has served it up to the mark
    /// (condition 2), trying again after a failure until it succeeds or the node stops; with none, condition 3 holds at once. Once only;
    /// returns the background signing (<see cref="Task.CompletedTask"/> when none).
    /// </summary>
    public async Task<Task> StartSigningEarlierDecisionsAsync(IServiceProvider services, CancellationToken stopping)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            return Task.CompletedTask;
        }
        await using (var scope = services.CreateAsyncScope())
        {
            if (!await scope.ServiceProvider.GetRequiredService<NodeDbContext>().Acceptances.AnyAsync(stopping))
            {
                _earlierSigned.TrySetResult();
                return Task.CompletedTask;
            }
        }
        return Task.Run(async () =>
        {
            try
            {
                if (PullsDecisionLog && !peers.DecisionLogAnswered)
                {
                    LogEarlierDecisionsWaiting(logger);
                    await peers.DecisionLogAnsweredTask.WaitAsync(stopping);
                }
                // A failure (the store refusing a write, its lock lost on PostgreSQL) is tried again, each wait twice the last, at
                // most MaxRetryDelay: decisions stay refused (DECISION_LOG_RECOVERING) only until the store takes the writes again,
                // not until a restart (second hostile review, finding 4). Each decision is signed and removed in one transaction, so a
                // try that failed half-way leaves the rest for the next.
                var delay = options.Value.RecoveryRetryInterval;
                while (true)
                {
                    try
                    {
                        await LifecycleLog.SignEarlierDecisionsAsync(services, stopping);
                        _earlierSigned.TrySetResult();
                        return;
                    }
                    catch (Exception e) when (!stopping.IsCancellationRequested && e is System.Data.Common.DbException or DbUpdateException or global::Grpc.Core.RpcException)
                    {
                        LogEarlierDecisionsFailed(logger, e.Message, delay);
                    }
                    await Task.Delay(delay, stopping);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Math.Max(MaxRetryDelay.Ticks, options.Value.RecoveryRetryInterval.Ticks)));
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // stopped: the next start signs them
            }
        }, CancellationToken.None);
    }

    /// <summary>The longest wait between two tries at signing the earlier decisions (the first waits Node:RecoveryRetryInterval, each next twice the last).</summary>
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(5);

    [LoggerMessage(EventName = "EarlierDecisionsWaiting", Level = LogLevel.Warning,
        Message = "The decisions this node recorded before its decision log was signed are signed into it once a peer that may hold the log has served it up to how far this node signed it; decisions are refused (DECISION_LOG_RECOVERING) until then")]
    private static partial void LogEarlierDecisionsWaiting(ILogger logger);

    [LoggerMessage(EventName = "EarlierDecisionsNotSigned", Level = LogLevel.Error,
        Message = "The decisions this node recorded before its decision log was signed could not be signed into it ({Error}); decisions are refused (DECISION_LOG_RECOVERING) until they are: tried again in {Delay}")]
    private static partial void LogEarlierDecisionsFailed(ILogger logger, string error, TimeSpan delay);
}
