using Microsoft.EntityFrameworkCore;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Store;

public static class StoreExtensions
{
    /// <summary>
    /// The node's store: SQLite at Node:DataDirectory (node-pan.db, secretariat.db) or ConnectionStrings:Store,
    /// owner-only; the EF Core contexts (one pool for readers, one for the single writer) and the write path.
    /// </summary>
    public static WebApplicationBuilder AddNodeStore(this WebApplicationBuilder builder, NodeOptions node, bool secretariat)
    {
        var connectionString = builder.Configuration.GetConnectionString("Store");
        if (string.IsNullOrEmpty(connectionString))
        {
            var folder = Path.GetFullPath(node.DataDirectory, builder.Environment.ContentRootPath);
            var file = secretariat ? "secretariat.db" : $"node-{node.Country.ToLowerInvariant()}.db";
            connectionString = $"Data Source={Path.Combine(folder, file)}";
        }
        StoreFiles.PrepareOwnerOnly(connectionString);
        OwnerOnlyFile.Require(node.Credential ?? "", "Node:Credential");
        // With tls_client_auth the client key is the whole credential.
        OwnerOnlyFile.Require(node.ClientKeyFile, "Node:ClientKeyFile");
        builder.Services.AddDbContext<NodeDbContext>(options => options.UseSqlite(connectionString).AddInterceptors(new SqlitePragmas()));
        // Writes use a connection pool of their own (pools are per connection string). A SQLite connection drops
        // its whole page cache when another connection wrote since it last read, so a writer that alternated with
        // readers over one pool reloaded the key index on most batches (a peer's initial sync ran ~40% slower
        // while its status was polled). One writer at a time (WriteGate) keeps one warm connection in this pool.
        var writerStore = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString) { Pooling = true }.ToString();
        var writerOptions = new DbContextOptionsBuilder<NodeDbContext>().UseSqlite(writerStore).AddInterceptors(new SqlitePragmas()).Options;
        builder.Services.AddKeyedScoped(NodeDbContext.Writer, (_, _) => new NodeDbContext(writerOptions));
        builder.Services.AddSingleton<WriteGate>();
        builder.Services.AddSingleton<ReceiveStamps>();
        builder.Services.AddSingleton<ChangeNotifier>();
        builder.Services.AddScoped<SubmitWriter>();
        return builder;
    }

    /// <summary>Applies pending EF Core migrations: the store's schema is created and upgraded only by migrations.</summary>
    public static async Task MigrateStoreAsync(this WebApplication app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<NodeDbContext>().Database;
        await store.MigrateAsync();
        StoreFiles.NarrowCreated(store.GetConnectionString()!);
        await ChangeLog.OriginSigning.ResumeRotationAsync(app.Services);
        await ChangeLog.HistoryAttestation.AttestAsync(app.Services);
    }
}
