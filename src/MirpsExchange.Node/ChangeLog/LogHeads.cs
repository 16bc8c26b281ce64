using Google.Protobuf;
using Mirps.Observation.V1;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.ChangeLog;

/// <summary>Signed heads as stored (<see cref="LogHeadRow"/>) and as sent (<see cref="LogHead"/>).</summary>
public static class LogHeads
{
    public static LogHead ToMessage(LogHeadRow row) => new()
    {
        Origin = row.Origin,
        Sequence = row.Sequence,
        Hash = UnsafeByteOperations.UnsafeWrap(row.Hash),
        KeyId = row.KeyId,
        Signature = UnsafeByteOperations.UnsafeWrap(row.Signature),
        SignedTime = StoreTime.ToTimestamp(row.SignedTime),
        Kind = row.Kind,
        NextPublicKey = row.NextPublicKey is { } next ? UnsafeByteOperations.UnsafeWrap(next) : ByteString.Empty,
        // The default (3) as 0, as it was signed and as a node from before methods were versioned sends it.
        SuppressionMethod = (uint)Mirps.Log.SuppressionMethod.Encoded((uint)row.SuppressionMethod),
    };
}
