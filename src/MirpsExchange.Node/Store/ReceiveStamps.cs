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

    /// <summary>
    /// The latest received time given (or found in the store at start, <see cref="Observe"/>). Stamps never go back: a clock
    /// set back (an NTP correction, a clock that ran ahead) would otherwise stamp later writes before earlier ones, and an
    /// answer "as of now" would not read what was received while the clock was ahead until the clock caught up again.
    /// </summary>
    private long _latest = long.MinValue;

    /// <summary>Under the write gate: the received time of the write about to happen (at least <paramref name="atLeast"/>, and never before an earlier one), in flight until <see cref="End"/>.</summary>
    public long Begin(long atLeast = long.MinValue)
    {
        lock (_lock)
        {
            _inFlight = Math.Max(Math.Max(StoreTime.ToMicros(clock.GetUtcNow()), atLeast), _latest);
            _latest = _inFlight;
            return _inFlight;
        }
    }

    /// <summary>A received time already in the store (the latest, read at start): later stamps come after it, and "now" is not before it.</summary>
    public void Observe(long received)
    {
        lock (_lock)
        {
            _latest = Math.Max(_latest, received);
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

    /// <summary>
    /// The latest time an answer can read now and read the same again later: before any write in flight, before now, but not
    /// before the latest write received (whose stamp may be ahead of a clock set back since).
    /// </summary>
    public long Settled()
    {
        lock (_lock)
        {
            return Math.Min(Math.Max(StoreTime.ToMicros(clock.GetUtcNow()) - 1, _latest), _inFlight - 1);
        }
    }

    /// <summary>
    /// A cursor over received times (webhooks read what arrived in slices of them): every write stamped at or before it has
    /// ended, and no later write is stamped before it, whatever the clock does. A later write may get this very stamp again
    /// (a clock behind the latest stamp, <see cref="Begin"/>): a reader of the slice at the cursor counts its rows.
    /// </summary>
    public long Passed()
    {
        lock (_lock)
        {
            return Math.Min(_latest, _inFlight - 1);
        }
    }
}
