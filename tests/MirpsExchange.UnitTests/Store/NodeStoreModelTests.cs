using Microsoft.EntityFrameworkCore;
using MirpsExchange.Node.Store;

namespace MirpsExchange.UnitTests.Store;

/// <summary>
/// The node's store is created and upgraded by migrations only, and a node does not compare its model with the
/// migrations at every start (StoreExtensions.Configure): this test does, for every build.
/// </summary>
public class NodeStoreModelTests
{
    [Fact]
    public void Every_model_change_has_its_migration()
    {
        using var db = new NodeDbContext(StoreExtensions.Options("Data Source=:memory:"));
        Assert.False(db.Database.HasPendingModelChanges(),
            "the store's model differs from the migrations' snapshot: add a migration (dotnet ef migrations add <Name> -o Store/Migrations in src/MirpsExchange.Node)");
    }

    /// <summary>PostgreSQL's migrations are generated from the same model (docs/storage.md): a model change needs both.</summary>
    [Fact]
    public void Every_model_change_has_its_PostgreSQL_migration()
    {
        using var db = new PostgresNodeDbContext(StoreExtensions.PostgresOptions("Host=localhost;Database=model_check"));
        Assert.False(db.Database.HasPendingModelChanges(),
            "the store's model differs from PostgreSQL's migrations: add one (docs/storage.md: dotnet ef migrations add <Name> --context PostgresNodeDbContext -o Store/PostgresMigrations)");
    }

    [Fact]
    public async Task A_new_store_migrates_to_the_latest_migration()
    {
        var folder = Directory.CreateTempSubdirectory("mirps-store-model-");
        try
        {
            var options = StoreExtensions.Options($"Data Source={Path.Combine(folder.FullName, "node.db")};Pooling=false");
            await using var db = new NodeDbContext(options);
            await db.Database.MigrateAsync();
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
            Assert.Equal(db.Database.GetMigrations().Last(), (await db.Database.GetAppliedMigrationsAsync()).Last());
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
