using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Store;

/// <summary>Where the node keeps its store (<c>Store:Provider</c>).</summary>
public enum StoreProvider
{
    Sqlite,
    Postgres,
}

public static class StoreExtensions
{
    /// <summary>
    /// The node's store: SQLite at Node:DataDirectory (node-pan.db, secretariat.db) or ConnectionStrings:Store,
    /// owner-only; or PostgreSQL (<c>Store:Provider</c> = postgres) at ConnectionStrings:Store. The EF Core contexts
    /// (one pool for readers, one for the single writer) and the write path.
    /// </summary>
    public static WebApplicationBuilder AddNodeStore(this WebApplicationBuilder builder, NodeOptions node, bool secretariat)
    {
        var provider = ProviderOf(builder.Configuration);
        var connectionString = builder.Configuration.GetConnectionString("Store");
        if (provider == StoreProvider.Postgres)
        {
            if (string.IsNullOrEmpty(connectionString))
            {
                throw new InvalidOperationException("Store:Provider is postgres: set ConnectionStrings:Store (Host=...;Database=...;Username=...)");
            }
        }
        else if (string.IsNullOrEmpty(connectionString))
        {
            var folder = Path.GetFullPath(node.DataDirectory, builder.Environment.ContentRootPath);
            var file = secretariat ? "secretariat.db" : $"node-{node.Country.ToLowerInvariant()}.db";
            connectionString = $"Data Source={Path.Combine(folder, file)}";
        }
        if (provider == StoreProvider.Sqlite)
        {
            StoreFiles.PrepareOwnerOnly(connectionString);
        }
        OwnerOnlyFile.Require(node.Credential ?? "", "Node:Credential");
        // With tls_client_auth the client key is the whole credential.
        OwnerOnlyFile.Require(node.ClientKeyFile, "Node:ClientKeyFile");
        if (provider == StoreProvider.Postgres)
        {
            // One node per store, and `mirps restore` refuses a running node's database: the node holds an advisory lock on it while it runs.
            // Every write transaction checks, in itself, that the lock is still held (StoreLockFence): the watch below looks only every interval.
            var fence = new StoreLockFence();
            builder.Services.AddSingleton(_ => fence.Lock = StoreLock.ForPostgresNode(connectionString));
            // That lock lives on one session: a watch finds it ended, takes the lock again, or refuses writes while another holds it.
            // Taken again, writes wait for the start-up restore check (the store may have been restored while the lock was lost).
            var lockCheck = builder.Configuration.GetValue<TimeSpan?>("Store:LockCheckInterval") ?? TimeSpan.FromSeconds(10);
            builder.Services.AddHostedService(services => new StoreLockWatch(services.GetRequiredService<StoreLock>(), lockCheck, services.GetRequiredService<ILogger<StoreLockWatch>>(),
                services.GetService<Sync.OriginRecovery>() is { } recovery ? recovery.CheckAfterStoreLockRetakenAsync : null));
            builder.Services.AddHealthChecks().AddCheck<StoreLockHealthCheck>("store-lock");
            builder.Services.AddDbContext<NodeDbContext, PostgresNodeDbContext>(options => ConfigurePostgres(options, connectionString).AddInterceptors(fence));
            // The writer's connections are a pool of their own (Npgsql pools per connection string), as on SQLite.
            var writerStore = new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = "mirps-writer" }.ToString();
            var writerOptions = PostgresOptions(writerStore, fence);
            builder.Services.AddKeyedScoped<NodeDbContext>(NodeDbContext.Writer, (_, _) => new PostgresNodeDbContext(writerOptions));
        }
        else
        {
            // One node per store, and `mirps restore` refuses a running node's store: the node holds STORE.lock while it runs.
            builder.Services.AddSingleton(_ => StoreLock.ForNode(connectionString));
            builder.Services.AddDbContext<NodeDbContext>(options => Configure(options, connectionString, node.StoreMaxPageCount));
            // Writes use a connection pool of their own (pools are per connection string). A SQLite connection drops
            // its whole page cache when another connection wrote since it last read, so a writer that alternated with
            // readers over one pool reloaded the key index on most batches (a peer's initial sync ran ~40% slower
            // while its status was polled). One writer at a time (WriteGate) keeps one warm connection in this pool.
            var writerStore = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString) { Pooling = true }.ToString();
            var writerOptions = Options(writerStore, node.StoreMaxPageCount);
            builder.Services.AddKeyedScoped(NodeDbContext.Writer, (_, _) => new NodeDbContext(writerOptions));
            builder.Services.AddHostedService<SqliteMemory>();
            // SQLite's readers free and allocate their page caches all the time: what malloc keeps of it is given back (MallocArenas).
            builder.Services.AddHostedService<Extensions.MallocArenas.Trimmer>();
        }
        builder.Services.AddSingleton<WriteGate>();
        builder.Services.AddSingleton<ReceiveStamps>();
        builder.Services.AddSingleton<ChangeNotifier>();
        builder.Services.AddScoped<SubmitWriter>();
        builder.Services.AddScoped<Approval.LifecycleLog>();
        builder.Services.AddSingleton<Approval.DecisionLogGuard>();
        builder.Services.AddSingleton<CatalogueVersions>();
        return builder;
    }

    /// <summary><c>Store:Provider</c>: sqlite (the default) or postgres.</summary>
    public static StoreProvider ProviderOf(IConfiguration configuration) => configuration["Store:Provider"] switch
    {
        null or "" => StoreProvider.Sqlite,
        var name when name.Equals("sqlite", StringComparison.OrdinalIgnoreCase) => StoreProvider.Sqlite,
        var name when name.Equals("postgres", StringComparison.OrdinalIgnoreCase) || name.Equals("postgresql", StringComparison.OrdinalIgnoreCase) => StoreProvider.Postgres,
        var name => throw new InvalidOperationException($"Store:Provider is '{name}': use sqlite or postgres"),
    };

    /// <summary>
    /// The store's options: SQLite with the node's pragmas. Migrating does not compare the model with the migrations'
    /// snapshot at every start (EF Core's pending-model-changes check: a design-time model built and diffed, a good part
    /// of a new node's start-up); a unit test does, for every build (NodeStoreModelTests).
    /// </summary>
    /// <param name="maxPageCount">Node:StoreMaxPageCount, the SQLite store's size limit in pages (a full disk, for tests), or null.</param>
    public static void Configure(DbContextOptionsBuilder options, string connectionString, long? maxPageCount = null) =>
        options.UseSqlite(connectionString).AddInterceptors(new SqlitePragmas(maxPageCount))
            .ConfigureWarnings(warnings => warnings.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.RelationalEventId.PendingModelChangesWarning));

    /// <summary>The store's options on PostgreSQL (<see cref="PostgresNodeDbContext"/>).</summary>
    public static DbContextOptionsBuilder ConfigurePostgres(DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(connectionString)
            .ConfigureWarnings(warnings => warnings.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.RelationalEventId.PendingModelChangesWarning));

    /// <summary>The store's options (<see cref="Configure"/>) for a context made by hand.</summary>
    public static DbContextOptions<NodeDbContext> Options(string connectionString, long? maxPageCount = null)
    {
        var options = new DbContextOptionsBuilder<NodeDbContext>();
        Configure(options, connectionString, maxPageCount);
        return options.Options;
    }

    /// <summary>The store's options on PostgreSQL (<see cref="ConfigurePostgres"/>) for a context made by hand.</summary>
    /// <param name="fence">The node's write transactions' check of its store lock (<see cref="StoreLockFence"/>); none for a context a tool makes.</param>
    public static DbContextOptions<PostgresNodeDbContext> PostgresOptions(string connectionString, StoreLockFence? fence = null)
    {
        var options = new DbContextOptionsBuilder<PostgresNodeDbContext>();
        ConfigurePostgres(options, connectionString);
        if (fence is not null)
        {
            options.AddInterceptors(fence);
        }
        return options.Options;
    }

    /// <summary>
    /// The store's schema brought to the latest migration: a new store made by the migrations' script in one transaction
    /// (<see cref="NewStoreScript"/>; returns true then), rather than by replaying them one by one; then whatever
    /// migration is pending applied as ever (on a new store, those newer than the script, if any).
    /// </summary>
    public static async Task<bool> MigrateSchemaAsync(NodeDbContext db)
    {
        if (!db.Database.IsSqlite())
        {
            // On PostgreSQL, migrating a new database first reads a history table that is not there, and EF Core logs that
            // failed read as an error: the table is made first (as migrating would), so a node's first start logs none.
            await db.GetService<Microsoft.EntityFrameworkCore.Migrations.IHistoryRepository>().CreateIfNotExistsAsync();
        }
        var scripted = await NewStoreScript.CreateIfNewAsync(db);
        if (scripted)
        {
            Extensions.StartUpTimeline.Mark("new store made by one script");
        }
        await db.Database.MigrateAsync();
        return scripted;
    }

    /// <summary>
    /// Applies pending EF Core migrations (<see cref="MigrateSchemaAsync"/>): the store's schema is created and upgraded only by migrations (a new store by
    /// their script in one transaction, <see cref="NewStoreScript"/>); refuses a
    /// catalogue earlier than the one the store was last run on (<see cref="CatalogueVersions"/>); then rows an
    /// earlier catalogue wrote take the running catalogue's dimension defaults (<see cref="StoredDimensions"/>).
    /// </summary>
    public static async Task MigrateStoreAsync(this WebApplication app)
    {
        app.Services.GetRequiredService<StoreLock>(); // taken before the store is opened, held until the node is disposed
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        var store = db.Database;
        var made = await MigrateSchemaAsync(db);
        Extensions.StartUpTimeline.Mark("migrated");
        // The store says whose node's it is (a backup carries it; a restore, or a start on another State's store, is refused).
        await store.OpenConnectionAsync();
        try
        {
            await StoreBackup.StampAsync(store.GetDbConnection(), app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<NodeOptions>>().Value.Country);
        }
        finally
        {
            await store.CloseConnectionAsync();
        }
        // Received times go on from the latest in the store, even when this start's clock is behind the one that stamped it
        // (each MAX a seek at the end of a received_time index: a scan of the observations grew with the store).
        var stamps = app.Services.GetRequiredService<ReceiveStamps>();
        stamps.Observe(await db.Observations.MaxAsync(o => (long?)o.ReceivedTime) ?? long.MinValue);
        stamps.Observe(await db.WithheldChanges.MaxAsync(w => (long?)w.ReceivedTime) ?? long.MinValue);
        stamps.Observe(await db.LogHeads.MaxAsync(h => (long?)h.ReceivedTime) ?? long.MinValue);
        Extensions.StartUpTimeline.Mark("stamped, receive times");
        var catalogue = app.Services.GetRequiredService<MirpsExchange.Catalogue.StandardCatalogue>();
        // Rows an earlier catalogue wrote read as the catalogue the node runs now (a store upgraded to catalogue 2.0). Rows
        // written under the running catalogue already hold its defaults, so a store last run on it is not read again: that
        // walk of the declaring indicators' index entries grew with the store. A store this start made holds no row to read
        // again: its five UPDATEs (EF Core's raw-SQL path, cold) were a part of a new replica's start-up before its first pull.
        await app.Services.GetRequiredService<CatalogueVersions>().StartAsync(catalogue.Version,
            made ? null : () => StoredDimensions.NormaliseAsync(scope.ServiceProvider.GetRequiredService<NodeDbContext>(), catalogue));
        if (store.IsSqlite())
        {
            StoreFiles.NarrowCreated(store.GetConnectionString()!);
        }
        Extensions.StartUpTimeline.Mark("catalogue versions");
        await ChangeLog.OriginSigning.ResumeRotationAsync(app.Services);
        await ChangeLog.HistoryAttestation.AttestAsync(app.Services);
        // The Secretariat's earlier, unsigned decisions are signed into its decision log only once it holds that log as the
        // federation does (Approval/DecisionLogGuard, after the start-up check), never here: the log may be incomplete.
        await Approval.LifecycleLog.NoteLegacyReasonsAsync(app.Services);
    }
}
