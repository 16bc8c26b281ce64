namespace MirpsExchange.Node.Store;

/// <summary>How the store keeps times: microseconds since the Unix epoch (UTC).</summary>
public static class StoreTime
{
    public static long ToMicros(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    /// <summary>A stored time (microseconds since the Unix epoch) as a protobuf Timestamp.</summary>
    public static Google.Protobuf.WellKnownTypes.Timestamp ToTimestamp(long micros) =>
        new() { Seconds = micros / 1_000_000, Nanos = (int)(micros % 1_000_000) * 1_000 };
}
