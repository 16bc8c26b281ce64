using MirpsExchange.Node.Store;

namespace MirpsExchange.UnitTests.Store;

public class StoreTimeTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(1_700_000_000_123_456L)]
    [InlineData(-1L)] // 1969-12-31T23:59:59.999999Z: a release time configured before 1970
    [InlineData(-1_500_000L)]
    [InlineData(-86_400_000_000L)]
    public void A_stored_time_becomes_a_valid_timestamp_and_back(long micros)
    {
        var timestamp = StoreTime.ToTimestamp(micros);
        Assert.InRange(timestamp.Nanos, 0, 999_999_999); // what a Timestamp must hold, or every reader refuses it
        Assert.Equal(micros, StoreTime.ToMicros(timestamp.ToDateTimeOffset()));
        Assert.Equal(micros, Mirps.Log.ChangeHash.Micros(timestamp));
    }
}
