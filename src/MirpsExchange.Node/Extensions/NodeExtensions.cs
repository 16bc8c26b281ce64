using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Grpc;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Extensions;

public static class NodeExtensions
{
    public const string MeterName = "MirpsExchange.Node";

    /// <summary>
    /// A State's node, or with <paramref name="secretariat"/> the Secretariat's: the same store, feed and
    /// sync, with no country of its own (Node:Country empty), so it writes nothing and replicates every
    /// State as the Secretariat reader.
    /// </summary>
    public static WebApplicationBuilder AddNode(this WebApplicationBuilder builder, bool secretariat = false)
    {
        builder.AddServiceDefaults(MeterName);
        var section = builder.Configuration.GetSection(NodeOptions.Section);
        builder.Services.AddOptions<NodeOptions>().Bind(section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<NodeOptions>, NodeOptionsValidation>();
        var node = section.Get<NodeOptions>() ?? new NodeOptions();

        // The standard catalogue built in, or a newer version from a file while States upgrade at different times.
        var catalogue = string.IsNullOrEmpty(node.CatalogueFile)
            ? StandardCatalogue.LoadStandard()
            : StandardCatalogue.Parse(File.ReadAllText(node.CatalogueFile));
        if (secretariat && !string.IsNullOrEmpty(node.Country))
        {
            throw new InvalidOperationException(
                $"The Secretariat's node belongs to no State and writes no data: leave Node:Country empty (got '{node.Country}').");
        }
        if (!secretariat && !catalogue.ReportingCountries.Contains(node.Country))
        {
            throw new InvalidOperationException(
                $"Configuration key Node:Country must be the ISO3 code of a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order())}); got '{node.Country}'.");
        }
        var tls = builder.AddTls();
        if (tls.Enabled && node.Peers.FindIndex(p => string.IsNullOrWhiteSpace(p.Country)) is var unnamed and >= 0)
        {
            throw new InvalidOperationException(
                $"Configuration key Node:Peers:{unnamed}:Country is required over TLS: the State's ISO3 code or 'secretariat' whose node the peer is; its certificate must name it.");
        }
        if ((node.ClientCertificateFile.Length > 0) != (node.ClientKeyFile.Length > 0))
        {
            throw new InvalidOperationException("Configuration keys Node:ClientCertificateFile and Node:ClientKeyFile must be set together (or both left empty to use the Tls certificate).");
        }
        builder.AddNodeAuthentication(node, tls);
        builder.Services.AddSingleton(catalogue);
        builder.Services.AddSingleton<ObservationValidator>();
        builder.Services.AddSingleton<MirpsExchange.Node.Sharing.SharingPolicies>();
        builder.Services.AddSingleton(TimeProvider.System);

        builder.Services.AddSingleton<WriteGate>();
        builder.Services.AddSingleton<ChangeNotifier>();
        builder.Services.AddSingleton<MirpsExchange.Node.Sync.PeerStates>();
        builder.Services.AddHostedService<MirpsExchange.Node.Sync.PeerSyncWorker>();
        builder.Services.AddHealthChecks().AddCheck<MirpsExchange.Node.Sync.PeerHealthCheck>("peers");
        builder.Services.AddScoped<ObservationWriter>();
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

        // Loopback unless Node:ListenAddress says otherwise (with TLS only); HTTPS (still HTTP/2 only: the
        // node speaks nothing but gRPC) when Tls:CertificateFile is set.
        var listenAddress = TlsExtensions.ListenAddress(node.ListenAddress, "Node:ListenAddress", tls);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(listenAddress, node.Port, listen =>
        {
            listen.UseHttp2();
            listen.UseTls(tls);
        }));
        return builder;
    }

    public static WebApplication MapNode(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        // Health and reflection stay open; every other call needs a valid token (no token: UNAUTHENTICATED).
        app.MapServiceDefaults();
        app.MapGrpcService<CatalogGrpcService>().RequireAuthorization();
        app.MapGrpcService<ObservationGrpcService>().RequireAuthorization();
        app.MapGrpcService<SyncGrpcService>().RequireAuthorization();
        app.Lifetime.ApplicationStarted.Register(() => WriteAddressFile(app));
        // The sharing policy is checked at start-up: a mistake stops the node before it writes anything.
        app.Services.GetRequiredService<MirpsExchange.Node.Sharing.SharingPolicies>();
        return app;
    }

    /// <summary>Applies pending EF Core migrations: the store's schema is created and upgraded only by migrations.</summary>
    public static async Task MigrateStoreAsync(this WebApplication app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<NodeDbContext>().Database;
        await store.MigrateAsync();
        StoreFiles.NarrowCreated(store.GetConnectionString()!);
    }

    /// <summary>The address the node listens on, for example http://127.0.0.1:5100, or https://127.0.0.1:5100 with TLS (after start).</summary>
    public static string ListeningAddress(this WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    private static void WriteAddressFile(WebApplication app)
    {
        var file = app.Services.GetRequiredService<IOptions<NodeOptions>>().Value.AddressFile;
        if (!string.IsNullOrEmpty(file))
        {
            var temporary = file + ".tmp";
            File.WriteAllText(temporary, app.ListeningAddress());
            File.Move(temporary, file, overwrite: true);
        }
    }
}

/// <summary>Builds the node the way Program.cs runs it, so tests and benchmarks start exactly the same thing.</summary>
public static class NodeApplication
{
    /// <param name="configure">Runs after the node's own registrations (tests add a log capture here).</param>
    public static async Task<WebApplication> BuildAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // No file watcher on the content root: the store is often below it, and every write to the
        // database and its WAL would wake the watcher. Configuration changes take a restart.
        var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
        builder.AddNode();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapNode();
        await app.MigrateStoreAsync();
        return app;
    }
}
