using System.CommandLine;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps backup --store FILE --out FILE</c> and <c>mirps restore --from FILE --store FILE --country PAN</c>: on the node's
/// machine, as the node's user, a consistent online backup of its SQLite store (the node may run), and its restore (the
/// node stopped); README, "Backup and recovery". A restore checks everything first and overwrites nothing when it refuses.
/// </summary>
public static class BackupCommand
{
    private static Option<string> StoreOption() => new("--store")
    {
        Description = "The node's SQLite store: Node:DataDirectory/node-COUNTRY.db (secretariat.db), or ConnectionStrings:Store's Data Source",
        Required = true,
    };

    public static Command Backup()
    {
        var store = StoreOption();
        var output = new Option<FileInfo>("--out") { Description = "The backup file to make (never overwritten)", Required = true };
        var command = new Command("backup", "Back up a node's store while it runs (SQLite's online backup API; on PostgreSQL use pg_dump)") { store, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var manifest = await StoreBackup.BackupAsync(parse.GetRequiredValue(store), parse.GetRequiredValue(output).FullName, cancellationToken);
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
        var command = new Command("restore", "Restore a node's store from a backup (the node stopped); at its next start the node recovers from its peers what the backup lacks") { from, store, country };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var (manifest, replaced) = await StoreBackup.RestoreAsync(parse.GetRequiredValue(from).FullName, parse.GetRequiredValue(store), parse.GetRequiredValue(country), cancellationToken);
                var output = parse.InvocationConfiguration.Output;
                await output.WriteLineAsync($"Restored {manifest.Country}'s node's store (its log up to change {manifest.HeadSequence}, catalogue {manifest.CatalogueVersion}, backed up {manifest.Created:u}).");
                if (replaced is not null)
                {
                    await output.WriteLineAsync($"The store it replaced is kept as {replaced} (delete it once the node runs).");
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
