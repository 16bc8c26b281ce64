namespace MirpsExchange.Node.Sync;

public static class SyncExtensions
{
    /// <summary>Pulling from Node:Peers: the sync worker, the replica's rules, the origins' published log keys and the writer that applies changes under them, the live state of every pull, and its health check.</summary>
    public static WebApplicationBuilder AddPeerSync(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<PeerStates>();
        builder.Services.AddSingleton<ReplicaRules>();
        builder.Services.AddScoped<ReplicaWriter>();
        builder.Services.AddSingleton<ILogKeys, PublishedLogKeys>();
        builder.Services.AddHostedService<PeerSyncWorker>();
        builder.Services.AddHealthChecks().AddCheck<PeerHealthCheck>("peers");
        return builder;
    }
}
