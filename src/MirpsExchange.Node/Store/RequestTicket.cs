namespace MirpsExchange.Node.Store;

/// <summary>Identifies a mutating call for idempotent retries (AIP-155).</summary>
public sealed record RequestTicket(string RequestId, string Operation, byte[] Digest);
