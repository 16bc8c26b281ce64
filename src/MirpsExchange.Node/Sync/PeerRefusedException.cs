namespace MirpsExchange.Node.Sync;

/// <summary>
/// What a peer sent breaks one of the replica's rules (<see cref="ReplicaRules"/>): nothing of it is
/// written, and the pull reports the peer Failing with "<see cref="Reason"/>: message" and tries again later.
/// The message is ours; any text of the peer's it names is quoted (<see cref="PeerText.Quote"/>), and the whole is kept
/// on one line, without control characters, and capped (<see cref="PeerText.Clean"/>).
/// </summary>
public sealed class PeerRefusedException(string reason, string message) : Exception(PeerText.Clean(message, MaxLength))
{
    /// <summary>The most characters of a refusal's message.</summary>
    public const int MaxLength = 1_000;

    /// <summary>A machine-readable reason, one of <see cref="ReplicaRules"/>' constants (OUT_OF_SEQUENCE, INVALID_CONTENT...).</summary>
    public string Reason => reason;

    /// <summary>As a pull's last_error: "REASON: message".</summary>
    public string Error => $"{reason}: {Message}";
}
