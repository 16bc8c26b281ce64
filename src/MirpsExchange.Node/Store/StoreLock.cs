using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MirpsExchange.Node.Store;

/// <summary>
/// The lock a node holds on its store while it runs (an exclusive lock on STORE.lock, released when the process ends,
/// even by kill -9): a second node on the same store refuses to start, and <c>mirps restore</c> refuses a running node's store.
/// On PostgreSQL it is a session-level advisory lock on a connection of its own, which lives only as long as that session:
/// an administrator's pg_terminate_backend, idle_session_timeout or a network cut ends it silently (hostile review G).
/// <see cref="CheckAsync"/> (every Store:LockCheckInterval, <see cref="StoreLockWatch"/>) finds the session gone and takes
/// the lock again; while another session holds it (a restore, a second node), <see cref="Lost"/> says so, writes are
/// refused (<see cref="Sync.RecoveryState.RequireWritable"/>) and the "store-lock" health check fails. Taken again, the
/// lock still refuses writes until the store has been checked for a restore made while it was lost (the start-up check,
/// <see cref="Sync.OriginRecovery.CheckAfterStoreLockRetakenAsync"/>) and <see cref="Checked"/> is called.
/// </summary>
public sealed partial class StoreLock : IDisposable
{
    private readonly Lock _sync = new();
    private IDisposable? _held;
    private readonly string? _postgres;
    private volatile string? _lost;

    /// <summary>
    /// The fencing key: an advisory lock only the current lock session holds (a random key taken with the store's lock, so a
    /// session of another process, or a later one of this, never holds it); 0 while none is held. Every write transaction
    /// checks that it is still held (<see cref="StoreLockFence"/>).
    /// </summary>
    private long _token;

    /// <summary>A write found the lock's session ended (<see cref="SessionEnded"/>): the next check takes the lock again.</summary>
    private volatile bool _fenced;

    /// <summary>How many times the node took its lock again (<see cref="CheckAsync"/>): a write allowed before the last retake is refused.</summary>
    private long _retakes;

    /// <summary>
    /// The retake a write of this flow was allowed at (<see cref="WritableNow"/>, called by RecoveryState.RequireWritable): a write
    /// that passed its checks, then waited (at the write gate, say) while the lock was lost, the store restored and the lock taken
    /// back, would otherwise open its transaction under the new, valid fencing key and sign a sequence the federation holds
    /// (third hostile review, finding A). Keyed by the lock: tests run several nodes in one process.
    /// </summary>
    private static readonly AsyncLocal<(StoreLock Lock, long Retakes)?> WritableAt = new();

    /// <summary>Whether this flow writes for the node's recovery (<see cref="RecoveryWrites"/>), which the fence lets write while the lock waits for the store's check.</summary>
    private static readonly AsyncLocal<bool> Recovering = new();

    private StoreLock(IDisposable? held, string? postgres = null, long token = 0) => (_held, _postgres, _token) = (held, postgres, token);

    /// <summary>The reason writes are refused with while the lock is lost.</summary>
    public const string LostReason = "STORE_LOCK_LOST";

    /// <summary>What <see cref="Lost"/> begins with while the lock, taken again, waits for the store's check.</summary>
    private const string RetakenUnchecked = "taken again";

    /// <summary>Null while the node holds its store's lock; otherwise why it does not.</summary>
    public string? Lost => _lost;

    /// <summary>
    /// The key of the PostgreSQL advisory lock a node holds on its database while it runs (advisory locks are per database):
    /// the PostgreSQL store's STORE.lock.
    /// </summary>
    private const long PostgresLockKey = 0x4D49_5250_5353_544F; // "MIRPSSTO"

    /// <summary>The application name of the lock's session (pg_stat_activity), which <c>mirps restore</c> leaves out of the sessions it counts.</summary>
    public const string PostgresApplicationName = "mirps-store-lock";

    /// <summary>
    /// The lock on the PostgreSQL store <paramref name="connectionString"/> names (a session-level advisory lock on a connection
    /// of its own, outside the pools, held until disposed), or null when another session holds it (a node runs on it).
    /// </summary>
    public static async Task<StoreLock?> TryAcquirePostgresAsync(string connectionString, CancellationToken cancellationToken = default) =>
        await TryLockPostgresAsync(connectionString, cancellationToken) is ({ } connection, var token) ? new StoreLock(connection, connectionString, token) : null;

