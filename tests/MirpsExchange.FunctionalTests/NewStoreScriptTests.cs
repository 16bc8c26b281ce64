using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Store;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A new store is made by one script in one transaction (<see cref="NewStoreScript"/>), not by its migrations replayed one
/// by one: it must end exactly as a migrated store (schema and migrations history), take later migrations as one would,
/// and leave a store that holds anything to the migrations. On SQLite, and on PostgreSQL in the Postgres test project.
/// </summary>
public sealed class NewStoreScriptTests : IAsyncLifetime
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("mirps-new-store-");
    private readonly List<TestStore> _databases = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var database in _databases)
        {
            await database.DropAsync();
        }
        _folder.Delete(recursive: true);
    }

    /// <summary>A new, empty store (a SQLite file in the test's folder, or a database of its own) and what reads it.</summary>
    private async Task<(NodeDbContext Db, Func<string, List<string>> Rows)> NewStoreAsync()
    {
        if (await TestStores.CreateAsync() is { } database)
        {
            _databases.Add(database);
            return (new PostgresNodeDbContext(StoreExtensions.PostgresOptions(database.ConnectionString)), sql => TestStores.Rows(database.ConnectionString, sql));
        }
        var file = Path.Combine(_folder.FullName, $"node-{Guid.NewGuid():N}.db");
        return (new NodeDbContext(StoreExtensions.Options($"Data Source={file};Pooling=false")), sql => TestStores.Rows(null, file, sql));
    }

    /// <summary>Every table, column, index and constraint of the store, as the provider's catalogue describes them.</summary>
    private static List<string> Schema(NodeDbContext db, Func<string, List<string>> rows) => db.Database.IsSqlite()
        ? rows("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
        :
        [
            .. rows("""
                SELECT table_name, column_name, ordinal_position, data_type, is_nullable, coalesce(column_default, ''), coalesce(collation_name, ''),
                       is_identity, coalesce(identity_generation, ''), coalesce(character_maximum_length, 0)
                FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
                """),
            .. rows("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY tablename, indexname"),
            .. rows("""
                SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2
                """),
            .. rows("SELECT sequencename, data_type, increment_by FROM pg_sequences WHERE schemaname = current_schema() ORDER BY 1"),
        ];

    private static List<string> History(Func<string, List<string>> rows) =>
        rows("""SELECT "MigrationId", "ProductVersion" FROM "__EFMigrationsHistory" ORDER BY "MigrationId" """);

    [Fact]
    public async Task A_new_store_made_by_one_script_has_the_schema_and_history_of_a_store_migrated_one_migration_at_a_time()
    {
        var (migrated, migratedRows) = await NewStoreAsync();
        var (scripted, scriptedRows) = await NewStoreAsync();
        await using (migrated)
        await using (scripted)
        {
            await migrated.Database.MigrateAsync();

            Assert.True(await StoreExtensions.MigrateSchemaAsync(scripted), "a new store is made by the script");

            var schema = Schema(migrated, migratedRows);
            Assert.Contains(schema, row => row.Contains("observations", StringComparison.Ordinal));
            Assert.Equal(schema, Schema(scripted, scriptedRows));
            Assert.Equal(migrated.Database.GetMigrations().Count(), History(migratedRows).Count);
            Assert.Equal(History(migratedRows), History(scriptedRows));
            Assert.Empty(await scripted.Database.GetPendingMigrationsAsync());
        }
    }

    [Fact]
    public async Task A_store_made_by_an_earlier_script_takes_the_later_migration_and_ends_as_a_migrated_store()
    {
        var (migrated, migratedRows) = await NewStoreAsync();
        var (scripted, scriptedRows) = await NewStoreAsync();
        await using (migrated)
        await using (scripted)
        {
            await migrated.Database.MigrateAsync();
            var migrations = scripted.Database.GetMigrations().ToList();

            // The script of a release before the last migration, then the node's migration step as at a start.
            Assert.True(await NewStoreScript.CreateIfNewAsync(scripted, NewStoreScript.Generate(scripted, migrations[^2])));
            Assert.Equal(migrations[..^1], History(scriptedRows).Select(row => row.Split('|')[0]));
            Assert.False(await StoreExtensions.MigrateSchemaAsync(scripted), "a store that holds a schema is not made again");

            Assert.Equal(migrations, History(scriptedRows).Select(row => row.Split('|')[0]));
            Assert.Equal(Schema(migrated, migratedRows), Schema(scripted, scriptedRows));
        }
    }

    [Fact]
    public async Task A_store_that_holds_anything_is_left_to_the_migrations()
    {
        var (db, rows) = await NewStoreAsync();
        await using (db)
        {
            var migrations = db.Database.GetMigrations().ToList();
            await db.GetService<IMigrator>().MigrateAsync(migrations[0]);

            Assert.False(await NewStoreScript.CreateIfNewAsync(db));
            Assert.Equal([migrations[0]], History(rows).Select(row => row.Split('|')[0]));
            await db.Database.MigrateAsync();
            Assert.Equal(migrations, History(rows).Select(row => row.Split('|')[0]));
        }
    }

    [Fact]
    public async Task The_kept_script_is_what_EF_Core_generates_from_the_migrations()
    {
        var (db, _) = await NewStoreAsync();
        await using (db)
        {
            static string Lines(string text) => text.ReplaceLineEndings("\n").Trim('\uFEFF', '\n', ' ');
            var folder = db.Database.IsSqlite() ? "Store/Migrations" : "Store/PostgresMigrations";
            var context = db.Database.IsSqlite() ? "NodeDbContext" : "PostgresNodeDbContext";
            Assert.True(Lines(NewStoreScript.Generate(db)) == Lines(NewStoreScript.For(db.Database)),
                $"{folder}/NewStore.sql is not the migrations' script: after adding a migration, run in src/MirpsExchange.Node "
                + $"`dotnet ef migrations script --no-transactions --context {context} -o {folder}/NewStore.sql`");
        }
    }
}
