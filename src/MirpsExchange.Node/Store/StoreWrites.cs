using Grpc.Core;
using Microsoft.EntityFrameworkCore;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Write transactions on the node's store. On PostgreSQL every transaction EF Core begins is checked by the store lock's fence
/// (<see cref="StoreLockFence"/>) in the store itself: refused (FAILED_PRECONDITION <see cref="StoreLock.LostReason"/>) when the
/// node no longer holds its store's lock, whether it has noticed yet or not. On SQLite nothing is checked (a file lock cannot be lost).
/// </summary>
public static class StoreWrites
{
    /// <summary>
    /// Whether the node holds its store's lock now, as a write would find it (a transaction begun, checked by the fence, and
    /// ended): for work that does not write the store first but must not be done by a node another has replaced, such as
    /// sending webhooks from the outbox another node now delivers from.
    /// </summary>
    public static async Task<bool> HeldAsync(NodeDbContext db, CancellationToken cancellationToken)
    {
        if (db.Database.IsSqlite())
        {
            // A file lock cannot be lost, and a transaction begun on SQLite is BEGIN IMMEDIATE: it would wait behind any writer.
            return true;
        }
        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        catch (global::Grpc.Core.RpcException e) when (IsLockRefusal(e))
        {
            return false;
        }
    }

    /// <summary>Whether <paramref name="e"/> is the fence's refusal (<see cref="StoreLock.LostReason"/>).</summary>
    public static bool IsLockRefusal(global::Grpc.Core.RpcException e) =>
        e.StatusCode == global::Grpc.Core.StatusCode.FailedPrecondition
        && e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason == StoreLock.LostReason;
}
