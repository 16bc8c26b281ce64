using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace MirpsExchange.Node.Store;

/// <summary>
/// A new, empty store made by one script in one transaction instead of its migrations replayed one by one (EF Core builds
/// each migration's target model to generate its SQL: most of a new replica's migration time). The script is what EF Core
/// itself generates from the same migrations (<c>dotnet ef migrations script --no-transactions</c>, kept beside them as
/// Store/Migrations/NewStore.sql and Store/PostgresMigrations/NewStore.sql), history rows included, so the store ends
/// exactly as if migrated; migrating afterwards applies whatever later migrations the script does not hold yet.
/// NewStoreScriptTests compares the schema with a migrated store's and the file with what EF Core generates now.
/// </summary>
public static class NewStoreScript
{
    /// <summary>The script kept for the store's provider (an embedded resource).</summary>
    public static string For(DatabaseFacade store)
    {
        var name = store.IsSqlite() ? "MirpsExchange.Node.Store.Migrations.NewStore.sql" : "MirpsExchange.Node.Store.PostgresMigrations.NewStore.sql";
        using var stream = typeof(NewStoreScript).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The new store's script {name} is not embedded in the node.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// What EF Core generates now for the store's migrations (up to <paramref name="toMigration"/>, else all), as the kept
    /// script must read: without transaction statements, since the whole script runs in one.
    /// </summary>
    public static string Generate(DbContext db, string? toMigration = null) =>
        db.GetService<IMigrator>().GenerateScript(toMigration: toMigration, options: MigrationsSqlGenerationOptions.NoTransactions);

    /// <summary>
    /// Runs <paramref name="script"/> (by default the kept one) in one transaction when the store holds no table yet but
    /// EF Core's own (an empty migrations history, its migration lock); returns whether it did. A store with anything in it
    /// is left to the migrations. Nothing else writes the store meanwhile: the node holds the store's lock (StoreLock).
    /// </summary>
    public static async Task<bool> CreateIfNewAsync(NodeDbContext db, string? script = null, CancellationToken cancellationToken = default)
    {
        var store = db.Database;
        await store.OpenConnectionAsync(cancellationToken);
        try
        {
            var connection = store.GetDbConnection();
            if (!await IsNewAsync(connection, store.IsSqlite(), cancellationToken))
            {
                return false;
            }
            script ??= For(store);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = script;
                command.CommandTimeout = 0;
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        finally
        {
            await store.CloseConnectionAsync();
        }
    }

    private const string History = "__EFMigrationsHistory", Lock = "__EFMigrationsLock";

    private static async Task<bool> IsNewAsync(DbConnection connection, bool sqlite, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sqlite
            ? $"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()";
        var tables = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                tables.Add(reader.GetString(0));
            }
        }
        if (tables.Any(t => t is not (History or Lock)))
        {
            return false;
        }
        if (!tables.Contains(History))
        {
            return true;
        }
        command.CommandText = $"SELECT COUNT(*) FROM \"{History}\"";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == 0;
    }
}
