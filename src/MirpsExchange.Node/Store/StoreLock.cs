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

    private StoreLock(IDisposable? held, string? postgres = null) => (_held, _postgres) = (held, postgres);

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
        await TryLockPostgresAsync(connectionString, cancellationToken) is { } connection ? new StoreLock(connection, connectionString) : null;

    /// <summary>A connection holding the advisory lock, or null when another session holds it.</summary>
    private static async Task<Npgsql.NpgsqlConnection?> TryLockPostgresAsync(string connectionString, CancellationToken cancellationToken)
    {
        // Keepalive: a network cut ends the session on the server too, and the check finds it.
        var connection = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false, ApplicationName = PostgresApplicationName, KeepAlive = 10,
        }.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new Npgsql.NpgsqlCommand($"SELECT pg_try_advisory_lock({PostgresLockKey})", connection);
            if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
            {
                return connection;
            }
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        await connection.DisposeAsync();
        return null;
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
        if (connection is not null)
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
            if (await TryLockPostgresAsync(_postgres, cancellationToken) is { } again)
            {
                lock (_sync)
                {
                    _held = again;
                }
                // The session ended, so another may have restored the store meanwhile (mirps restore, pg_restore): writes stay
                // refused until the store is checked as at start-up (Checked).
                _lost = $"{RetakenUnchecked}: the node took its store's advisory lock again after its session ended, and checks whether the store was restored meanwhile before it writes";
                return true;
            }
            var was = _lost;
            _lost = $"the node lost its store's advisory lock (its session ended: terminated by an administrator, idle_session_timeout or a network cut), and another session " +
                $"holds it now (mirps restore, or another node on database {new Npgsql.NpgsqlConnectionStringBuilder(_postgres).Database}): writes are refused until the node holds it again";
            return was is null ? false : null;
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
    public void Checked()
    {
        lock (_sync)
        {
            if (_held is not null && _lost?.StartsWith(RetakenUnchecked, StringComparison.Ordinal) == true)
            {
                _lost = null;
            }
        }
    }

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
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            switch (await storeLock.CheckAsync(stoppingToken))
            {
                case true:
                    try
                    {
                        if (retaken is not null)
                        {
                            await retaken(stoppingToken);
                        }
                    }
                    catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or IOException && !stoppingToken.IsCancellationRequested)
                    {
                        LogRetakenUnchecked(logger, e.GetType().Name, e.Message);
                        break; // writes stay refused; checked again at the next tick
                    }
                    storeLock.Checked();
                    LogRetaken(logger);
                    break;
                case false:
                    LogLost(logger, storeLock.Lost!);
                    break;
            }
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
