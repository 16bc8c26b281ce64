namespace MirpsExchange.Node.Store;

/// <summary>
/// The time a write stamps what this node receives with, and the latest time an answer "as of now" may read.
/// A write's received time is taken before its transaction commits: a reader that took "now" in between
/// would miss the write now and count it when asked again with that time, so a figure and its heads would
/// not reproduce. An answer as of now reads as of just before any write in flight instead. One writer at
/// a time (<see cref="WriteGate"/>), so one write is in flight at most.
/// </summary>
public sealed class ReceiveStamps(TimeProvider clock)
{
    private readonly Lock _lock = new();
    private long _inFlight = long.MaxValue;

    /// <summary>Under the write gate: the received time of the write about to happen (at least <paramref name="atLeast"/>), in flight until <see cref="End"/>.</summary>
    public long Begin(long atLeast = long.MinValue)
    {
        lock (_lock)
        {
            _inFlight = Math.Max(StoreTime.ToMicros(clock.GetUtcNow()), atLeast);
            return _inFlight;
        }
    }

    /// <summary><see cref="Begin"/>, ended when the write is disposed of (committed, or rolled back).</summary>
    public InFlight Receive(long atLeast = long.MinValue) => new(this, Begin(atLeast));

    /// <summary>A write in flight: its received time.</summary>
    public sealed class InFlight(ReceiveStamps stamps, long time) : IDisposable
    {
        public long Time => time;

        public void Dispose() => stamps.End();
    }

    /// <summary>The write committed or failed.</summary>
    public void End()
    {
        lock (_lock)
        {
            _inFlight = long.MaxValue;
        }
    }

    /// <summary>The latest time an answer can read now and read the same again later: before now, and before any write in flight.</summary>
    public long Settled()
    {
        lock (_lock)
        {
            return Math.Min(StoreTime.ToMicros(clock.GetUtcNow()) - 1, _inFlight - 1);
        }
    }
}
