using System.Data.Common;
using Microsoft.Data.Sqlite;
using MirpsExchange.Cli.Federation;
using MirpsExchange.Node.Store;
using Npgsql;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// Which store the test run's nodes and Secretariats use: SQLite files (the default), or, with MIRPS_TEST_STORE=postgres,
/// a database each on one throwaway PostgreSQL server started for the whole run (<see cref="ThrowawayPostgres"/>) and
/// stopped when the test process exits. The core suites run a second time with it (MirpsExchange.FunctionalTests.Postgres).
/// </summary>
public static class TestStores
{
    /// <summary>
    /// PostgreSQL in the MirpsExchange.FunctionalTests.Postgres assembly (compiled with MIRPS_TEST_POSTGRES: the core suites,
    /// run by `dotnet test MirpsExchange.sln`), or for any suite with MIRPS_TEST_STORE=postgres.
    /// </summary>
    public static bool Postgres { get; } =
#if MIRPS_TEST_POSTGRES
        true;
#else
        string.Equals(Environment.GetEnvironmentVariable("MIRPS_TEST_STORE"), "postgres", StringComparison.OrdinalIgnoreCase);
#endif

    private static readonly SemaphoreSlim Starting = new(1, 1);
    private static ThrowawayPostgres? _server;

    /// <summary>
    /// A new store for a node or Secretariat: for PostgreSQL, its database and the configuration that points the node at it
    /// (null on SQLite, where the node makes its file under Node:DataDirectory).
    /// </summary>
    public static async Task<TestStore?> CreateAsync()
    {
        if (!Postgres)
        {
            return null;
        }
        var server = await ServerAsync();
        var database = "store_" + Guid.NewGuid().ToString("N");
        var connectionString = await server.CreateDatabaseAsync(database);
        return new TestStore(server, database, connectionString);
    }

    private static async Task<ThrowawayPostgres> ServerAsync()
    {
        await Starting.WaitAsync();
        try
        {
            if (_server is null)
            {
                ThrowawayPostgres.DeleteStale(TimeSpan.FromHours(1));
                _server = await ThrowawayPostgres.StartAsync(folder: null); // a temporary folder, deleted when it stops
                AppDomain.CurrentDomain.ProcessExit += (_, _) => _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return _server;
        }
        finally
        {
            Starting.Release();
        }
    }

    /// <summary>
    /// The store options for a <c>mirps devnet</c> run on the run's provider: none on SQLite (a file per process in its
    /// folder); on PostgreSQL <c>--store postgres --postgres</c> on a throwaway server of the test's own (devnet makes a
    /// database <c>mirps_&lt;name&gt;</c> per process on it, and a second run in the same folder reuses them), stopped
    /// when the returned value is disposed.
    /// </summary>
    public static async Task<DevnetStores> DevnetAsync() =>
        new(Postgres ? await ThrowawayPostgres.StartAsync(folder: null) : null);

    /// <summary>
    /// A value a test reads from either store, written as SQLite gives it: booleans as 1 and 0 (SQLite stores integers),
    /// blobs as upper-case hex (SQLite's hex()), numbers in the invariant culture.
    /// </summary>
    public static string Text(object value) => value switch
    {
        bool flag => flag ? "1" : "0",
        byte[] bytes => Convert.ToHexString(bytes),
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
    };

    /// <summary>Every row of a query on a store (<paramref name="store"/>, or the SQLite file <paramref name="file"/>), each as its columns joined by '|' (NULL as "null").</summary>
    public static List<string> Rows(TestStore? store, string file, string sql)
    {
        using var connection = Open(store, file);
        return Rows(connection, sql);
    }

    /// <summary>As <see cref="Rows(TestStore?, string, string)"/>, on the PostgreSQL database <paramref name="connectionString"/> names (a store a test made itself).</summary>
    public static List<string> Rows(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ToString());
        connection.Open();
        return Rows(connection, sql);
    }

    private static List<string> Rows(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(string.Join('|', Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : Text(reader.GetValue(i)))));
        }
        return rows;
    }

    /// <summary>Adds a parameter (either provider's command).</summary>
    public static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    /// <summary>An open connection to a store: <paramref name="store"/>'s database, or the SQLite file at <paramref name="sqliteFile"/>.</summary>
    public static DbConnection Open(TestStore? store, string sqliteFile)
    {
        DbConnection connection = store is null
            ? new SqliteConnection($"Data Source={sqliteFile};Pooling=False")
            : new NpgsqlConnection(store.ConnectionString);
        connection.Open();
        return connection;
    }
}

/// <summary>One node's database on the run's PostgreSQL server.</summary>
public sealed class TestStore(ThrowawayPostgres server, string database, string connectionString)
{
    /// <summary>The database's name (what a connection to it reports as its Database).</summary>
    public string Database => database;

    public string ConnectionString { get; } = connectionString;

    /// <summary>The node's configuration for this store.</summary>
    public string[] Args => ["--Store:Provider=postgres", $"--ConnectionStrings:Store={ConnectionString}"];

    public Task DropAsync() => server.DropDatabaseAsync(database);

    /// <summary>
    /// A consistent copy of the database while its node runs, as a SQLite store's VACUUM INTO is (TestNode.CopyStoreTo): a
    /// pg_dump of its tables and rows without the comments that mark a store (its party, the table a backup names), so a node
    /// started on it (<see cref="RestoreAsync"/>) stamps it as its own, as it does a copied SQLite file, rather than take it
    /// for a backup put back.
    /// </summary>
    public async Task DumpToAsync(string file)
    {
        await PostgresTools.RunAsync("pg_dump", null, new NpgsqlConnectionStringBuilder(ConnectionString),
            ["--format=custom", "--no-comments", $"--file={file}", $"--dbname={database}"], CancellationToken.None);
    }

    /// <summary>Fills this (new, empty) database with a dump <see cref="DumpToAsync"/> made.</summary>
    public async Task RestoreAsync(string file)
    {
        await PostgresTools.RunAsync("pg_restore", null, new NpgsqlConnectionStringBuilder(ConnectionString),
            ["--no-owner", "--no-privileges", "--exit-on-error", $"--dbname={database}", file], CancellationToken.None);
    }
}

/// <summary>A devnet run's stores (<see cref="TestStores.DevnetAsync"/>): the options that pick them, and a look into one of them.</summary>
public sealed class DevnetStores(ThrowawayPostgres? server) : IAsyncDisposable
{
    /// <summary>The devnet options for these stores (empty on SQLite).</summary>
    public string[] Args { get; } = server is null ? [] : ["--store", "postgres", "--postgres", server.ConnectionString("postgres")];

    /// <summary>Every row of a query on the store of devnet process <paramref name="name"/> (BLZ, secretariat) in <paramref name="folder"/>.</summary>
    public List<string> Rows(string folder, string name, string sql) => server is null
        ? TestStores.Rows(null, Path.Combine(folder, name, name == "secretariat" ? "secretariat.db" : $"node-{name.ToLowerInvariant()}.db"), sql)
        : TestStores.Rows(server.ConnectionString($"mirps_{name.ToLowerInvariant()}"), sql);

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }
}
