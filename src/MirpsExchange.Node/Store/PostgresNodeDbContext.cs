using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace MirpsExchange.Node.Store;

/// <summary>
/// The node's store on PostgreSQL (<c>Store:Provider</c> = postgres): <see cref="NodeDbContext"/>'s model, with the
/// migrations generated for PostgreSQL from it (Store/PostgresMigrations, docs/storage.md). EF Core keeps migrations
/// per context type, so SQLite's history (Store/Migrations) is untouched.
/// </summary>
public sealed class PostgresNodeDbContext(DbContextOptions<PostgresNodeDbContext> options) : NodeDbContext(options)
{
    /// <summary>
    /// Text columns compare and sort bytewise (collation "C"), as SQLite's do, whatever the database's locale: codes and
    /// periods order alike on both providers, and the writers' natural key order (ordinal) is the index's order.
    /// </summary>
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        foreach (var property in modelBuilder.Model.GetEntityTypes().SelectMany(e => e.GetProperties()).Where(p => p.ClrType == typeof(string)))
        {
            property.SetCollation("C");
        }
    }
}

/// <summary>
/// Lets <c>dotnet ef migrations add X --context PostgresNodeDbContext --output-dir Store/PostgresMigrations</c> build the
/// model without a server (nothing connects while a migration is generated).
/// </summary>
internal sealed class PostgresDesignTimeDbContextFactory : IDesignTimeDbContextFactory<PostgresNodeDbContext>
{
    public PostgresNodeDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresNodeDbContext>().UseNpgsql("Host=localhost;Database=design_time").Options);
}
