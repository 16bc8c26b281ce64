using Grpc.Core;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.ComplementarySuppressionTests;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Versions of complementary suppression in a federation on mixed software (issue 13; protos/README.md, "Disclosure control",
/// "Method versions"), against real node processes: the origin signs the method in force in its heads, every node serves its
/// figures with that method, and a node that does not implement it says so (FAILED_PRECONDITION naming it) rather than
/// serve with an older method or take the origin's honest withholdings for forged ones.
/// </summary>
public class SuppressionMethodTests
{
    private static readonly string[] SharedWithAll = SharingPolicyTests.Policy(("Default", "Readers", "all"), ("Default", "SmallCountThreshold", "5"));

    /// <summary>
    /// ASYLUM_APPLICATIONS 2023, a flow whose year is the sum of its quarters, Q4 a small count (3): method 3 withholds Q1 too
    /// (the year's temporal line), method 2 (lines within one period) does not. REFUGEES 2023 F 127, M 3, _T 130: both methods
    /// withhold F beside the small M.
    /// </summary>
    private static SubmitObservationsRequest Table() => Submit(
        Applications("2023", 130), Applications("2023-Q1", 40), Applications("2023-Q2", 45), Applications("2023-Q3", 42), Applications("2023-Q4", 3),
        Refugees(sex: "F", value: 127), Refugees(sex: "M", value: 3), Refugees(value: 130));

    private static async Task<PeerStatus> FailingAsync(TestNode node, string address, string startsWith)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        PeerStatus peer;
        while (!(peer = await PeerAsync(node, address)).LastError.StartsWith(startsWith, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        return peer;
    }

    [Fact]
    public async Task A_node_that_does_not_implement_the_method_in_force_stops_with_FAILED_PRECONDITION_naming_it_and_does_not_call_the_origin_forged()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, SharedWithAll); // method 3, the default
        await origin.Observations.SubmitObservationsAsync(Table());

        // A reader that says it implements method 2 only is served nothing, and told which method it lacks.
        using (var tokens = origin.TokensFor(await SharedIdentity.CredentialAsync("CRI")))
        using (var channel = origin.ChannelWith(tokens.ToCallCredentials()))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                using var call = new SyncService.SyncServiceClient(channel).StreamChanges(
                    new StreamChangesRequest { Origin = "BLZ", SuppressionMethods = { 2 } }, deadline: DateTime.UtcNow.AddSeconds(30));
                await foreach (var _ in call.ResponseStream.ReadAllAsync())
                {
                }
            });
            Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
            var info = refused.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>();
            Assert.Equal("SUPPRESSION_METHOD_NOT_IMPLEMENTED", info.Reason);
            Assert.Equal("3", info.Metadata["suppression_method"]);
            Assert.Contains("complementary-suppression method 3", refused.Status.Detail);
        }
        // A reader from before methods were versioned (none declared: method 3) is served as ever.
        Assert.Equal(8, (await FeedAsync(origin, "CRI")).Count);

        // A node on software that implements method 2 only pulls nothing and says why, naming method 3: not WRONGLY_WITHHELD
        // (Q1's complement, which method 2 does not produce, would have been taken for a forged one).
        await using var older = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, ["--Node:Sharing:SuppressionMethods:0=2"], origin.Peer);
        var peer = await FailingAsync(older, origin.Address, "the peer answered FailedPrecondition");
        Assert.StartsWith("the peer answered FailedPrecondition: ", peer.LastError);
        Assert.Contains("complementary-suppression method 3", peer.LastError);
        Assert.Equal(0, older.CountRows() + older.CountRows("withheld_changes"));

        // Served by a peer that ignores what it implements (a relay from before methods were versioned), it refuses by the origin's
        // signed heads all the same, with nothing written.
        var log = await LogAsync(origin, "CRI");
        Assert.Contains(log.Changes, c => c.Observation.IndicatorCode == "ASYLUM_APPLICATIONS" && c.Withholding == Withholding.Complementary);
        await using var hostile = await MaliciousPeer.StartAsync("BLZ");
        hostile.Script = after => log.After(after);
        await using var misled = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, ["--Node:Sharing:SuppressionMethods:0=2"], hostile.Peer);
        peer = await FailingAsync(misled, hostile.Address, "SUPPRESSION_METHOD_NOT_IMPLEMENTED");
        Assert.StartsWith("SUPPRESSION_METHOD_NOT_IMPLEMENTED: FAILED_PRECONDITION: ", peer.LastError);
        Assert.Contains("method 3", peer.LastError);
        Assert.Equal(0, misled.CountRows() + misled.CountRows("withheld_changes"));
    }

    [Fact]
    public async Task A_peer_cannot_serve_an_origins_figures_with_an_older_method_than_its_signed_heads_put_in_force()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, SharedWithAll);
        await origin.Observations.SubmitObservationsAsync(Table());
        var log = await LogAsync(origin, "CRI");
        Assert.All(log.Heads, h => Assert.Equal(0u, h.SuppressionMethod)); // method 3, the default: left out, as before methods were versioned

        // A peer that says it computed the withholdings with method 2 (it withholds less: Q1 served) is refused, nothing written.
        await using var hostile = await MaliciousPeer.StartAsync("BLZ");
        hostile.Script = after => log.After(after).Select(message =>
        {
            message.SuppressionMethod = 2;
            return message;
        });
        await using var replica = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, hostile.Peer);
        var peer = await FailingAsync(replica, hostile.Address, "SUPPRESSION_METHOD_OUTDATED");
        Assert.StartsWith("SUPPRESSION_METHOD_OUTDATED: ", peer.LastError);
        Assert.Contains("older than method 3", peer.LastError);
        Assert.Equal(0, replica.CountRows() + replica.CountRows("withheld_changes"));
    }

    [Fact]
    public async Task An_origin_set_back_to_an_older_method_keeps_signing_and_serving_the_method_its_log_holds_in_force()
    {
        var store = Path.Combine(Path.GetTempPath(), $"mirps-method-{Guid.NewGuid():N}.db");
        try
        {
            await using (var before = await TestNode.StartAsync("BLZ", null, SharedWithAll)) // method 3
            {
                await before.Observations.SubmitObservationsAsync(Table());
                before.CopyStoreTo(store);
            }
            // Restarted on its store, configured to declare method 2: its log already holds method 3 in force.
            await using var origin = await TestNode.StartOnStoreAsync(store, "BLZ", null, [.. SharedWithAll, "--Node:Sharing:SuppressionMethod=2"]);
            await origin.Observations.SubmitObservationsAsync(Submit(Applications("2023-Q2", 46), Applications("2023", 131)));

            var log = await LogAsync(origin, "CRI");
            Assert.Equal(2, log.Heads.Count);
            Assert.All(log.Heads, h => Assert.Equal(0u, h.SuppressionMethod)); // both method 3
            // Served with method 3: Q1 withheld beside the small Q4, as before the restart.
            Assert.Equal(["2023|Unspecified|131", "2023-Q1|Complementary|0", "2023-Q2|Unspecified|46", "2023-Q3|Unspecified|42", "2023-Q4|SmallCount|0"],
                (await QueryAsync(origin, "GTM", request: new StreamObservationsRequest { IndicatorCodes = { "ASYLUM_APPLICATIONS" } }))
                    .Select(s => $"{s.Observation.Period}|{s.Withholding}|{s.Observation.Value}"));
        }
        finally
        {
            File.Delete(store);
        }
    }

    [Fact]
    public async Task Nodes_serving_an_origin_that_declares_method_2_withhold_what_it_declares_and_the_same_cells()
    {
        // Belize declares method 2 (an origin whose federation is not on method 3 yet).
        await using var origin = await TestNode.StartAsync("BLZ", null, [.. SharedWithAll, "--Node:Sharing:SuppressionMethod=2"]);
        await origin.Observations.SubmitObservationsAsync(Table());
        var log = await LogAsync(origin, "CRI", 2, 3);
        Assert.All(log.Heads, h => Assert.Equal(2u, h.SuppressionMethod)); // signed in every head
        // A reader from before methods were versioned (method 3 only) is told so, rather than served what it would check with method 3.
        Assert.Equal(StatusCode.FailedPrecondition, (await Assert.ThrowsAsync<RpcException>(() => LogAsync(origin, "CRI"))).StatusCode);

        // Method 2: Q4's small count withheld, Q1 served (its year's temporal line is method 3's); F withheld beside M.
        var atOrigin = (await QueryAsync(origin, "GTM")).Select(Show).ToList();
        Assert.Equal(
        [
            "ASYLUM_APPLICATIONS|2023|_T|_T|_T|1|Unspecified|130", "ASYLUM_APPLICATIONS|2023-Q1|_T|_T|_T|1|Unspecified|40",
            "ASYLUM_APPLICATIONS|2023-Q2|_T|_T|_T|1|Unspecified|45", "ASYLUM_APPLICATIONS|2023-Q3|_T|_T|_T|1|Unspecified|42",
            "ASYLUM_APPLICATIONS|2023-Q4|_T|_T|_T|1|SmallCount|0",
            "REFUGEES|2023|F|_T|_T|1|Complementary|0", "REFUGEES|2023|M|_T|_T|1|SmallCount|0", "REFUGEES|2023|_T|_T|_T|1|Unspecified|130",
        ], atOrigin);

        // A replica on software implementing methods 2 and 3 checks the origin's complements with method 2 (accepted) and serves
        // another State exactly what the origin serves it: with its own newest method it would withhold Q1, and a reader asking
        // both nodes would get two patterns.
        await using var costaRica = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await SharingPolicyTests.HoldsAsync(costaRica, 8);
        Assert.Equal("", (await PeerAsync(costaRica, origin.Address)).LastError);
        Assert.Equal(atOrigin, (await QueryAsync(costaRica, "GTM")).Select(Show));
        // The Secretariat's node alike.
        await using var secretariat = await SharingPolicyTests.ReplicaAsync("PAN", "", origin.Folder, origin.Peer);
        await SharingPolicyTests.HoldsAsync(secretariat, 8);
        Assert.Equal(atOrigin, (await QueryAsync(secretariat, "GTM")).Select(Show));
    }
}
