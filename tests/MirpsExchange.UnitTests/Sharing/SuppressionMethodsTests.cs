using System.Security.Cryptography;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Sync;
using Revision = MirpsExchange.Node.Sharing.ComplementarySuppression.Revision;

namespace MirpsExchange.UnitTests.Sharing;

/// <summary>Which complementary-suppression method a node signs, serves and checks with (Sharing/SuppressionMethods).</summary>
public class SuppressionMethodsTests
{
    private static readonly StandardCatalogue Catalogue = StandardCatalogue.LoadStandard();
    private static readonly HashSet<uint> Both = [2, 3];
    private static readonly HashSet<uint> TwoOnly = [2];

    [Fact]
    public void The_method_in_force_is_the_highest_the_heads_name_0_meaning_3_and_none_without_a_head()
    {
        Assert.Null(SuppressionMethods.InForce([]));
        Assert.Equal(3u, SuppressionMethods.InForce([0]));
        Assert.Equal(2u, SuppressionMethods.InForce([2, 2]));
        Assert.Equal(3u, SuppressionMethods.InForce([2, 0]));
        Assert.Equal(3u, SuppressionMethods.InForce([2, 3, 2])); // a later head naming a lower one does not take it back
    }

    [Fact]
    public void An_origin_signs_what_it_declares_but_never_lower_than_its_log_holds_in_force()
    {
        Assert.Equal(2u, SuppressionMethods.ToSign(2, null)); // a new log
        Assert.Equal(2u, SuppressionMethods.ToSign(2, 2));
        Assert.Equal(3u, SuppressionMethods.ToSign(2, 3)); // set back in its configuration: ignored
        Assert.Equal(3u, SuppressionMethods.ToSign(0, null));
        Assert.Equal(3u, SuppressionMethods.ToSign(3, 2)); // raised
    }

    [Fact]
    public void A_reader_that_declares_no_method_implements_method_3_only()
    {
        Assert.Equal([3u], SuppressionMethods.ReaderImplements([]));
        Assert.Equal([2u], SuppressionMethods.ReaderImplements([2]));
        Assert.Equal([2u, 3u], SuppressionMethods.ReaderImplements([0, 2]).Order());
        Assert.Null(SuppressionMethods.Unmet("BLZ", 3, Both, "the reader"));
        Assert.Contains("method 3", SuppressionMethods.Unmet("BLZ", 3, TwoOnly, "the reader"));
    }

    [Fact]
    public void A_replica_checks_with_the_method_served_when_it_is_in_force_or_newer_and_refuses_an_older_or_unknown_one()
    {
        Assert.Equal(3u, SuppressionMethods.ToCheck("BLZ", "peer", 0, 3, Both)); // a serving node from before methods were versioned: 3
        Assert.Equal(3u, SuppressionMethods.ToCheck("BLZ", "peer", 0, null, Both)); // nothing signed yet: 3
        Assert.Equal(2u, SuppressionMethods.ToCheck("BLZ", "peer", 2, 2, Both));
        Assert.Equal(3u, SuppressionMethods.ToCheck("BLZ", "peer", 3, 2, Both)); // stricter than in force: the serving node's choice

        var older = Assert.Throws<PeerRefusedException>(() => SuppressionMethods.ToCheck("BLZ", "peer", 2, 3, Both));
        Assert.StartsWith($"{SuppressionMethods.Outdated}: ", older.Error);
        var unknownInForce = Assert.Throws<PeerRefusedException>(() => SuppressionMethods.ToCheck("BLZ", "peer", 3, 3, TwoOnly));
        Assert.StartsWith($"{SuppressionMethods.NotImplemented}: FAILED_PRECONDITION: ", unknownInForce.Error);
        Assert.Contains("method 3", unknownInForce.Error);
        var unknownServed = Assert.Throws<PeerRefusedException>(() => SuppressionMethods.ToCheck("BLZ", "peer", 4, 3, Both));
        Assert.StartsWith($"{SuppressionMethods.NotImplemented}: ", unknownServed.Error);
    }

