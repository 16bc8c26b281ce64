using MirpsExchange.Node.Extensions;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;

namespace MirpsExchange.Secretariat.Extensions;

/// <summary>
/// Builds the Secretariat the way Program.cs runs it, so tests start exactly the same thing: the node's
/// store, sync and services (AddNode / MapNode, configured with the Node: keys, with no Node:Country) plus
/// the regional indicators.
/// </summary>
public static class SecretariatApplication
{
    /// <param name="configure">Runs after the Secretariat's own registrations (tests add a log capture here).</param>
    public static async Task<WebApplication> BuildAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
        // Its own default port beside a State's node (5100) on the same machine; Node:Port overrides it.
        builder.Configuration["Node:Port"] ??= "5200";
        builder.AddNode(secretariat: true);
        builder.AddRegional();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapNode();
        app.MapRegional();
        app.PrefetchPeerTokens();
        await app.MigrateStoreAsync();
        return app;
    }
}
