using MirpsExchange.Node.Extensions;

namespace MirpsExchange.Secretariat.Extensions;

/// <summary>
/// Builds the Secretariat the way Program.cs runs it, so tests start exactly the same thing: the node's
/// store, sync and services (AddNode / MapNode, configured with the Node: keys, with no Node:Country) plus
/// the regional indicators.
/// </summary>
public static class SecretariatApplication
{
    public static async Task<WebApplication> BuildAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
        // Its own default port beside a State's node (5100) on the same machine; Node:Port overrides it.
        builder.Configuration["Node:Port"] ??= "5200";
        builder.AddNode(secretariat: true);
        builder.AddRegional();
        var app = builder.Build();
        app.MapNode();
        app.MapRegional();
        await app.MigrateStoreAsync();
        return app;
    }
}