    /// <summary>
    /// The lock on the PostgreSQL store <paramref name="connectionString"/> names, waited for in PostgreSQL's queue: when its holder's
    /// session ends, PostgreSQL grants it to this waiting session before anyone's later try (<see cref="TryAcquirePostgresAsync"/>).
    /// For tests that stand for another process taking a node's store while the node would take its lock back.
    /// </summary>
    internal static async Task<StoreLock> AcquirePostgresAsync(string connectionString, CancellationToken cancellationToken = default) =>
        await TryLockPostgresAsync(connectionString, cancellationToken, wait: true) is ({ } connection, var token)
            ? new StoreLock(connection, connectionString, token)
            : throw new InvalidOperationException("the store's lock was not granted");

    /// <summary>
    /// The key every write transaction takes shared (<see cref="StoreLockFence"/>) before it checks the fencing key, and a new
    /// holder of the store's lock takes once exclusively: it waits there until the write transactions of the lock's previous
    /// holder that passed their check have ended, so none of them commits after the new holder has begun to read the store.
    /// </summary>
    private const long PostgresWriteBarrierKey = 0x4D49_5250_5357_5242; // "MIRPSWRB"

    /// <summary>How long a new holder waits at the barrier for the previous holder's write transactions (a hung one fails the take, retried).</summary>
    private const int BarrierTimeoutSeconds = 60;

