using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Identity.Store;

public static class StoreExtensions
{
    /// <summary>
    /// The credential register and OpenIddict's applications: SQLite identity.db in the data folder
    /// (owner-only), or ConnectionStrings:Identity; ASP.NET Core's data-protection keys beside it.
    /// </summary>
    public static WebApplicationBuilder AddIdentityStore(this WebApplicationBuilder builder, string dataDirectory)
    {
        var connectionString = builder.Configuration.GetConnectionString("Identity");
        if (string.IsNullOrEmpty(connectionString))
        {
            var database = Path.Combine(dataDirectory, "identity.db");
            OwnerOnlyFile.Ensure(database);
            connectionString = $"Data Source={database}";
        }
        builder.Services.AddDbContext<IdentityDbContext>(options =>
        {
            options.UseSqlite(connectionString);
            options.UseOpenIddict();
        });
        builder.Services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(dataDirectory, "data-protection")));
        return builder;
    }

    /// <summary>
    /// Puts the store in SQLite's WAL mode (kept in the file). Token requests read it all the time; in the default
    /// rollback-journal mode every commit (a credential issued or revoked, a key roll's audit record) waits until no
    /// reader holds the file, and under load gave up after the busy timeout ("database is locked"). In WAL mode readers
    /// never hold a commit up, and a commit is as durable as before (synchronous stays FULL).
    /// </summary>
    public static async Task UseWriteAheadLogAsync(IdentityDbContext db) =>
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
}
