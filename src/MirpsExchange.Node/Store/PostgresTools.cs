using System.Diagnostics;
using Npgsql;

namespace MirpsExchange.Node.Store;

/// <summary>
/// PostgreSQL's client and server programs (pg_dump, pg_restore, psql; initdb, pg_ctl for a throwaway server), found in
/// this order: the folder given (<c>--pg-bin</c>), <c>MIRPS_PG_BIN</c>, the PATH, then the newest
/// /usr/lib/postgresql/N/bin (Debian). pg_dump must be as new as the server it dumps.
/// </summary>
public static class PostgresTools
{
    /// <summary>The folder holding <paramref name="tool"/>, or null when none is found.</summary>
    public static string? FindFolder(string tool, string? configured = null)
    {
        if (configured is { Length: > 0 })
        {
            return File.Exists(Path.Combine(configured, tool)) ? configured : null;
        }
        if (Environment.GetEnvironmentVariable("MIRPS_PG_BIN") is { Length: > 0 } bin)
        {
            return bin;
        }
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(folder, tool)))
            {
                return folder;
            }
        }
        const string Debian = "/usr/lib/postgresql";
        return Directory.Exists(Debian)
            ? Directory.GetDirectories(Debian).Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, tool)))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0).FirstOrDefault()
            : null;
    }

    /// <summary>
    /// Runs <paramref name="tool"/> against the database <paramref name="store"/> names: host, port, user and database as
    /// options, the password (when the connection string has one) in PGPASSWORD, never on the command line; without one,
    /// the tool finds it where libpq looks (PGPASSWORD, PGPASSFILE, ~/.pgpass). Returns its standard output.
    /// </summary>
    /// <exception cref="BackupRefusedException">The tool is not found, or it failed (its error in the message).</exception>
    public static async Task<string> RunAsync(string tool, string? bin, NpgsqlConnectionStringBuilder store, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var folder = FindFolder(tool, bin) ?? throw new BackupRefusedException(
            $"PostgreSQL's {tool} was not found ({(bin is { Length: > 0 } ? $"not in --pg-bin {bin}" : "not in MIRPS_PG_BIN, the PATH or /usr/lib/postgresql/N/bin")}): install PostgreSQL's client programs or name their folder with --pg-bin");
        var start = new ProcessStartInfo(Path.Combine(folder, tool)) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (store.Host is { Length: > 0 } host)
        {
            start.ArgumentList.Add($"--host={host.Split(',')[0]}");
        }
        start.ArgumentList.Add($"--port={store.Port}");
        if (store.Username is { Length: > 0 } user)
        {
            start.ArgumentList.Add($"--username={user}");
        }
        start.ArgumentList.Add("--no-password"); // never a prompt: a password comes from the environment or ~/.pgpass
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        if (store.Password is { Length: > 0 } password)
        {
            start.Environment["PGPASSWORD"] = password;
        }
        if (store.SslMode is not SslMode.Prefer)
        {
            start.Environment["PGSSLMODE"] = store.SslMode switch
            {
                SslMode.Disable => "disable",
                SslMode.Allow => "allow",
                SslMode.Require => "require",
                SslMode.VerifyCA => "verify-ca",
                _ => "verify-full",
            };
        }
        using var process = Process.Start(start) ?? throw new BackupRefusedException($"{tool} did not start");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true); // a psql stopped mid-restore rolls its transaction back
            throw;
        }
        if (process.ExitCode != 0)
        {
            throw new BackupRefusedException($"{tool} failed (exit code {process.ExitCode}): {(await error).Trim()}");
        }
        return await output;
    }
}
