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
            $"(Host=...;Database=...;Username=...; the password from PGPASSWORD or ~/.pgpass). Default: the {StoreVariable} environment variable, as the node reads it",
    };

    private static Option<string> PostgresBinOption() => new("--pg-bin")
    {
        Description = "PostgreSQL's programs' folder (pg_dump, pg_restore, psql); default: MIRPS_PG_BIN, the PATH, then /usr/lib/postgresql/N/bin",
    };

    private static string Store(ParseResult parse, Option<string> store) =>
        parse.GetValue(store) is { Length: > 0 } given ? given
        : Environment.GetEnvironmentVariable(StoreVariable) is { Length: > 0 } configured ? configured
        : throw new BackupRefusedException($"name the node's store with --store (or set {StoreVariable}, as for the node)");

    public static Command Backup()
    {
        var store = StoreOption();
        var output = new Option<FileInfo>("--out") { Description = "The backup file to make (never overwritten)", Required = true };
        var bin = PostgresBinOption();
        var command = new Command("backup", "Back up a node's store while it runs (SQLite's online backup API; pg_dump on PostgreSQL)") { store, output, bin };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var manifest = await StoreBackup.BackupAsync(Store(parse, store), parse.GetRequiredValue(output).FullName, cancellationToken, parse.GetValue(bin));
                await parse.InvocationConfiguration.Output.WriteLineAsync(
                    $"Backed up {manifest.Country}'s node's store: its log up to change {manifest.HeadSequence}, catalogue {manifest.CatalogueVersion}, into {parse.GetRequiredValue(output).FullName} (owner-only).");
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
        var from = new Option<FileInfo>("--from") { Description = "The backup file (made by mirps backup)", Required = true };
        var country = new Option<string>("--country") { Description = "Whose node the store is: the State's ISO3 code, or secretariat (a backup of another is refused)", Required = true };
        var bin = PostgresBinOption();
        var command = new Command("restore", "Restore a node's store from a backup (the node stopped); at its next start the node recovers from its peers what the backup lacks") { from, store, country, bin };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var target = Store(parse, store);
                var (manifest, replaced) = await StoreBackup.RestoreAsync(parse.GetRequiredValue(from).FullName, target, parse.GetRequiredValue(country), cancellationToken, parse.GetValue(bin));
                var output = parse.InvocationConfiguration.Output;
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
