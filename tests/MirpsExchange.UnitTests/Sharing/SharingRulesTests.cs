using Mirps.Observation.V1;
using MirpsExchange.Node.Sharing;

namespace MirpsExchange.UnitTests.Sharing;

/// <summary>The sharing rules every serving node applies, case by case.</summary>
public class SharingRulesTests
{
    private const long Now = 1_000_000;
    private static readonly RowPolicy ToCostaRicaAndPanama = RowPolicy.Listed(["PAN", "CRI"], null, 5);

    [Theory]
    // reader, policy readers, release time, small?, expected
    [InlineData("BLZ", "", 2_000_000L, true, Access.Full)]          // the owner: everything, embargo or not
    [InlineData("", "", null, true, Access.Full)]                  // the Secretariat: small counts too
    [InlineData("", "", 2_000_000L, false, Access.Embargoed)]      // ... but not before the release
    [InlineData("CRI", "", null, false, Access.NotShared)]         // Secretariat-only
    [InlineData("CRI", "*", null, true, Access.SmallCount)]
    [InlineData("CRI", "*", null, false, Access.Full)]
    [InlineData("CRI", "*", 2_000_000L, false, Access.Embargoed)]
    [InlineData("CRI", "*", 1_000_000L, false, Access.Full)]       // released at this very time
    [InlineData("GTM", ",CRI,PAN,", 2_000_000L, false, Access.NotShared)] // not named: final, whatever the embargo
    [InlineData("PAN", ",CRI,PAN,", null, false, Access.Full)]
    public void Access_follows_owner_then_readers_then_embargo_then_small_counts(string reader, string readers, long? release, bool small, Access expected)
    {
        var who = reader.Length == 0 ? Reader.Secretariat : Reader.State(reader);

        Assert.Equal(expected, SharingRules.AccessOf(who, "BLZ", new RowPolicy(readers, release, 5), small, Now));
    }

    [Theory]
    [InlineData("CRI", Held.Complete, true, Withholding.SmallCount)]
    [InlineData("CRI", Held.ValueWithheld, false, Withholding.SmallCount)] // a withheld copy is a small count
    [InlineData("CRI", Held.Placeholder, false, Withholding.NotHeld)]
    [InlineData("", Held.ValueWithheld, false, Withholding.NotHeld)]      // the Secretariat may have more than a relay holds
    [InlineData("", Held.Complete, true, Withholding.Unspecified)]
    [InlineData("GTM", Held.Complete, false, Withholding.NotShared)]
    [InlineData("GTM", Held.Placeholder, false, Withholding.NotShared)]
    public void A_node_serves_no_more_than_the_policy_allows_nor_than_it_holds(string reader, Held held, bool small, Withholding expected)
    {
        var who = reader.Length == 0 ? Reader.Secretariat : Reader.State(reader);

        Assert.Equal(expected, SharingRules.Serve(who, "BLZ", ToCostaRicaAndPanama, held, small, Now));
    }

    [Fact]
    public void A_holder_may_have_a_small_count_only_withheld_and_nothing_it_is_not_named_for()
    {
        var whole = Change(3, Withholding.Unspecified);
        var withheld = Change(0, Withholding.SmallCount);
        var placeholder = new StoredObservation { Origin = "BLZ", OriginSequence = 1, Policy = ToCostaRicaAndPanama.ToMessage(), Withholding = Withholding.NotShared };

        Assert.False(SharingRules.MayHold(Reader.State("CRI"), whole, Now));
        Assert.True(SharingRules.MayHold(Reader.State("CRI"), withheld, Now));
        Assert.True(SharingRules.MayHold(Reader.Secretariat, whole, Now));
        Assert.True(SharingRules.MayHold(Reader.State("BLZ"), whole, Now));
        Assert.False(SharingRules.MayHold(Reader.State("GTM"), withheld, Now));
        Assert.True(SharingRules.MayHold(Reader.State("GTM"), placeholder, Now));
    }

    [Fact]
    public void A_policy_travels_as_a_message_and_back_unchanged_and_a_listed_State_matches_exactly()
    {
        var policies = new[] { RowPolicy.SecretariatOnly, new RowPolicy(RowPolicy.AllStates, 42, 3), ToCostaRicaAndPanama };

        Assert.Equal(policies, policies.Select(p => RowPolicy.FromMessage(p.ToMessage())));
        Assert.Equal(",CRI,PAN,", ToCostaRicaAndPanama.Readers);
        Assert.True(ToCostaRicaAndPanama.SharesWith("PAN"));
        Assert.False(ToCostaRicaAndPanama.SharesWith("AN"));
        Assert.False(ToCostaRicaAndPanama.SharesWith(""));
        Assert.False(RowPolicy.SecretariatOnly.SharesWith("CRI"));
        Assert.Equal(RowPolicy.SecretariatOnly, RowPolicy.FromMessage(null));
        Assert.Equal([false, true, true, false], new double?[] { 0, 1, 4, 5 }.Select(v => ToCostaRicaAndPanama.IsSmall(v)));
    }

    private static StoredObservation Change(double value, Withholding withholding) => new()
    {
        Observation = new Observation { IndicatorCode = "REFUGEES", Country = "BLZ", Period = "2023", Value = value, Status = ObservationStatus.Normal },
        Origin = "BLZ",
        OriginSequence = 1,
        Revision = 1,
        Policy = ToCostaRicaAndPanama.ToMessage(),
        Withholding = withholding,
    };
}
