using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.ChangeLog;
using MirpsExchange.Node.Grpc;
using MirpsExchange.Node.Notifications;
using MirpsExchange.Node.Sdmx;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;
using MirpsExchange.ServiceDefaults;
using MirpsExchange.Web;

namespace MirpsExchange.Node.Extensions;

public static class NodeExtensions
{
    public const string MeterName = "MirpsExchange.Node";

    /// <summary>
    /// A State's node, or with <paramref name="secretariat"/> the Secretariat's: the same store, feed and
    /// sync, with no country of its own (Node:Country empty), so it writes nothing and replicates every
    /// State as the Secretariat reader. Each step is registered next to the folder it sets up.
    /// </summary>
    public static WebApplicationBuilder AddNode(this WebApplicationBuilder builder, bool secretariat = false)
    {
        builder.AddServiceDefaults(MeterName);
        var node = builder.AddNodeOptions(secretariat);
        builder.Services.AddSingleton(node.ClockOffset == TimeSpan.Zero ? TimeProvider.System : new OffsetClock(node.ClockOffset));
        var tls = builder.AddTls();
        builder.AddNodeAuthentication(node, tls);
        builder.AddNodeStore(node, secretariat);
        builder.AddChangeLog();
        builder.AddSharing();
        builder.AddPeerSync();
        builder.AddWebhooks(node);
        builder.ListenForGrpc(node, tls);
        builder.AddNodeWebApp(node, tls, secretariat);
        return builder;
    }

    /// <summary>
    /// The Node section, validated by <see cref="NodeOptionsValidation"/> now (before anything is opened with
    /// it) and again at start; the catalogue the node serves (the standard one built in, or a newer version
    /// from Node:CatalogueFile, or the earlier shipped one Node:CatalogueVersion names while States upgrade at different times) and its validation rules.
    /// </summary>
    public static NodeOptions AddNodeOptions(this WebApplicationBuilder builder, bool secretariat)
    {
        var section = builder.Configuration.GetSection(NodeOptions.Section);
        var node = section.Get<NodeOptions>() ?? new NodeOptions();
        if (!StandardCatalogue.ShippedVersions.ContainsKey(node.CatalogueVersion))
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(NodeOptions),
                [$"Configuration key Node:CatalogueVersion must be a catalogue version shipped with this release ({string.Join(", ", StandardCatalogue.ShippedVersions.Keys)}); got '{node.CatalogueVersion}'."]);
        }
        var catalogue = string.IsNullOrEmpty(node.CatalogueFile)
            ? StandardCatalogue.LoadVersion(node.CatalogueVersion)
            : StandardCatalogue.Parse(File.ReadAllText(node.CatalogueFile));
        var validation = new NodeOptionsValidation(catalogue, secretariat);
        if (validation.Validate(Options.DefaultName, node) is { Failed: true } result)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(NodeOptions), result.Failures);
        }
        builder.Services.AddOptions<NodeOptions>().Bind(section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<NodeOptions>>(validation);
        builder.Services.AddSingleton(catalogue);
        builder.Services.AddSingleton<ObservationValidator>();
        builder.Services.AddSingleton<Rules.StoredRuleCells>();
        builder.Services.AddSingleton<Rules.WrittenRuleTables>();
        return node;
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
        app.MapGrpcService<ApprovalGrpcService>().RequireAuthorization();
        app.MapWebhooks();
        app.MapSdmxRest();
        app.MapWebApp();
        app.Lifetime.ApplicationStarted.Register(() => WriteAddressFile(app));
        return app;
    }

    /// <summary>The address the node listens on, for example http://127.0.0.1:5100, or https://127.0.0.1:5100 with TLS (after start).</summary>
    public static string ListeningAddress(this WebApplication app) => Addresses(app)[0];

    /// <summary>
    /// Where HTTP/1.1 clients reach the HTTP/JSON routes (after start): the Node:HttpPort address in cleartext, else
    /// (TLS, or no HTTP/1.1 port) the one address, which serves JSON over HTTP/2 too.
    /// </summary>
    public static string HttpAddress(this WebApplication app) => Addresses(app)[^1];

    private static IReadOnlyList<string> Addresses(WebApplication app) => ServerAddresses.Of(app.Services);

    private static void WriteAddressFile(WebApplication app)
    {
        var file = app.Services.GetRequiredService<IOptions<NodeOptions>>().Value.AddressFile;
        if (!string.IsNullOrEmpty(file))
        {
            var temporary = file + ".tmp";
            // The gRPC address, then the HTTP/1.1 address of the JSON routes when Node:HttpPort opens one.
            File.WriteAllLines(temporary, Addresses(app));
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
        StartUpTimeline.Mark("main");
        var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
        StartUpTimeline.Mark("builder");
        builder.AddNode();
        configure?.Invoke(builder);
        StartUpTimeline.Mark("registered");
        var app = builder.Build();
        StartUpTimeline.Mark("built");
        app.MapNode();
        StartUpTimeline.Mark("mapped");
        // What the first pulls wait for, asked for while the store is migrated: the peers' tokens, the identity server's
        // discovery document and keys, and the revocation list with the States' published log keys.
        app.PrefetchPeerTokens();
        app.PrefetchRevocationList();
        await app.MigrateStoreAsync();
        StartUpTimeline.Mark("store ready");
        app.Lifetime.ApplicationStarted.Register(() => StartUpTimeline.Mark("listening"));
        return app;
    }
}
