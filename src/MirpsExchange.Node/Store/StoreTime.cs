namespace MirpsExchange.Node.Store;

/// <summary>How the store keeps times: microseconds since the Unix epoch (UTC).</summary>
public static class StoreTime
{
    public static long ToMicros(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    /// <summary>
    /// A stored time (microseconds since the Unix epoch) as a protobuf Timestamp, before 1970 too: the seconds
    /// round down, so the nanoseconds stay in 0..999,999,999 as a Timestamp needs them.
    /// </summary>
    public static Google.Protobuf.WellKnownTypes.Timestamp ToTimestamp(long micros)
    {
        var seconds = Math.DivRem(micros, 1_000_000, out var rest);
        if (rest < 0)
        {
            (seconds, rest) = (seconds - 1, rest + 1_000_000);
        }
        return new() { Seconds = seconds, Nanos = (int)rest * 1_000 };
    }
}
