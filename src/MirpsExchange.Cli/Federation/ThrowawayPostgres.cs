using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Npgsql;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Cli.Federation;

/// <summary>
/// A PostgreSQL server of its own for a devnet (<c>mirps devnet --store postgres</c>) or a test run: <c>initdb</c> in a
/// folder, <c>pg_ctl</c> on an ephemeral port of 127.0.0.1 (its unix socket in that folder), no system service. Its one
/// role (mirps, superuser) signs in with a password made at start (SCRAM), so other users of the machine cannot read
/// the stores. PostgreSQL refuses to run as root: as root, the server runs as the <c>postgres</c> user, which then owns
/// the folder; that user may not reach a folder inside root's own (a home folder), so the cluster then lives in a new
/// owner-only folder of the temporary folder instead, deleted when the server stops (<see cref="Folder"/> says where).
/// Each store is a database of its own (<see cref="CreateDatabaseAsync"/>).
/// </summary>
public sealed class ThrowawayPostgres : IAsyncDisposable
{
    private const string Role = "mirps";

    private readonly string _bin;
    private readonly string _data;
    private readonly bool _asPostgresUser;
    private readonly string _password;

    private ThrowawayPostgres(string bin, string folder, bool asPostgresUser, string password, int port)
    {
        (_bin, Folder, _asPostgresUser, _password, Port) = (bin, folder, asPostgresUser, password, port);
        _data = Path.Combine(folder, "data");
    }

    /// <summary>Whether the cluster's folder is a temporary one of its own, deleted at <see cref="DisposeAsync"/>.</summary>
    private bool _temporary;

    public string Folder { get; }

    public int Port { get; }

    /// <summary>The folder of PostgreSQL's programs (initdb): MIRPS_PG_BIN, the PATH, else the newest /usr/lib/postgresql/N/bin (Node.Store.PostgresTools), or null.</summary>
    public static string? FindBin() => MirpsExchange.Node.Store.PostgresTools.FindFolder("initdb");

    /// <summary>
    /// Creates a cluster in <paramref name="folder"/> (made here; it must not exist) and starts it; with no folder, or as
    /// root, in a new folder of the temporary folder, deleted when the server stops.
    /// </summary>
    public static async Task<ThrowawayPostgres> StartAsync(string? folder, CancellationToken cancellationToken = default)
    {
        var bin = FindBin() ?? throw new InvalidOperationException("PostgreSQL's programs (initdb, pg_ctl) were not found: install PostgreSQL or set MIRPS_PG_BIN");
        var asPostgresUser = !OperatingSystem.IsWindows() && Environment.UserName == "root";
        var temporary = folder is null || asPostgresUser;
        folder = temporary ? Path.Combine(Path.GetTempPath(), "mirps-postgres-" + Guid.NewGuid().ToString("N")) : folder!;
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        var passwordFile = Path.Combine(folder, "password");
        await File.WriteAllTextAsync(passwordFile, password, cancellationToken);
        if (asPostgresUser)
        {
            await RunAsync("chown", ["-R", "postgres", folder], cancellationToken);
        }
        var port = LoopbackPorts.Free();
        var server = new ThrowawayPostgres(bin, folder, asPostgresUser, password, port) { _temporary = temporary };
        try
        {
            await server.RunToolAsync("initdb", ["-D", server._data, "-U", Role, "-A", "scram-sha-256", "--pwfile", passwordFile, "-E", "UTF8", "--locale=C", "--no-sync"], cancellationToken);
            File.Delete(passwordFile);
            await server.RunToolAsync("pg_ctl", ["-D", server._data, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "60",
                "-o", $"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", "start"], cancellationToken);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>The connection string of <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = Port, Username = Role, Password = _password, Database = database,
    }.ToString();

    /// <summary>Creates an empty database (a store's) and returns its connection string.</summary>
    public Task<string> CreateDatabaseAsync(string database, CancellationToken cancellationToken = default) =>
        EnsureDatabaseAsync(ConnectionString("postgres"), database, cancellationToken);

    /// <summary>
    /// The connection string of <paramref name="database"/> on the server <paramref name="server"/> names, created when
    /// it is missing (the role needs CREATEDB for that; an existing one is used as it is).
    /// </summary>
    public static async Task<string> EnsureDatabaseAsync(string server, string database, CancellationToken cancellationToken = default)
    {
        var administration = new NpgsqlConnectionStringBuilder(server) { Database = "postgres", Pooling = false };
        await using (var connection = new NpgsqlConnection(administration.ToString()))
        {
            await connection.OpenAsync(cancellationToken);
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
            exists.Parameters.AddWithValue("name", database);
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{Checked(database)}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        return new NpgsqlConnectionStringBuilder(server) { Database = database }.ToString();
    }

    /// <summary>Drops a database, closing what is still connected to it.</summary>
    public async Task DropDatabaseAsync(string database, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Checked(database)}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Stops the server (fast shutdown); a temporary folder is deleted, a given one stays for the caller.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (File.Exists(Path.Combine(_data, "postmaster.pid")))
        {
            await RunToolAsync("pg_ctl", ["-D", _data, "-m", "fast", "-w", "stop"], CancellationToken.None);
        }
        if (_temporary && Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    /// <summary>
    /// Deletes temporary clusters (<see cref="StartAsync"/> with no folder) left by processes killed before they could:
    /// those with no server running (no postmaster.pid) and untouched for <paramref name="age"/>. A test host is killed
    /// soon after its last test, often between stopping its server and deleting the folder.
    /// </summary>
    public static void DeleteStale(TimeSpan age)
    {
        foreach (var folder in Directory.GetDirectories(Path.GetTempPath(), "mirps-postgres-*"))
        {
            try
            {
                if (!File.Exists(Path.Combine(folder, "data", "postmaster.pid")) && Directory.GetLastWriteTimeUtc(folder) < DateTime.UtcNow - age)
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // another user's, or going away: left alone
            }
        }
    }

    private static string Checked(string database) =>
        database.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') ? database : throw new ArgumentException($"database name '{database}': letters, digits and _ only", nameof(database));

    private Task RunToolAsync(string tool, string[] arguments, CancellationToken cancellationToken)
    {
        var path = Path.Combine(_bin, tool);
        return _asPostgresUser ? RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments], cancellationToken) : RunAsync(path, arguments, cancellationToken);
    }

    private static async Task RunAsync(string program, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        // pg_ctl -l sends the server's own output to its log file, so these reach their end when the tool exits.
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments.Where(a => !a.Contains("password", StringComparison.Ordinal)))} failed ({process.ExitCode}): {await error}{await output}");
        }
    }
}
