using Microsoft.Extensions.Diagnostics.HealthChecks;
using Mirps.Sync.V1;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// Health of the node's pulls: degraded (the node still serves) while a peer is failing or stopped, with
/// the peer, origin and last error in the description.
/// </summary>
public sealed class PeerHealthCheck(PeerStates states) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var troubled = states.Snapshot().Where(p => p.State is PeerState.Failing or PeerState.Stopped).ToList();
        return Task.FromResult(troubled.Count == 0
            ? HealthCheckResult.Healthy("every peer pull is connected or connecting")
            : HealthCheckResult.Degraded(string.Join("; ", troubled.Select(p => $"{p.Origin} from {p.Address}: {p.State} ({p.LastError})"))));
    }
}
