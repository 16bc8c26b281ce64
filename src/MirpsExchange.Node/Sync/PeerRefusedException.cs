namespace MirpsExchange.Node.Sync;

/// <summary>
/// What a peer sent breaks one of the replica's rules (<see cref="ReplicaRules"/>): nothing of it is
/// written, and the pull reports the peer Failing with "<see cref="Reason"/>: message" and tries again later.
/// </summary>
public sealed class PeerRefusedException(string reason, string message) : Exception(message)
{
    /// <summary>A machine-readable reason, one of <see cref="ReplicaRules"/>' constants (OUT_OF_SEQUENCE, INVALID_CONTENT...).</summary>
    public string Reason => reason;

    /// <summary>As a pull's last_error: "REASON: message".</summary>
    public string Error => $"{reason}: {Message}";
}
