namespace MirpsExchange.Node.Store;

/// <summary>
/// What a stored change keeps of its origin's signed log (see Mirps.Log.ChangeHash): the salt of a complete
/// change, the value digest of a small count withheld from this node, the change's link in the hash chain,
/// and when this node received it. Slices of per-batch buffers: nothing is allocated per change.
/// </summary>
public readonly record struct ChangeIntegrity(ReadOnlyMemory<byte> Salt, ReadOnlyMemory<byte> ValueDigest, ReadOnlyMemory<byte> Hash, long ReceivedTime);