    /// <summary>
    /// A connection holding the advisory lock and its fencing key (a random key only this session holds), or none when another
    /// session holds the lock. Once taken, it waits for the previous holder's write transactions in flight (the barrier).
    /// </summary>
    private static async Task<(Npgsql.NpgsqlConnection? Connection, long Token)> TryLockPostgresAsync(string connectionString, CancellationToken cancellationToken, bool wait = false)
    {
        // Keepalive: a network cut ends the session on the server too, and the check finds it.
        var connection = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false, ApplicationName = PostgresApplicationName, KeepAlive = 10,
        }.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new Npgsql.NpgsqlCommand(wait ? $"SELECT pg_advisory_lock({PostgresLockKey}) IS NOT NULL" : $"SELECT pg_try_advisory_lock({PostgresLockKey})", connection)
            {
                CommandTimeout = wait ? 60 : 30,
            };
            if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
            {
                long token;
                do
                {
                    token = BitConverter.ToInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
                }
                while (token is 0 or PostgresLockKey or PostgresWriteBarrierKey);
                command.CommandText = $"SELECT pg_advisory_lock({token}); SELECT pg_advisory_lock({PostgresWriteBarrierKey}); SELECT pg_advisory_unlock({PostgresWriteBarrierKey})";
                command.CommandTimeout = BarrierTimeoutSeconds;
                await command.ExecuteNonQueryAsync(cancellationToken);
                return (connection, token);
            }
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        await connection.DisposeAsync();
        return (null, 0);
    }

    /// <summary>
    /// In a write transaction just begun on the store (<paramref name="transaction"/>): whether this node still holds the
    /// store's lock, checked in the transaction itself. It takes the barrier key shared (a new holder of the lock waits for
    /// this transaction to end before it reads the store), then the fencing key shared without waiting: that succeeds only
    /// when no session holds it exclusively, that is when the lock's session has ended (terminated, timed out, cut), whatever
    /// the node has noticed yet. Costs one round trip per write transaction.
    /// </summary>
    internal async Task<bool> HeldInAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, CancellationToken cancellationToken)
    {
        var token = Interlocked.Read(ref _token);
        if (token == 0)
        {
            return false;
        }
        if (Refused() is not null)
        {
            return false;
        }
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT pg_advisory_xact_lock_shared({PostgresWriteBarrierKey}); SELECT pg_try_advisory_xact_lock_shared({token})";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return !reader.GetBoolean(0); // taken here: no session holds it, so the lock's session is gone
    }

    /// <summary>
    /// Why a write transaction is refused though the lock's session holds the fencing key: the lock is lost, or taken again and
    /// the store not yet checked (unless the write is the recovery's own, <see cref="RecoveryWrites"/>), or this write was allowed
    /// before the lock was last taken again (<see cref="WritableNow"/>). Null when it may write.
    /// </summary>
    private string? Refused()
    {
        var retakes = Interlocked.Read(ref _retakes);
        if (_lost is { } lost && !Recovering.Value)
        {
            return lost;
        }
        return WritableAt.Value is ({ } at, var allowed) && ReferenceEquals(at, this) && allowed != retakes
            ? "the node lost its store's lock and took it again after this write was allowed (another session may have restored the store meanwhile): nothing was written; try again"
            : null;
    }

    /// <summary>The write of this flow was allowed now (its checks passed): its transaction is refused if the lock is taken again before it begins.</summary>
    public void WritableNow() => WritableAt.Value = (this, Interlocked.Read(ref _retakes));

    /// <summary>
    /// Marks the writes of this flow as the node's recovery's (<see cref="Sync.OriginRecovery"/>), which must go on while the lock,
    /// taken again, waits for the store's check; the fencing key is still checked. Undone when disposed.
    /// </summary>
    public static IDisposable RecoveryWrites()
    {
        var was = Recovering.Value;
        Recovering.Value = true;
        return new Undo(was);
    }

    private sealed class Undo(bool was) : IDisposable
    {
        public void Dispose() => Recovering.Value = was;
    }

    /// <summary>
    /// The refusal of a write transaction the fence stopped: why, when the lock's session holds the key still (lost, unchecked,
    /// or taken again since the write was allowed); otherwise the session ended (<see cref="SessionEnded"/>).
    /// </summary>
    internal string Refusal() => Interlocked.Read(ref _token) != 0 && Refused() is { } why ? why : SessionEnded();

    /// <summary>A write transaction found the lock's session ended: writes are refused until the next check takes the lock again.</summary>
    internal string SessionEnded()
    {
        Interlocked.Exchange(ref _token, 0);
        _fenced = true;
        var why = "the node's store lock session ended (a write found it, and wrote nothing: terminated by an administrator, idle_session_timeout or a network cut; " +
            "another process may hold the store's lock now): writes are refused until the node holds its lock again and has checked the store";
        _lost ??= why;
        return _lost;
    }

    /// <summary>The lock on the PostgreSQL store a node is about to open: refuses the start when another node holds it.</summary>
    public static StoreLock ForPostgresNode(string connectionString) =>
        TryAcquirePostgresAsync(connectionString).GetAwaiter().GetResult()
            ?? throw new InvalidOperationException($"Another node is running on the store (database {new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database}: it holds the store's advisory lock); one node per store.");

    /// <summary>Whether this is a PostgreSQL store's lock, which <see cref="CheckAsync"/> watches (a file lock cannot be lost).</summary>
    public bool Watched => _postgres is not null;

    /// <summary>
    /// Checks that the PostgreSQL lock's session is alive (a round trip on it, which also keeps it from idling out); when it
    /// is gone, takes the lock again on a new session. Returns what changed: null when nothing did, true when the node took
    /// the lock again, false when it has just lost it to another session (<see cref="Lost"/> says so).
    /// </summary>
    public async Task<bool?> CheckAsync(CancellationToken cancellationToken)
    {
        if (_postgres is null)
        {
            return null;
        }
        Npgsql.NpgsqlConnection? connection;
        lock (_sync)
        {
            connection = _held as Npgsql.NpgsqlConnection;
        }
        if (connection is not null && _fenced)
        {
            lock (_sync)
            {
                _held = null; // a write found the session ended: taken again below
            }
            await connection.DisposeAsync();
        }
        else if (connection is not null)
        {
            try
            {
                await using var command = new Npgsql.NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(cancellationToken);
                return _lost is null ? null : true; // the session, and so its lock, is alive (taken again: the store is still to be checked)
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException)
            {
                // the session is gone: so is the lock
                lock (_sync)
                {
                    _held = null;
                }
                await connection.DisposeAsync();
            }
        }
        try
        {
            var fenced = _fenced;
            _fenced = false;
            if (await TryLockPostgresAsync(_postgres, cancellationToken) is ({ } again, var token))
            {
                // The session ended, so another may have restored the store meanwhile (mirps restore, pg_restore): writes stay
                // refused until the store is checked as at start-up (Checked). Set before the new key is published, so no write
                // passes the fence in between; a write allowed before this retake is refused (WritableNow).
                _lost = $"{RetakenUnchecked}: the node took its store's advisory lock again after its session ended, and checks whether the store was restored meanwhile before it writes";
                Interlocked.Increment(ref _retakes);
                lock (_sync)
                {
                    _held = again;
                }
                Interlocked.Exchange(ref _token, token);
                return true;
            }
            var was = _lost;
            _lost = $"the node lost its store's advisory lock (its session ended: terminated by an administrator, idle_session_timeout or a network cut), and another session " +
                $"holds it now (mirps restore, or another node on database {new Npgsql.NpgsqlConnectionStringBuilder(_postgres).Database}): writes are refused until the node holds it again";
            return was is null || fenced ? false : null;
        }
        catch (Npgsql.NpgsqlException e)
        {
            var was = _lost;
            _lost = $"the node lost its store's advisory lock (its session ended) and cannot take it again ({e.Message}): writes are refused until it does";
            return was is null ? false : null;
        }
    }

    /// <summary>
    /// The store was checked after the lock was taken again (a restore made meanwhile was found, or none was): writes go on,
    /// unless the check refused them. Does nothing unless the lock is held and waiting for that check.
    /// </summary>
    /// <returns>Whether writes go on: not when the lock was taken again since <paramref name="retakes"/> (<see cref="Retakes"/> when the check began), which is checked anew.</returns>
    public bool Checked(long retakes)
    {
        lock (_sync)
        {
            if (_held is not null && Interlocked.Read(ref _retakes) == retakes && _lost?.StartsWith(RetakenUnchecked, StringComparison.Ordinal) == true)
            {
                _lost = null;
                return true;
            }
            return false;
        }
    }

    /// <summary>How many times the node took its lock again: what <see cref="Checked"/> is given, read before the store's check begins.</summary>
    public long Retakes => Interlocked.Read(ref _retakes);

    public static string FileOf(string store) => Path.GetFullPath(store) + ".lock";

    /// <summary>The lock on <paramref name="store"/>, or null when another holds it.</summary>
    public static StoreLock? TryAcquire(string store)
    {
        try
        {
            return new StoreLock(new FileStream(FileOf(store), OwnerOnlyCreate(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The lock on the store a node is about to open: refuses the start when another node holds it.</summary>
    public static StoreLock ForNode(string connectionString)
    {
        SqliteConnectionStringBuilder store;
        try
        {
            store = new SqliteConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException)
        {
            return new StoreLock(null); // not a SQLite store (PostgreSQL): its server keeps its own clients apart
        }
        if (store.Mode == SqliteOpenMode.Memory || store.DataSource is "" or ":memory:")
        {
            return new StoreLock(null); // nothing on disk to share
        }
        return TryAcquire(store.DataSource)
            ?? throw new InvalidOperationException($"Another node is running on the store {Path.GetFullPath(store.DataSource)} (it holds {FileOf(store.DataSource)}); one node per store.");
    }

    public void Dispose()
    {
        lock (_sync)
        {
            Interlocked.Exchange(ref _token, 0);
            _held?.Dispose();
            _held = null;
        }
    }

    /// <summary>Options that create a file owner-only (0600) where the platform has modes.</summary>
    internal static FileStreamOptions OwnerOnlyCreate(FileMode mode, FileAccess access, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        return options;
    }
}

/// <summary>
/// Checks the PostgreSQL store's lock every Store:LockCheckInterval (10 s), and logs when it was lost and taken again, or is
/// held by another. Taken again, the lock lets writes go on only once <paramref name="retaken"/> (the node's start-up restore
/// check, <see cref="Sync.OriginRecovery.CheckAfterStoreLockRetakenAsync"/>) has looked at the store: another session may
/// have restored it while the node did not hold the lock. A check that fails is made again at the next tick.
/// </summary>
public sealed partial class StoreLockWatch(StoreLock storeLock, TimeSpan interval, ILogger<StoreLockWatch> logger, Func<CancellationToken, Task>? retaken = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval);
        // The store's check after the lock is taken back runs beside the watch, which keeps ticking meanwhile: the check may wait
        // for a quorum a hostile peer prolongs, and a watch blocked on it sent no keepalive, so idle_session_timeout could end the
        // lock's session, the fence then refused the recovery's own writes, and only the blocked watch could take the lock back
        // (third hostile review, finding B).
        var rechecking = Task.CompletedTask;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            switch (await storeLock.CheckAsync(stoppingToken))
            {
                case true when rechecking.IsCompleted: // taken back and not checked (or its check failed): checked (again)
                    rechecking = RecheckAsync(storeLock.Retakes, stoppingToken);
                    break;
                case false:
                    LogLost(logger, storeLock.Lost!);
                    break;
            }
        }
    }

    /// <summary>The store's check for the lock taken back at <paramref name="retakes"/>: writes go on once it passed, unless the lock was taken back again meanwhile.</summary>
    private async Task RecheckAsync(long retakes, CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            if (retaken is not null)
            {
                await retaken(stoppingToken);
            }
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogRetakenUnchecked(logger, e.GetType().Name, e.Message);
            return; // writes stay refused; checked again at the next tick
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (storeLock.Checked(retakes))
        {
            LogRetaken(logger);
        }
    }

    [LoggerMessage(EventName = "StoreLockRetaken", Level = LogLevel.Warning,
        Message = "The store's advisory lock was lost (its session ended) and the node holds it again on a new session; the store was checked for a restore made meanwhile")]
    private static partial void LogRetaken(ILogger logger);

    [LoggerMessage(EventName = "StoreLockRetakenUnchecked", Level = LogLevel.Error,
        Message = "The node holds its store's advisory lock again, but could not check whether the store was restored meanwhile ({Error}: {Message}); writes stay refused, and it checks again")]
    private static partial void LogRetakenUnchecked(ILogger logger, string error, string message);

    [LoggerMessage(EventName = "StoreLockLost", Level = LogLevel.Error, Message = "Writes refused: {Why}")]
    private static partial void LogLost(ILogger logger, string why);
}

/// <summary>The node's "store-lock" health: unhealthy while it does not hold its store's lock (<see cref="StoreLock.Lost"/>).</summary>
public sealed class StoreLockHealthCheck(StoreLock storeLock) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(storeLock.Lost is { } why ? HealthCheckResult.Unhealthy(why) : HealthCheckResult.Healthy("the node holds its store's lock"));
}

