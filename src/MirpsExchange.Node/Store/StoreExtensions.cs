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
        builder.Services.AddDbContext<NodeDbContext>(options => Configure(options, connectionString, node.StoreMaxPageCount));
        // Writes use a connection pool of their own (pools are per connection string). A SQLite connection drops
        // its whole page cache when another connection wrote since it last read, so a writer that alternated with
        // readers over one pool reloaded the key index on most batches (a peer's initial sync ran ~40% slower
        // while its status was polled). One writer at a time (WriteGate) keeps one warm connection in this pool.
        var writerStore = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString) { Pooling = true }.ToString();
        var writerOptions = Options(writerStore, node.StoreMaxPageCount);
        builder.Services.AddKeyedScoped(NodeDbContext.Writer, (_, _) => new NodeDbContext(writerOptions));
        builder.Services.AddSingleton<WriteGate>();
        builder.Services.AddSingleton<ReceiveStamps>();
        builder.Services.AddSingleton<ChangeNotifier>();
        builder.Services.AddScoped<SubmitWriter>();
        builder.Services.AddScoped<Approval.LifecycleLog>();
        builder.Services.AddSingleton<CatalogueVersions>();
        return builder;
    }

    /// <summary>
    /// The store's options: SQLite with the node's pragmas. Migrating does not compare the model with the migrations'
    /// snapshot at every start (EF Core's pending-model-changes check: a design-time model built and diffed, a good part
    /// of a new node's start-up); a unit test does, for every build (NodeStoreModelTests).
    /// </summary>
    /// <param name="maxPageCount">Node:StoreMaxPageCount, the SQLite store's size limit in pages (a full disk, for tests), or null.</param>
    public static void Configure(DbContextOptionsBuilder options, string connectionString, long? maxPageCount = null) =>
        options.UseSqlite(connectionString).AddInterceptors(new SqlitePragmas(maxPageCount))
            .ConfigureWarnings(warnings => warnings.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.RelationalEventId.PendingModelChangesWarning));

    /// <summary>The store's options (<see cref="Configure"/>) for a context made by hand.</summary>
    public static DbContextOptions<NodeDbContext> Options(string connectionString, long? maxPageCount = null)
    {
        var options = new DbContextOptionsBuilder<NodeDbContext>();
        Configure(options, connectionString, maxPageCount);
        return options.Options;
    }

    /// <summary>
    /// Applies pending EF Core migrations: the store's schema is created and upgraded only by migrations; refuses a
    /// catalogue earlier than the one the store was last run on (<see cref="CatalogueVersions"/>); then rows an
    /// earlier catalogue wrote take the running catalogue's dimension defaults (<see cref="StoredDimensions"/>).
    /// </summary>
    public static async Task MigrateStoreAsync(this WebApplication app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<NodeDbContext>().Database;
        await store.MigrateAsync();
        var catalogue = app.Services.GetRequiredService<MirpsExchange.Catalogue.StandardCatalogue>();
        await app.Services.GetRequiredService<CatalogueVersions>().StartAsync(catalogue.Version);
        // Rows an earlier catalogue wrote read as the catalogue the node runs now (a store upgraded to catalogue 2.0).
        await StoredDimensions.NormaliseAsync(scope.ServiceProvider.GetRequiredService<NodeDbContext>(), catalogue);
        StoreFiles.NarrowCreated(store.GetConnectionString()!);
        await ChangeLog.OriginSigning.ResumeRotationAsync(app.Services);
        await ChangeLog.HistoryAttestation.AttestAsync(app.Services);
    }
}