    [Fact]
    public void A_node_declares_method_3_by_default_and_refuses_to_start_declaring_or_implementing_a_method_it_lacks()
    {
        Assert.Null(SuppressionMethods.Problem(new SharingOptions()));
        Assert.Equal(3u, SuppressionMethods.All.Declared);
        Assert.Equal([2u, 3u], SuppressionMethods.All.Implemented.Order());
        var twoOnly = new SuppressionMethods(new SharingOptions { SuppressionMethods = [2] });
        Assert.Equal(2u, twoOnly.Declared);
        Assert.Equal([2u], twoOnly.Implemented);

        Assert.Contains("Node:Sharing:SuppressionMethods", SuppressionMethods.Problem(new SharingOptions { SuppressionMethods = [2, 4] }));
        Assert.Contains("Node:Sharing:SuppressionMethod ", SuppressionMethods.Problem(new SharingOptions { SuppressionMethod = 3, SuppressionMethods = [2] }));
        Assert.Contains("Node:Sharing:SuppressionMethod ", SuppressionMethods.Problem(new SharingOptions { SuppressionMethod = 1 }));
        Assert.Throws<InvalidOperationException>(() => new SuppressionMethods(new SharingOptions { SuppressionMethod = 4 }));
    }

    [Fact]
    public void Method_2_has_the_additive_lines_only_and_method_3_the_years_temporal_lines_too()
    {
        Assert.Equal(TemporalAggregation.NotAggregable, SuppressionMethods.RuleOf(Catalogue, "RETURNED_REFUGEES", 2).Temporal);
        Assert.Equal(ComplementarySuppression.RuleOf(Catalogue, "RETURNED_REFUGEES").Temporal, SuppressionMethods.RuleOf(Catalogue, "RETURNED_REFUGEES", 3).Temporal);
        Assert.Equal(ComplementarySuppression.RuleOf(Catalogue, "REFUGEES").Additive, SuppressionMethods.RuleOf(Catalogue, "REFUGEES", 2).Additive);
        Assert.Throws<InvalidOperationException>(() => SuppressionMethods.RuleOf(Catalogue, "REFUGEES", 4));

        // A flow's Q4 of 3 withheld: method 3 withholds a quarter beside it (the year = the sum of its quarters), method 2 nothing.
        Revision Flow(long sequence, string period, bool withheld = false) => new(sequence, 10, ["_T", "_T"], false, withheld, period);
        Revision[] revisions = [Flow(1, "2023"), Flow(2, "2023-Q1"), Flow(3, "2023-Q2"), Flow(4, "2023-Q3"), Flow(5, "2023-Q4", withheld: true)];
        Assert.Equal([2L], ComplementarySuppression.Complements(revisions, SuppressionMethods.RuleOf(Catalogue, "RETURNED_REFUGEES", 3)));
        Assert.Empty(ComplementarySuppression.Complements(revisions, SuppressionMethods.RuleOf(Catalogue, "RETURNED_REFUGEES", 2)));
    }

    [Fact]
    public void A_head_declaring_method_3_or_nothing_is_signed_as_before_methods_were_versioned_and_any_other_method_is_signed()
    {
        var head = new LogHead { Origin = "BLZ", Sequence = 5, Hash = Google.Protobuf.ByteString.CopyFrom(new byte[32]), KeyId = "k", Kind = LogHeadKind.Commit };
        var before = Mirps.Log.LogHeadSignature.Payload(head);
        Assert.Equal(before, Mirps.Log.LogHeadSignature.Payload(new LogHead(head) { SuppressionMethod = 3 }));
        var two = new LogHead(head) { SuppressionMethod = 2 };
        Assert.NotEqual(before, Mirps.Log.LogHeadSignature.Payload(two));

        // A head signed for method 2 does not verify as one for method 3: a relay cannot lower the method in force.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Mirps.Log.LogHeadSignature.Sign(two, key, "k");
        Assert.True(Mirps.Log.LogHeadSignature.Verify(two, key));
        Assert.False(Mirps.Log.LogHeadSignature.Verify(new LogHead(two) { SuppressionMethod = 0 }, key));
    }
}