/// <summary>
/// Every write transaction on a PostgreSQL store checks, inside the transaction, that the node still holds the store's lock
/// (<see cref="StoreLock.HeldInAsync"/>): the node looks at the lock's session only every Store:LockCheckInterval, and in
/// between a second node (or a restore by hand) may have taken the lock its ended session left. A transaction that finds the
/// session ended is rolled back before anything is written, and refused with FAILED_PRECONDITION <see cref="StoreLock.LostReason"/>;
/// writes stay refused until the node holds its lock again and has checked the store. EF Core's transactions only (the
/// node's writes); a read snapshot begun on the connection itself is not checked.
/// </summary>
public sealed class StoreLockFence : Microsoft.EntityFrameworkCore.Diagnostics.DbTransactionInterceptor
{
    /// <summary>The node's store lock, set when it is taken (before the store is opened); a transaction before that is refused.</summary>
    internal StoreLock? Lock { get; set; }

    public override async ValueTask<System.Data.Common.DbTransaction> TransactionStartedAsync(System.Data.Common.DbConnection connection,
        Microsoft.EntityFrameworkCore.Diagnostics.TransactionEndEventData eventData, System.Data.Common.DbTransaction result, CancellationToken cancellationToken = default)
    {
        if (Lock is { } held && await held.HeldInAsync(connection, result, cancellationToken))
        {
            return result;
        }
        await result.DisposeAsync(); // rolled back: nothing of it is written
        throw Refusal();
    }

    public override System.Data.Common.DbTransaction TransactionStarted(System.Data.Common.DbConnection connection,
        Microsoft.EntityFrameworkCore.Diagnostics.TransactionEndEventData eventData, System.Data.Common.DbTransaction result) =>
        TransactionStartedAsync(connection, eventData, result).AsTask().GetAwaiter().GetResult();

    private global::Grpc.Core.RpcException Refusal() =>
        MirpsExchange.ServiceDefaults.RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, StoreLock.LostReason,
            Lock?.Refusal() ?? "the node does not hold its store's lock");
}
