using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Per-connection SQLite settings: write-ahead logging lets queries stream while a batch commits;
/// synchronous=NORMAL is durable across process crashes in WAL mode; a large page cache keeps the key
/// index in memory, and memory-mapped reads make refilling it cheap (a connection drops its cache whenever
/// another connection wrote; a million rows also outgrow 128 MiB). A new store gets 8 KiB pages (an existing
/// one keeps its own): a million of a replica's inserts ran 10-15% faster than with 4 KiB (shallower trees,
/// fewer page splits). Registered only when the store is SQLite.
/// A State's own commits are the exception to NORMAL (<see cref="DurableCommitAsync"/>): what its node acknowledged must
/// survive an OS crash or power loss, since replicas may already hold its sequence numbers.
/// </summary>
/// <param name="maxPageCount">Node:StoreMaxPageCount (a test and operations aid: the store behaves as on a full disk once it holds this many pages), or null.</param>
internal sealed class SqlitePragmas(long? maxPageCount = null) : DbConnectionInterceptor
{
    private const string Defaults =
        "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; PRAGMA cache_size=-131072; PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY;";

    private readonly string _pragmas = maxPageCount is { } pages ? $"{Defaults} PRAGMA max_page_count={pages};" : Defaults;

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Apply(connection, _pragmas);

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = _pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Makes the commits on <paramref name="connection"/> durable against power loss (synchronous=FULL: the WAL is synced at
    /// every commit) until the returned scope ends, which sets NORMAL again. The origin's own write path
    /// (<see cref="SubmitWriter"/>) runs under it: with NORMAL, an OS crash could lose commits the node had acknowledged,
    /// whose sequence numbers a replica may hold, and the origin would then reuse them for other content (a fork).
    /// Another provider keeps its own durable commits (PostgreSQL: synchronous_commit=on, its default): nothing is set.
    /// </summary>
    /// <param name="synchronous">Node:SubmitSynchronous: FULL, or NORMAL (nothing set: the node's default).</param>
    public static async Task<IAsyncDisposable> DurableCommitAsync(DbConnection connection, string synchronous, CancellationToken cancellationToken)
    {
        if (connection is not Microsoft.Data.Sqlite.SqliteConnection || synchronous != "FULL")
        {
            return NoScope.Instance;
        }
        await SetAsync(connection, "PRAGMA synchronous=FULL;", cancellationToken);
        return new DurableScope(connection);
    }

    private static async Task SetAsync(DbConnection connection, string pragma, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = pragma;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private sealed class DurableScope(DbConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await SetAsync(connection, "PRAGMA synchronous=NORMAL;", CancellationToken.None); // the pool's connection goes back as the replica's writer expects it
            }
        }
    }

    private sealed class NoScope : IAsyncDisposable
    {
        public static readonly NoScope Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }


    /// <summary>The node's default pragmas on a connection opened by hand.</summary>
    public static void Apply(DbConnection connection) => Apply(connection, Defaults);

    private static void Apply(DbConnection connection, string pragmas)
    {
        using var command = connection.CreateCommand();
        command.CommandText = pragmas;
        command.ExecuteNonQuery();
    }
}
