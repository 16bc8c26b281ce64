using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Store;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The origin's sharing policy (fourth part of the sync issue), checked by inspecting exactly what each
/// other node received: the rows and placeholders in its store file, and what queries answer.
/// </summary>
public class SharingPolicyTests
{
    /// <summary>Node:Sharing arguments for the origin.</summary>
    internal static string[] Policy(params (string Indicator, string Field, string Value)[] rules) =>
        [.. rules.Select(r => r.Indicator == "Default" ? $"--Node:Sharing:Default:{r.Field}={r.Value}" : $"--Node:Sharing:Indicators:{r.Indicator}:{r.Field}={r.Value}")];

    internal static Observation Applications(string sex = "_T", double value = 100)
    {
        var o = Refugees(sex: sex, value: value);
        o.IndicatorCode = "ASYLUM_APPLICATIONS";
        return o;
    }

    /// <summary>A node of <paramref name="country"/> ("" for the Secretariat's credential on a PAN node) pulling BLZ from the peers with the reader's own credential.</summary>
    internal static Task<TestNode> ReplicaAsync(string country, string reader, string folder, params (string Address, string Country)[] peers) =>
        ReplicaAsync(country, reader, folder, [], peers);

    /// <summary>As <see cref="ReplicaAsync(string, string, string, ValueTuple{string, string}[])"/>, with more configuration (<paramref name="extraArgs"/>).</summary>
    internal static async Task<TestNode> ReplicaAsync(string country, string reader, string folder, string[] extraArgs, params (string Address, string Country)[] peers)
    {
        var file = Path.Combine(folder, $"puller-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync(reader)));
        string[] peerArgs = [.. peers.SelectMany((peer, i) => new[] { $"--Node:Peers:{i}:Address={peer.Address}", $"--Node:Peers:{i}:Origins:0=BLZ", $"--Node:Peers:{i}:Country={peer.Country}" })];
        return await TestNode.StartAsync(country, null, [$"--Node:Credential={file}", .. peerArgs, .. extraArgs]);
    }

    /// <summary>Waits until the node holds <paramref name="changes"/> of BLZ's changes (rows and placeholders).</summary>
    internal static async Task HoldsAsync(TestNode node, int changes)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Held(node).Count < changes && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(changes, Held(node).Count);
    }

    /// <summary>What a node holds of BLZ's log, by sequence: "row|indicator|sex|value|status|withheld" or "placeholder|reason".</summary>
    private static List<string> Held(TestNode node) =>
    [
        .. node.Rows("SELECT origin_sequence, 'row', indicator_code, sex, value, status, value_withheld FROM observations WHERE origin = 'BLZ' " +
                     "UNION ALL SELECT origin_sequence, 'placeholder', CAST(reason AS TEXT), NULL, NULL, NULL, NULL FROM withheld_changes WHERE origin = 'BLZ' ORDER BY 1")
            .Select(r => string.Join('|', r.Split('|').Skip(1).Where(f => f != "null"))),
    ];

