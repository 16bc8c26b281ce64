using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Mirps.Sync.V1;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// Health of the node's pulls: degraded (the node still serves) while a peer is failing or stopped, or a pull lags
/// behind what its peer holds for longer than Node:PeerLagThreshold, with the peer, origin and reason in the description.
/// </summary>
public sealed class PeerHealthCheck(PeerStates states, IOptions<NodeOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var threshold = options.Value.PeerLagThreshold;
        var troubled = new List<string>();
        foreach (var peer in states.Snapshot())
        {
            if (peer.State is PeerState.Failing or PeerState.Stopped)
            {
                troubled.Add($"{peer.Origin} from {peer.Address}: {peer.State} ({peer.LastError})");
            }
            else if (peer.SequencesBehind > 0 && peer.TimeBehind?.ToTimeSpan() > threshold)
            {
                troubled.Add($"{peer.Origin} from {peer.Address}: lagging {peer.SequencesBehind} changes, the oldest recorded {peer.TimeBehind.ToTimeSpan().TotalSeconds:0} s ago (threshold {threshold.TotalSeconds:0} s)");
            }
        }
        return Task.FromResult(troubled.Count == 0
            ? HealthCheckResult.Healthy("every peer pull is connected or connecting, none lagging past the threshold")
            : HealthCheckResult.Degraded(string.Join("; ", troubled)));
    }
}
