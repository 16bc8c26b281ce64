using System.CommandLine;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps backup --store STORE --out FILE</c> and <c>mirps restore --from FILE --store STORE --country PAN</c>: on the node's
/// machine, as the node's user, a consistent online backup of its store (the node may run), and its restore (the node
/// stopped); README, "Backup and recovery". The store is a SQLite file (SQLite's backup API) or a PostgreSQL connection
/// string (pg_dump, pg_restore). A restore checks everything first and overwrites nothing when it refuses.
/// </summary>
public static class BackupCommand
{
    /// <summary>The environment variable the store's connection string is read from without --store (the node's own setting).</summary>
    public const string StoreVariable = "ConnectionStrings__Store";

    private static Option<string> StoreOption() => new("--store")
    {
        Description = "The node's store: its SQLite file (Node:DataDirectory/node-COUNTRY.db, secretariat.db), or a PostgreSQL connection string " +
            "(Host=...;Database=...;Username=...) without a password (the password from PGPASSWORD or ~/.pgpass; a command line is visible to every user of the machine, " +
            $"so one with a password is refused: use --store-file or {StoreVariable}). Default: --store-file, else the {StoreVariable} environment variable, as the node reads it",
    };

    private static Option<FileInfo> StoreFileOption() => new("--store-file")
    {
        Description = "A file (owner-only, chmod 600) holding the store's connection string on its first line, password included if need be",
    };

    private static Option<FileInfo> LogKeyOption(string what) => new("--log-key") { Description = what };

    /// <summary>The store --store, --store-file or the environment names (in that order); refuses a password on the command line.</summary>
    private static string Store(ParseResult parse, Option<string> store, Option<FileInfo> storeFile)
    {
        if (parse.GetValue(store) is { Length: > 0 } given)
        {
            if (StoreBackup.PostgresStore(given, out _) is { } postgres && HasPassword(postgres))
            {
                throw new BackupRefusedException($"--store holds a password, which every user of this machine can read on the command line (and which stays in the shell's history): " +
                    $"put the connection string in an owner-only file (--store-file), in the {StoreVariable} environment variable, or the password in PGPASSWORD or ~/.pgpass; nothing was done");
            }
            return given;
        }
        if (parse.GetValue(storeFile) is { } file)
        {
            try
            {
                MirpsExchange.ServiceDefaults.OwnerOnlyFile.Require(file.FullName, "--store-file");
            }
            catch (InvalidOperationException e)
            {
                throw new BackupRefusedException(e.Message, e);
            }
            return File.ReadLines(file.FullName).FirstOrDefault(line => line.Trim().Length > 0)?.Trim()
                ?? throw new BackupRefusedException($"--store-file {file.FullName} holds no connection string");
        }
        return Environment.GetEnvironmentVariable(StoreVariable) is { Length: > 0 } configured ? configured
            : throw new BackupRefusedException($"name the node's store with --store, --store-file (or set {StoreVariable}, as for the node)");
    }

    private static bool HasPassword(string connectionString)
    {
        try
        {
            return new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Password is { Length: > 0 };
        }
        catch (ArgumentException)
        {
            return connectionString.Contains("password", StringComparison.OrdinalIgnoreCase); // unreadable: never echoed, refused if it may hold one
        }
    }

    private static Option<string> PostgresBinOption() => new("--pg-bin")
    {
        Description = "PostgreSQL's programs' folder (pg_dump, pg_restore, psql); default: MIRPS_PG_BIN, the PATH, then /usr/lib/postgresql/N/bin",
    };


    public static Command Backup()
    {
        var store = StoreOption();
        var storeFile = StoreFileOption();
        var output = new Option<FileInfo>("--out") { Description = "The backup file to make (never overwritten)", Required = true };
        var bin = PostgresBinOption();
        var key = LogKeyOption("The node's log-signing key, which signs the backup's manifest (Node:LogSigningKeyFile); default: log-signing-key-COUNTRY.pem beside a SQLite store " +
            "(log-signing-key-secretariat.pem for the Secretariat). Required with a PostgreSQL store");
        var command = new Command("backup", "Back up a node's store while it runs (SQLite's online backup API; pg_dump on PostgreSQL), its manifest signed with the node's key") { store, storeFile, output, bin, key };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var manifest = await StoreBackup.BackupAsync(Store(parse, store, storeFile), parse.GetRequiredValue(output).FullName, cancellationToken, parse.GetValue(bin), parse.GetValue(key)?.FullName);
                await parse.InvocationConfiguration.Output.WriteLineAsync(
                    $"Backed up {manifest.Country}'s node's store: its log up to change {manifest.HeadSequence}, catalogue {manifest.CatalogueVersion}, into {parse.GetRequiredValue(output).FullName} (owner-only), signed with key {manifest.KeyId}.");
                return CliApp.Ok;
            }
            catch (Exception e) when (e is BackupRefusedException or IOException or UnauthorizedAccessException)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"error: {e.Message}");
                return CliApp.Refused;
            }
        });
        return command;
    }

    public static Command Restore()
    {
        var store = StoreOption();
        var storeFile = StoreFileOption();
        var from = new Option<FileInfo>("--from") { Description = "The backup file (made by mirps backup)", Required = true };
        var country = new Option<string>("--country") { Description = "Whose node the store is: the State's ISO3 code, or secretariat (a backup of another is refused)", Required = true };
        var bin = PostgresBinOption();
        var key = LogKeyOption("The key the backup's manifest must be signed with: the node's log-signing key file, or the State's published public key (log-signing-key-COUNTRY.pub.pem); " +
            "keys a rotation retired beside it count too. Default: the key beside a SQLite store. Required with a PostgreSQL store");
        var acceptUnsigned = new Option<bool>("--accept-unsigned")
        {
            Description = "Restore a backup made before signed manifests (no signature to verify): only one you trust from where it was kept; the restore says so",
        };
        var command = new Command("restore", "Restore a node's store from a backup (the node stopped); at its next start the node recovers from its peers what the backup lacks")
        {
            from, store, storeFile, country, bin, key, acceptUnsigned,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var target = Store(parse, store, storeFile);
                var trust = new BackupTrust(parse.GetValue(key)?.FullName, parse.GetValue(acceptUnsigned));
                var (manifest, replaced) = await StoreBackup.RestoreAsync(parse.GetRequiredValue(from).FullName, target, parse.GetRequiredValue(country), trust, cancellationToken, parse.GetValue(bin));
                var output = parse.InvocationConfiguration.Output;
                if (manifest.Signature is null)
                {
                    await parse.InvocationConfiguration.Error.WriteLineAsync(
                        $"warning: {parse.GetRequiredValue(from).FullName} has no signed manifest (a backup from before this release); it was restored because --accept-unsigned vouches for it.");
                }
                await output.WriteLineAsync($"Restored {manifest.Country}'s node's store (its log up to change {manifest.HeadSequence}, catalogue {manifest.CatalogueVersion}, backed up {manifest.Created:u}).");
                if (replaced is not null)
                {
                    await output.WriteLineAsync(StoreBackup.PostgresStore(target, out _) is null
                        ? $"The store it replaced is kept as {replaced} (delete it once the node runs)."
                        : $"The store it replaced is kept in the database as the schema {replaced} (drop it once the node runs: DROP SCHEMA {replaced} CASCADE).");
                }
                await output.WriteLineAsync("Start the node: it recovers from its peers the changes made after the backup before it accepts writes.");
                return CliApp.Ok;
            }
            catch (Exception e) when (e is BackupRefusedException or IOException or UnauthorizedAccessException)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"error: {e.Message}");
                return CliApp.Refused;
            }
        });
        return command;
    }
}
