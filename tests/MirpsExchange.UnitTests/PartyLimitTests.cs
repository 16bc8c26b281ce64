using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.UnitTests;

/// <summary>Requests in progress per party (SDMX data answers per State, uploads per account): a party cannot hold more than its share of the process.</summary>
public class PartyLimitTests
{
    [Fact]
    public void A_party_gets_at_most_the_limit_in_progress_others_are_not_held_back_and_a_finished_answer_frees_its_place()
    {
        var limit = new PartyLimit(2);
        using var first = limit.TryEnter("PAN");
        var second = limit.TryEnter("PAN");

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Null(limit.TryEnter("PAN"));
        using var other = limit.TryEnter("CRI");
        Assert.NotNull(other);

        second!.Dispose();
        second.Dispose(); // twice frees one place only
        using var again = limit.TryEnter("PAN");
        Assert.NotNull(again);
        Assert.Null(limit.TryEnter("PAN"));
    }
}
