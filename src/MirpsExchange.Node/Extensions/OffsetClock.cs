namespace MirpsExchange.Node.Extensions;

/// <summary>The system clock shifted by Node:ClockOffset (a test and operations aid: a host whose clock drifted).</summary>
public sealed class OffsetClock(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + offset;
}
