using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// Revocation fails open while the identity server cannot be reached (the node keeps the last list it
/// verified and serves the tokens it can check), so the node says so: Degraded once the list has not been
/// confirmed for three poll intervals, or when none has been fetched since start. Anyone able to cut the
/// node off from the identity server stretches the one-minute revocation promise; operators see it here.
/// </summary>
public sealed class RevocationHealthCheck(RevocationList revocations, IOptions<NodeOptions> options, TimeProvider clock) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var stale = 3 * options.Value.RevocationPollInterval;
        return Task.FromResult(revocations.ConfirmedAt switch
        {
            null => HealthCheckResult.Degraded("no revocation list since start: the identity server has not answered, so revocations are not enforced yet"),
            { } at when clock.GetUtcNow() - at > stale => HealthCheckResult.Degraded(
                $"the revocation list was last confirmed {(clock.GetUtcNow() - at).TotalSeconds:0} s ago (identity server unreachable?): revocations since then are not enforced"),
            _ => HealthCheckResult.Healthy($"revocation list version {revocations.Current.Version} confirmed, {revocations.Current.LogKeys.Count} log keys"),
        });
    }
}
