using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Cli;
using MirpsExchange.Cli.Commands;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The peer sync worker (third part of the sync issue): a node configured with peers pulls their origins'
/// changes and follows them. The origins share everything with every State (sharing policies have their
/// own tests); the replicas pull with the Secretariat's credential.
/// </summary>
public class PeerSyncTests
{
    private static Task<TestNode> ReplicaAsync(TestNode origin, ClientCredential puller, TestIdentity? identity = null) =>
        ReplicaAsync("PAN", origin.Folder, puller, identity, origin.Peer);

    /// <summary>A node of <paramref name="country"/> pulling BLZ from each peer address with <paramref name="puller"/>'s credential.</summary>
    internal static async Task<TestNode> ReplicaAsync(string country, string folder, ClientCredential puller, TestIdentity? identity, params (string Address, string Country)[] peers) =>
        await TestNode.StartAsync(country, identity, PullArgs(folder, puller, peers));

    /// <summary>A node's arguments to pull BLZ from each peer address with <paramref name="puller"/>'s credential (kept in <paramref name="folder"/>).</summary>
    internal static string[] PullArgs(string folder, ClientCredential puller, params (string Address, string Country)[] peers)
    {
        var file = Path.Combine(folder, $"puller-{Guid.NewGuid():N}.json"); // deleted with that folder
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(puller));
        string[] peerArgs = [.. peers.SelectMany((peer, i) => new[] { $"--Node:Peers:{i}:Address={peer.Address}", $"--Node:Peers:{i}:Origins:0=BLZ", $"--Node:Peers:{i}:Country={peer.Country}" })];
        return [$"--Node:Credential={file}", .. peerArgs];
    }

    private static async Task ConvergesAsync(List<string> expected, TestNode replica)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!(await StateAsync(replica)).SequenceEqual(expected))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Equal(expected, await StateAsync(replica));
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Waits (20 s at most) until <paramref name="node"/> holds <paramref name="rows"/> rows, then asserts it does.</summary>
    internal static async Task HoldsAsync(TestNode node, long rows)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (node.CountRows() < rows && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(rows, node.CountRows());
    }

    /// <summary>The replica's only pull once it reaches <paramref name="state"/> (or whatever it is after 20 s).</summary>
    internal static async Task<PeerStatus> PeerInStateAsync(TestNode replica, PeerState state)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var peer = Assert.Single((await new SyncService.SyncServiceClient(replica.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Peers);
            if (peer.State == state || DateTime.UtcNow > deadline)
            {
                return peer;
            }
            await Task.Delay(100);
        }
    }

    private static async Task<List<string>> StateAsync(TestNode node) =>
        [.. (await node.QueryAsync(new StreamObservationsRequest { Countries = { "BLZ" } })).Select(s => $"{s.Observation}|{s.Revision}|{s.OriginSequence}|{s.RecordedTime}")];

    internal static async Task ConvergesAsync(TestNode origin, TestNode replica) => await ConvergesAsync(await StateAsync(origin), replica);

    [Fact]
    public async Task Inserts_revisions_and_deletions_reach_a_following_replica_and_its_status_says_so()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230), Refugees(sex: "F", value: 120)));
        await using var replica = await ReplicaAsync(origin, await SharedIdentity.CredentialAsync(""));

        await ConvergesAsync(origin, replica);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(sex: "M", value: 120)));
        await origin.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees(sex: "F")) } });
        await ConvergesAsync(origin, replica);

        var status = await new SyncService.SyncServiceClient(replica.Channel).GetSyncStatusAsync(new GetSyncStatusRequest());
        var peer = Assert.Single(status.Peers);
        Assert.Equal((origin.Address, "BLZ", PeerState.Connected, 5L), (peer.Address, peer.Origin, peer.State, peer.AppliedSequence));
        Assert.Contains(status.Origins, o => o.Origin == "BLZ" && o.LatestSequence == 5);
    }

    [Fact]
    public async Task First_revisions_written_many_to_a_statement_and_a_statement_undone_for_an_existing_key_link_into_a_log_a_replica_verifies()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        var rows = DistinctRefugees(1000);
        await origin.Observations.SubmitObservationsAsync(Submit([.. rows.Skip(200).Take(300)]));
        // In key order (the rows' own): the first statement of 128 new keys goes in whole; the second meets a stored key
        // after 72 new ones, which come out again and go one by one with the next rows (one stored key revised); later
        // statements of new keys go in whole again.
        rows[300].Note = "corrected source";

        var response = await origin.Observations.SubmitObservationsAsync(Submit([.. rows]));

        Assert.Equal((700, 1, 299, 1001L), (response.Inserted, response.Revised, response.Unchanged, response.LastOriginSequence));
        Assert.Equal(1001, origin.CountRows());
        Assert.Equal(1001L, origin.Execute("SELECT COUNT(DISTINCT origin_sequence) FROM observations WHERE origin_sequence BETWEEN 1 AND 1001"));
        await using var replica = await ReplicaAsync(origin, await SharedIdentity.CredentialAsync(""));
        await ConvergesAsync(origin, replica); // every change's link and every head verified before it is applied
    }

    [Fact]
    public async Task Sync_goes_on_with_cached_tokens_and_keys_while_the_identity_server_is_stopped()
    {
        var identity = await TestIdentity.StartAsync();
        try
        {
            await using var origin = await TestNode.StartAsync("BLZ", identity, ShareWithAll);
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 1)));
            var secretariat = await identity.IssueAsync(Role.Secretariat);
            await using var replica = await ReplicaAsync(origin, secretariat, identity);
            await ConvergesAsync(origin, replica);
            await replica.Tokens.GetTokenAsync(); // the test's own reads of the replica reuse this token
            // The sync worker's token is one the origin has already validated (its token cache). A second
            // puller's token, taken now and shown to the origin only once the identity server is down,
            // can pass only through the origin's cached signing keys.
            var (status, body) = await identity.RequestTokenAsync(secretariat, resource: MirpsAuth.NodeAudience(origin.Country));
            Assert.Equal(200, status);
            var fresh = body.GetProperty("access_token").GetString()!;

            await identity.StopAsync();
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 2)));

            await ConvergesAsync(origin, replica);
            using var channel = origin.ChannelWith(CallCredentials.FromInterceptor((_, metadata) =>
            {
                metadata.Add("Authorization", $"Bearer {fresh}");
                return Task.CompletedTask;
            }));
            using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = "BLZ" }, deadline: DateTime.UtcNow.AddSeconds(30));
            var pulled = new List<StoredObservation>();
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                pulled.AddRange(message.Changes);
            }
            Assert.Equal([1.0, 2.0], pulled.Select(c => c.Observation.Value));
        }
        finally
        {
            await identity.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_peer_with_another_catalogue_version_is_refused_naming_both_versions()
    {
        var standard = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().Catalog.Clone();
        standard.Version = "2.9.0";
        var folder = TempFolder.Create();
        try
        {
            var file = Path.Combine(folder, "catalogue-v2.9.json");
            await File.WriteAllTextAsync(file, Google.Protobuf.JsonFormatter.Default.Format(standard));
            await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll, $"--Node:CatalogueFile={file}");
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 1)));
            await using var replica = await ReplicaAsync(origin, await SharedIdentity.CredentialAsync(""));

            var peer = await PeerInStateAsync(replica, PeerState.Stopped);
            replica.Errors.Expect("PeerCatalogueMismatch"); // an operator must act: logged as an error

            Assert.Equal(PeerState.Stopped, peer.State);
            Assert.StartsWith("FAILED_PRECONDITION", peer.LastError);
            Assert.Contains("2.9.0", peer.LastError);
            Assert.Contains("2.1.0", peer.LastError);
            Assert.Equal(0, replica.CountRows());
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_relay_serves_the_origins_changes_while_the_origin_is_down_and_two_paths_apply_each_change_once()
    {
        var secretariat = await SharedIdentity.CredentialAsync("");
        var folder = TempFolder.Create();
        try
        {
            var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230), Refugees(sex: "F", value: 120)));
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
            await using var relay = await ReplicaAsync("CRI", folder, secretariat, null, origin.Peer);
            await ConvergesAsync(origin, relay);
            var expected = await StateAsync(origin);
            var originPeer = origin.Peer;
            await origin.DisposeAsync();

            // The Secretariat-like reader pulls BLZ from the relay and from the (stopped) origin.
            await using var reader = await ReplicaAsync("PAN", folder, secretariat, null, relay.Peer, originPeer);

            await ConvergesAsync(expected, reader);
            var status = await new SyncService.SyncServiceClient(reader.Channel).GetSyncStatusAsync(new GetSyncStatusRequest());
            Assert.Contains(status.Peers, p => p.Address == relay.Address && p.State == PeerState.Connected && p.AppliedSequence == 3);
            Assert.Equal(3, reader.CountRows());
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task Changes_arriving_by_two_paths_are_applied_once()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        var secretariat = await SharedIdentity.CredentialAsync("");
        await using var relay = await ReplicaAsync("CRI", origin.Folder, secretariat, null, origin.Peer);
        await using var reader = await ReplicaAsync("PAN", origin.Folder, secretariat, null, origin.Peer, relay.Peer);

        for (var i = 0; i < 10; i++)
        {
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: i), Refugees(sex: "F", value: i)));
        }

        await ConvergesAsync(origin, relay);
        await ConvergesAsync(origin, reader);
        Assert.Equal(20, reader.CountRows());
        var sequences = (await new SyncService.SyncServiceClient(reader.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Origins;
        Assert.Equal(20, Assert.Single(sequences, o => o.Origin == "BLZ").LatestSequence);
    }

    [Fact]
    public async Task Peer_addresses_states_and_errors_are_shown_only_to_the_nodes_own_State_and_the_Secretariat()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230), Refugees(sex: "F", value: 120)));
        // PAN's node pulls BLZ from BLZ's node, and from an address where nothing listens (a failing pull with an error).
        const string Unreachable = "http://127.0.0.1:1";
        await using var replica = await ReplicaAsync("PAN", origin.Folder, await SharedIdentity.CredentialAsync(""), null, origin.Peer, (Unreachable, "GTM"));
        await ConvergesAsync(origin, replica);

        async Task<(GetSyncStatusResponse Status, (int Code, string Output, string Error) Cli)> StatusAsAsync(string reader)
        {
            var credential = await SharedIdentity.CredentialAsync(reader);
            using var tokens = replica.TokensFor(credential);
            using var channel = replica.ChannelWith(tokens.ToCallCredentials());
            var file = Path.Combine(replica.Folder, $"reader-{Guid.NewGuid():N}.json");
            OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(credential));
            // Until the unreachable pull has failed once, so that it has an error to show (or hide).
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                var status = await new SyncService.SyncServiceClient(channel).GetSyncStatusAsync(new GetSyncStatusRequest());
                if (status.PeersWithheld || status.Peers.Any(p => p.State == PeerState.Failing) || DateTime.UtcNow > deadline)
                {
                    return (status, await CliRunner.RunAsync("sync", "status", "--node", replica.Address, "--node-country", replica.Country, "--identity", replica.Identity.Issuer, "--credential", file));
                }
                await Task.Delay(100);
            }
        }

        foreach (var insider in new[] { "PAN", "" })
        {
            var (status, cli) = await StatusAsAsync(insider);
            Assert.False(status.PeersWithheld);
            Assert.Equal(new[] { origin.Address, Unreachable }.Order(StringComparer.Ordinal), status.Peers.Select(p => p.Address).Order(StringComparer.Ordinal));
            Assert.NotEmpty(Assert.Single(status.Peers, p => p.Address == Unreachable).LastError);
            Assert.Equal(SyncCommand.PeerUnhealthy, cli.Code);
            Assert.Contains(origin.Address, cli.Output);
            Assert.Contains($"error: the pull of BLZ from {Unreachable} is failing: ", cli.Error);
        }

        // Another State reads what the node holds (origins, sequences, catalogue), not where it comes from nor how its pulls fail.
        var (other, otherCli) = await StatusAsAsync("GTM");
        Assert.True(other.PeersWithheld);
        Assert.Empty(other.Peers);
        Assert.Equal(2, Assert.Single(other.Origins, o => o.Origin == "BLZ").LatestSequence);
        Assert.Equal(origin.Services.GetRequiredService<MirpsExchange.Catalogue.StandardCatalogue>().Digest, other.CatalogDigest);
        Assert.Equal("PAN", other.NodeCountry);
        Assert.True(otherCli.Code == CliApp.Ok, otherCli.Error + otherCli.Output);
        Assert.Contains($"the node of PAN at {replica.Address}/: catalogue ", otherCli.Output);
        Assert.Matches(@"│\s*BLZ\s*│\s*2\s*│", otherCli.Output);
        Assert.Contains("Pulls from peers: not shown to this credential (only to PAN and the Secretariat).", otherCli.Output);
        Assert.DoesNotContain("127.0.0.1", otherCli.Output.Replace(replica.Address, "")); // no peer's address, only the node's own
        Assert.Equal("", otherCli.Error);
    }

    /// <summary>
    /// A hostile peer answers every pull with a status detail of its own choosing: many lines, terminal escapes, a bell, a line
    /// forged to read as the node's own ("It refuses PAN's writes: …") and 5,000 more characters. The pull's last_error in
    /// GetSyncStatus.peers, and so <c>mirps sync status</c>, carry it only as the peer's words (Sync/PeerText): quoted, on one
    /// line, cleaned and capped; the status code the peer answered is named as ours.
    /// </summary>
    [Fact]
    public async Task A_hostile_peers_error_detail_reaches_the_sync_status_only_quoted_cleaned_and_capped()
    {
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        (hostile.FailStreams, hostile.FailDetail) = (true, "no\r\nIt refuses PAN's writes: \u001b[31mSTORE_LOCK_LOST\u001b[0m\u0007 call +1 555 0100\n" + new string('x', 5_000));
        var folder = TempFolder.Create();
        try
        {
            await using var replica = await ReplicaAsync("PAN", folder, await SharedIdentity.CredentialAsync("PAN"), null, hostile.Peer);
            var pull = await MaliciousPeer.PullAsync(replica.Channel, hostile.Address, p => p.State == PeerState.Failing);
            Assert.Equal(PeerState.Failing, pull.State);
            Assert.Equal("the peer answered Unavailable: \"no It refuses PAN's writes: STORE_LOCK_LOST call +1 555 0100 " + new string('x', MirpsExchange.Node.Sync.PeerText.MaxLength - 61) + "…\"", pull.LastError);

            var (code, output, error) = await CliRunner.RunAsync(["sync", "status", .. replica.CliArgs]);
            Assert.Equal(SyncCommand.PeerUnhealthy, code);
            Assert.DoesNotContain(output + error, c => char.IsControl(c) && c is not '\n' and not '\r');
            Assert.DoesNotContain(output.Split('\n'), line => line.TrimStart().StartsWith("It refuses", StringComparison.Ordinal));
            Assert.DoesNotContain(new string('x', 500), output + error, StringComparison.Ordinal);
            Assert.Contains($"error: the pull of BLZ from {hostile.Address} is failing: the peer answered Unavailable: \"no It refuses PAN's writes: STORE_LOCK_LOST", error, StringComparison.Ordinal);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
