using MirpsExchange.Node.Store;

namespace MirpsExchange.UnitTests.Store;

public class ReceiveStampsTests
{
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void An_answer_as_of_now_reads_before_a_write_in_flight_and_a_write_begun_after_it_comes_after_it()
    {
        var clock = new FixedClock(DateTimeOffset.UnixEpoch.AddDays(20_000));
        var stamps = new ReceiveStamps(clock);
        var now = StoreTime.ToMicros(clock.Now);

        // Nothing in flight: just before now.
        Assert.Equal(now - 1, stamps.Settled());

        // A write took its received time; until it is over, "now" is before it, however the clock moves on.
        using (var write = stamps.Receive())
        {
            Assert.Equal(now, write.Time);
            clock.Now = clock.Now.AddSeconds(5);
            Assert.Equal(now - 1, stamps.Settled()); // its rows are not counted now, and never will be as of this time
        }
        var settled = stamps.Settled();
        Assert.Equal(StoreTime.ToMicros(clock.Now) - 1, settled);

        // A write that begins after an answer settled its time is received after it, even in the same microsecond.
        using var next = stamps.Receive();
        Assert.True(next.Time > settled);
        Assert.Equal(next.Time + 5, stamps.Begin(atLeast: next.Time + 5)); // an origin's commit is never before its last
    }

    /// <summary>
    /// A clock that ran ahead and was set back (an NTP correction; the chaos harness's skewed Secretariat, seed 551350344):
    /// stamps never go back, and "now" never reads as of before what was received while the clock ran ahead, also after a
    /// restart that finds the latest stamp in the store.
    /// </summary>
    [Fact]
    public void A_clock_set_back_neither_stamps_backwards_nor_hides_what_was_received_while_it_ran_ahead()
    {
        var clock = new FixedClock(DateTimeOffset.UnixEpoch.AddDays(20_000).AddMinutes(2));
        var stamps = new ReceiveStamps(clock);
        long ahead;
        using (var write = stamps.Receive())
        {
            ahead = write.Time;
        }
        clock.Now = clock.Now.AddMinutes(-2);
        Assert.Equal(ahead, stamps.Settled()); // the write received two minutes "ahead" is read now
        using (var later = stamps.Receive())
        {
            Assert.True(later.Time >= ahead, "a later write stamped before an earlier one");
        }

        var restarted = new ReceiveStamps(clock);
        restarted.Observe(ahead);
        Assert.Equal(ahead, restarted.Settled());
        Assert.True(restarted.Begin() >= ahead);
    }
}
