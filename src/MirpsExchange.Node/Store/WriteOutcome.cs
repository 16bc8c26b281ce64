namespace MirpsExchange.Node.Store;

/// <summary>What a write did, key by key.</summary>
public sealed record WriteOutcome(int Inserted, int Revised, int Unchanged, int Deleted, int Absent, long LastOriginSequence);
