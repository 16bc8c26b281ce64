using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace MirpsExchange.Node.Store;

/// <summary>
/// One consistent view of the store for an answer made of several reads: a deferred SQLite transaction (<c>BEGIN</c>, no
/// lock until the first read, then that read's snapshot for every later one; in WAL mode writers go on meanwhile). An
/// answer that decides which values to withhold (complementary suppression) in one read and reads the rows in another
/// must see the same commits in both: otherwise a commit in between is served against a stale decision (a breakdown in
/// clear beside its small count). On PostgreSQL, a REPEATABLE READ transaction: one snapshot, taken at its first read.
/// A context that already has a transaction keeps it.
/// </summary>
public static class ReadSnapshot
{
    /// <summary>Begins the snapshot on <paramref name="db"/>'s connection; disposing it ends the snapshot (it writes nothing).</summary>
    public static async Task<IAsyncDisposable?> BeginAsync(NodeDbContext db, CancellationToken cancellationToken)
    {
        if (db.Database.CurrentTransaction is not null)
        {
            return null;
        }
        await db.Database.OpenConnectionAsync(cancellationToken);
        var connection = db.Database.GetDbConnection();
        DbTransaction transaction = connection is SqliteConnection sqlite
            ? sqlite.BeginTransaction(deferred: true)
            : await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await db.Database.UseTransactionAsync(transaction, cancellationToken);
        return new Snapshot(db, transaction);
    }

    /// <summary><paramref name="items"/>, with <paramref name="snapshot"/> ended once they are read (or the reader stops).</summary>
    public static async IAsyncEnumerable<T> Within<T>(IAsyncEnumerable<T> items, IAsyncDisposable? snapshot,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using (snapshot)
        {
            await foreach (var item in items.WithCancellation(cancellationToken))
            {
                yield return item;
            }
        }
    }

    private sealed class Snapshot(NodeDbContext db, DbTransaction transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await db.Database.UseTransactionAsync(null);
            await transaction.DisposeAsync(); // a read-only transaction: rolled back, nothing to keep
            await db.Database.CloseConnectionAsync();
        }
    }
}
