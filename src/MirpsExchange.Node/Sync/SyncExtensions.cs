namespace MirpsExchange.Node.Sync;

public static class SyncExtensions
{
    /// <summary>Pulling from Node:Peers: the sync worker, the replica's rules, the origins' published log keys and the writer that applies changes under them, the live state of every pull, and its health check; the recovery of the node's own log from its peers at start.</summary>
    public static WebApplicationBuilder AddPeerSync(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<PeerStates>();
        builder.Services.AddSingleton<ReplicaRules>();
        builder.Services.AddScoped<ReplicaWriter>();
        builder.Services.AddSingleton<ILogKeys, PublishedLogKeys>();
        builder.Services.AddSingleton<RecoveryState>();
        builder.Services.AddSingleton<OriginRecovery>();
        // The pulls start first: each waits for the network at once (a token, the peer's status), so they are under way
        // while the start-up waits for the recovery check below. A State's node behind what its peers hold of its own log
        // recovers it (in the background, writes refused meanwhile); the pulls write other origins' logs. The check runs
        // before the node listens, so a node that listens has checked; a replica's initial sync no longer waits for it.
        builder.Services.AddHostedService<PeerSyncWorker>();
        builder.Services.AddHostedService(services => services.GetRequiredService<OriginRecovery>());
        builder.Services.AddHealthChecks().AddCheck<PeerHealthCheck>("peers");
        return builder;
    }
}
