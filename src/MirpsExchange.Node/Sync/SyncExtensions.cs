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
        builder.Services.AddSingleton<PeerCredentials>();
        // The recovery check (OriginRecovery) runs before the node listens, so it serves and writes nothing of its own State's log
        // before it knows where that log stands among its peers. The pulls start first, beside it: a pull of another origin's
        // log neither reads nor moves the node's own sequence (what the check protects), writes only that origin's changes,
        // verified against that origin's signed log, one writer at a time (WriteGate), exactly as it would a moment later; a
        // pull of the node's own State's log waits for the check (OriginRecovery.Checked), as it did when the check came first.
        builder.Services.AddSingleton<RecoveryState>();
        builder.Services.AddSingleton<OriginRecovery>();
        builder.Services.AddHostedService<PeerSyncWorker>();
        builder.Services.AddHostedService(services => services.GetRequiredService<OriginRecovery>());
        builder.Services.AddHealthChecks().AddCheck<PeerHealthCheck>("peers").AddCheck<RecoveryHealthCheck>("recovery");
        return builder;
    }

    /// <summary>
    /// Asks for every peer node's token in the background (<see cref="PeerCredentials.Prefetch"/>), before the store is
    /// migrated: the start-up recovery check and the first pulls, which need them, then find them ready.
    /// </summary>
    public static void PrefetchPeerTokens(this WebApplication app)
    {
        if (app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<NodeOptions>>().Value.Peers.Count > 0)
        {
            app.Services.GetRequiredService<PeerCredentials>().Prefetch(app.Services.GetRequiredService<ILogger<PeerCredentials>>(), app.Lifetime.ApplicationStopping);
        }
    }
}