    private static async Task<List<StoredObservation>> QueryAsAsync(TestNode node, string reader, StreamObservationsRequest? request = null)
    {
        var client = node.ObservationsWith(await TokenAsync(node, reader));
        var result = new List<StoredObservation>();
        using var call = client.StreamObservations(request ?? new StreamObservationsRequest());
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            result.AddRange(message.Observations);
        }
        return result;
    }

    private static string Show(StoredObservation s) => $"{s.Observation.IndicatorCode}|{s.Observation.Sex}|{s.Observation.Value}|{s.Observation.Status}|{s.Withholding}";

    [Fact]
    public async Task A_State_the_policy_does_not_name_receives_placeholders_and_its_queries_see_nothing()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, Policy(("REFUGEES", "Readers", "CRI"), ("ASYLUM_APPLICATIONS", "Readers", "all")));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Applications(value: 100)));
        await using var panama = await ReplicaAsync("PAN", "PAN", origin.Folder, origin.Peer);
        await using var costaRica = await ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);

        await HoldsAsync(panama, 2);
        await HoldsAsync(costaRica, 2);

        // ASYLUM_APPLICATIONS sorts first, so it is change 1.
        Assert.Equal(["row|ASYLUM_APPLICATIONS|_T|100|1|0", "placeholder|2"], Held(panama));
        Assert.Equal(["row|ASYLUM_APPLICATIONS|_T|100|1|0", "row|REFUGEES|_T|240|1|0"], Held(costaRica));
        Assert.Equal(["ASYLUM_APPLICATIONS|_T|100|Normal|Unspecified"], (await QueryAsAsync(origin, "PAN")).Select(Show));
        Assert.Equal(2, (await QueryAsAsync(origin, "CRI")).Count);
        var history = await Assert.ThrowsAsync<RpcException>(async () =>
            await origin.ObservationsWith(await TokenAsync(origin, "PAN")).GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees()) }));
        Assert.Equal(StatusCode.NotFound, history.StatusCode);
    }

    [Fact]
    public async Task An_embargo_withholds_changes_from_everyone_but_the_owner_until_its_release_time_then_they_arrive()
    {
        var release = DateTimeOffset.UtcNow.AddSeconds(8);
        await using var origin = await TestNode.StartAsync("BLZ", null, Policy(("Default", "Readers", "all"), ("REFUGEES", "ReleaseTime", release.ToString("O"))));
        await using var costaRica = await ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await using var secretariat = await ReplicaAsync("PAN", "", origin.Folder, origin.Peer);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Applications(value: 100)));

        await HoldsAsync(costaRica, 2);
        await HoldsAsync(secretariat, 2);
        Assert.True(DateTimeOffset.UtcNow < release, "the test machine was too slow to look before the release time");
        Assert.Equal(["row|ASYLUM_APPLICATIONS|_T|100|1|0", "placeholder|3"], Held(costaRica));
        Assert.Equal(["row|ASYLUM_APPLICATIONS|_T|100|1|0", "placeholder|3"], Held(secretariat));
        Assert.Equal(["ASYLUM_APPLICATIONS"], (await QueryAsAsync(origin, "CRI")).Select(s => s.Observation.IndicatorCode));
        Assert.Equal(["ASYLUM_APPLICATIONS"], (await QueryAsAsync(origin, "")).Select(s => s.Observation.IndicatorCode));
        Assert.Equal(2, (await QueryAsAsync(origin, "BLZ")).Count);

        // After the release time the replicas ask again and the complete change replaces the placeholder.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((Held(costaRica)[1].StartsWith("placeholder") || Held(secretariat)[1].StartsWith("placeholder")) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.True(DateTimeOffset.UtcNow >= release);
        Assert.Equal(["row|ASYLUM_APPLICATIONS|_T|100|1|0", "row|REFUGEES|_T|240|1|0"], Held(costaRica));
        Assert.Equal(["row|ASYLUM_APPLICATIONS|_T|100|1|0", "row|REFUGEES|_T|240|1|0"], Held(secretariat));
        Assert.Equal(0, costaRica.CountRows("withheld_changes"));
        Assert.Equal(2, (await QueryAsAsync(origin, "CRI")).Count);
        Assert.Equal(["REFUGEES|_T|240|1|0"], costaRica.Rows("SELECT indicator_code, sex, value, revision, superseded_time IS NOT NULL FROM observations WHERE indicator_code = 'REFUGEES'"));
    }

    [Fact]
    public async Task A_replica_pulling_only_through_a_relay_gets_an_embargoed_change_once_the_relay_holds_it()
    {
        var release = DateTimeOffset.UtcNow.AddSeconds(6);
        await using var origin = await TestNode.StartAsync("BLZ", null, Policy(("Default", "Readers", "all"), ("REFUGEES", "ReleaseTime", release.ToString("O"))));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        await using var relay = await ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await using var secretariat = await ReplicaAsync("PAN", "", origin.Folder, relay.Peer);
        await HoldsAsync(relay, 1);
        await HoldsAsync(secretariat, 1);
        Assert.Equal(["placeholder|3"], Held(secretariat));

        // At the release time the relay may still hold only the placeholder ("not held" for the replica);
        // the replica asks again until the relay has the change.
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (Held(secretariat)[0].StartsWith("placeholder") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.Equal(["row|REFUGEES|_T|240|1|0"], Held(relay));
        Assert.Equal(["row|REFUGEES|_T|240|1|0"], Held(secretariat));
        Assert.Equal(0, secretariat.CountRows("withheld_changes"));
    }

    [Fact]
    public async Task Small_counts_reach_other_States_withheld_as_confidential_and_the_Secretariat_whole()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, Policy(("Default", "Readers", "all"), ("Default", "SmallCountThreshold", "5")));
        var small = Refugees(sex: "F", value: 4);
        small.Note = "4 women at the northern border";
        await origin.Observations.SubmitObservationsAsync(Submit(small, Refugees(sex: "M", value: 5), Refugees(value: 9)));
        await using var costaRica = await ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await using var secretariat = await ReplicaAsync("PAN", "", origin.Folder, origin.Peer);

        await HoldsAsync(costaRica, 3);
        await HoldsAsync(secretariat, 3);

        // Keys sort F, M, _T. Status 4 is CONFIDENTIAL; the withheld value is not stored at all. M = _T - F would give F
        // away, so M is withheld too (complementary: held with status 0, UNSPECIFIED, which says why).
        Assert.Equal(["row|REFUGEES|F|4|1", "row|REFUGEES|M|0|1", "row|REFUGEES|_T|9|1|0"], Held(costaRica));
        Assert.Equal(["row|REFUGEES|F|4|1|0", "row|REFUGEES|M|5|1|0", "row|REFUGEES|_T|9|1|0"], Held(secretariat));
        Assert.Equal(["REFUGEES|F|0|Confidential|SmallCount", "REFUGEES|M|0|Confidential|Complementary", "REFUGEES|_T|9|Normal|Unspecified"],
            (await QueryAsAsync(origin, "CRI")).Select(Show));
        Assert.Equal(["REFUGEES|F|4|Normal|Unspecified", "REFUGEES|M|5|Normal|Unspecified", "REFUGEES|_T|9|Normal|Unspecified"],
            (await QueryAsAsync(origin, "")).Select(Show));
        // The note could give the count away: it is withheld with the value.
        Assert.Equal(["", "4 women at the northern border"], [costaRica.Rows("SELECT note FROM observations WHERE sex = 'F'")[0], secretariat.Rows("SELECT note FROM observations WHERE sex = 'F'")[0]]);
        Assert.Equal("", (await QueryAsAsync(origin, "CRI"))[0].Observation.Note);
        // Costa Rica's own node serves what it holds: the values stay withheld there too, for the same reasons.
        Assert.Equal(["REFUGEES|F|0|Confidential|SmallCount", "REFUGEES|M|0|Confidential|Complementary", "REFUGEES|_T|9|Normal|Unspecified"],
            (await QueryAsAsync(costaRica, "CRI")).Select(Show));
    }

    [Fact]
    public async Task A_relay_never_widens_the_policy_and_a_replica_refuses_a_source_that_holds_more_than_it_may()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, Policy(("REFUGEES", "Readers", "CRI"), ("REFUGEES", "SmallCountThreshold", "5")));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 3), Refugees(sex: "M", value: 12)));
        await using var relay = await ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await HoldsAsync(relay, 2);
        Assert.Equal(["row|REFUGEES|F|4|1", "row|REFUGEES|M|12|1|0"], Held(relay));

        // Panama, not named by the policy, gets placeholders through Costa Rica as it would from Belize.
        await using var panama = await ReplicaAsync("PAN", "PAN", origin.Folder, relay.Peer);
        // The Secretariat may have the small count, which Costa Rica does not hold: it is told to ask elsewhere.
        await using var secretariatThroughRelay = await ReplicaAsync("PAN", "", origin.Folder, relay.Peer);
        // With the origin as a second peer, the Secretariat gets the whole value from it, once.
        await using var secretariat = await ReplicaAsync("PAN", "", origin.Folder, relay.Peer, origin.Peer);
        await HoldsAsync(panama, 2);
        await HoldsAsync(secretariatThroughRelay, 2);
        await HoldsAsync(secretariat, 2);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (secretariat.CountRows("withheld_changes") > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(["placeholder|2", "placeholder|2"], Held(panama));
        Assert.Equal(["placeholder|4", "row|REFUGEES|M|12|1|0"], Held(secretariatThroughRelay));
        Assert.Equal(["row|REFUGEES|F|3|1|0", "row|REFUGEES|M|12|1|0"], Held(secretariat));

        // A relay whose store was altered to hold the small count whole: the replica refuses what it serves.
        relay.Execute("UPDATE observations SET value = 3, status = 1, value_withheld = FALSE WHERE sex = 'F'");
        await using var victim = await ReplicaAsync("PAN", "", origin.Folder, relay.Peer);
        var peer = await PeerFailingAsync(victim);
        Assert.Contains("does not let CRI hold", peer.LastError);
        Assert.Equal(0, victim.CountRows() + victim.CountRows("withheld_changes"));
        var health = await victim.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, health.Entries["peers"].Status);
        Assert.Contains("BLZ from", health.Entries["peers"].Description);
    }

    [Fact]
    public async Task A_change_that_conflicts_with_the_replicas_store_fails_the_pull_not_the_node()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, Policy(("Default", "Readers", "all")));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 120), Refugees(sex: "M", value: 110)));
        await using var relay = await ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await HoldsAsync(relay, 2);
        // A relay whose store was altered: its second change now repeats the first one's key and revision.
        relay.Execute($"DROP INDEX {ObservationRowConfiguration.KeyIndex}");
        relay.Execute("UPDATE observations SET sex = 'F' WHERE origin_sequence = 2");
        await TestLogKeys.ResignAsync(relay, "BLZ"); // and signed with BLZ's key (stolen), so the chain holds

        await using var victim = await ReplicaAsync("PAN", "", origin.Folder, relay.Peer);
        var peer = await PeerFailingAsync(victim);

        Assert.Contains(TestStores.Postgres ? "23505: duplicate key value violates unique constraint" : "UNIQUE constraint failed", peer.LastError);
        Assert.Equal(0, victim.CountRows() + victim.CountRows("withheld_changes"));
        // The node still answers, and shows the pull failing.
        var health = await victim.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, health.Entries["peers"].Status);
    }

    [Fact]
    public async Task A_change_the_origins_own_node_would_refuse_stops_the_pull_with_INVALID_CONTENT_and_nothing_is_written()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, Policy(("Default", "Readers", "all")));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 120), Refugees(sex: "M", value: 110)));
        // An origin whose store was altered behind its submit checks: its second change is now negative.
        origin.Execute("UPDATE observations SET value = -110 WHERE origin_sequence = 2");
        await TestLogKeys.ResignAsync(origin, "BLZ"); // and the State signs what it altered

        await using var replica = await ReplicaAsync("PAN", "", origin.Folder, origin.Peer);
        var peer = await PeerFailingAsync(replica);

        Assert.StartsWith("INVALID_CONTENT: BLZ's change 2 is refused", peer.LastError);
        Assert.Contains("observation.value: the value must not be negative (-110)", peer.LastError);
        Assert.Equal(0, replica.CountRows() + replica.CountRows("withheld_changes"));
    }

    [Fact]
    public async Task A_peer_configured_as_another_States_node_than_it_says_it_is_is_not_pulled_from()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, Policy(("Default", "Readers", "all")));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var file = Path.Combine(origin.Folder, "secretariat.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        await using var replica = await TestNode.StartAsync("PAN", null,
            $"--Node:Credential={file}", $"--Node:Peers:0:Address={origin.Address}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=CRI");

        var peer = await PeerFailingAsync(replica);

        // The replica asked for a token for CRI's node, which BLZ's node does not accept.
        Assert.StartsWith("the peer answered Unauthenticated", peer.LastError);
        Assert.Equal(0, replica.CountRows() + replica.CountRows("withheld_changes"));
    }

    private static async Task<PeerStatus> PeerFailingAsync(TestNode replica)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var peers = (await new SyncService.SyncServiceClient(replica.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Peers;
            if (peers.Count == 0 && DateTime.UtcNow <= deadline)
            {
                await Task.Delay(100); // the sync worker has not started its pull yet (a loaded machine)
                continue;
            }
            var peer = Assert.Single(peers);
            if (peer.State == PeerState.Failing || DateTime.UtcNow > deadline)
            {
                Assert.Equal(PeerState.Failing, peer.State);
                return peer;
            }
            await Task.Delay(100);
        }
    }

    private static async Task<string> TokenAsync(TestNode node, string reader)
    {
        using var tokens = node.TokensFor(await SharedIdentity.CredentialAsync(reader));
        return await tokens.GetTokenAsync();
    }
}
