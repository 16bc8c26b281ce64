using System.Data.Common;
using Grpc.Core;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Store;

/// <summary>
/// A write the store has no room for (a full disk, or Node:StoreMaxPageCount reached): the writer is told so with
/// RESOURCE_EXHAUSTED (reason STORE_FULL), gRPC's status for a file system out of space, rather than an unexplained
/// internal error; the transaction is rolled back whole, and the same request (its request_id) goes in once there is room.
/// </summary>
public static class StoreFull
{
    public const string Reason = "STORE_FULL";

    /// <summary>SQLite's SQLITE_FULL (13), or PostgreSQL's disk_full (53100), here or inside <paramref name="e"/>.</summary>
    public static bool Is(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 13 } || inner is DbException { SqlState: "53100" })
            {
                return true;
            }
        }
        return false;
    }

    public static RpcException Refusal() => RpcErrors.WithReason(Google.Rpc.Code.ResourceExhausted, Reason,
        "the node's store is full (its disk, or its configured size limit): nothing was written; send the same request again once its operator has made room");
}
