using System.Text.Json;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The peer sync worker (third part of the sync issue): a node configured with peers pulls their origins'
/// changes and follows them. Until sharing policies exist, a node may read another State's data only
/// with the Secretariat's credential, which is what these replicas pull with.
/// </summary>
public class PeerSyncTests
{
    private static async Task<TestNode> ReplicaAsync(TestNode origin, ClientCredential puller, TestIdentity? identity = null)
    {
        var file = Path.Combine(origin.Folder, $"puller-{Guid.NewGuid():N}.json"); // deleted with the origin's folder
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(puller));
        return await TestNode.StartAsync("PAN", identity,
            $"--Node:Credential={file}", $"--Node:Peers:0:Address={origin.Address}", $"--Node:Peers:0:Origins:0={origin.Country}");
    }

    private static async Task<List<string>> StateAsync(TestNode node) =>
        [.. (await node.QueryAsync(new StreamObservationsRequest { Countries = { "BLZ" } })).Select(s => $"{s.Observation}|{s.Revision}|{s.OriginSequence}|{s.RecordedTime}")];

    private static async Task ConvergesAsync(TestNode origin, TestNode replica)
    {
        var expected = await StateAsync(origin);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var actual = await StateAsync(replica);
            if (actual.SequenceEqual(expected))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Equal(expected, actual);
            }
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Inserts_revisions_and_deletions_reach_a_following_replica_and_its_status_says_so()
    {
        await using var origin = await TestNode.StartAsync("BLZ");
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
    public async Task Sync_goes_on_with_cached_tokens_and_keys_while_the_identity_server_is_stopped()
    {
        var identity = await TestIdentity.StartAsync();
        try
        {
            await using var origin = await TestNode.StartAsync("BLZ", identity);
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 1)));
            await using var replica = await ReplicaAsync(origin, await identity.IssueAsync(Role.Secretariat), identity);
            await ConvergesAsync(origin, replica);
            await replica.Tokens.GetTokenAsync(); // the test's own reads of the replica reuse this token

            await identity.StopAsync();
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 2)));

            await ConvergesAsync(origin, replica);
        }
        finally
        {
            await identity.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_puller_the_origin_does_not_share_with_is_reported_failing_with_the_reason()
    {
        await using var origin = await TestNode.StartAsync("BLZ");
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 1)));
        await using var replica = await ReplicaAsync(origin, await SharedIdentity.CredentialAsync("CRI"));

        PeerStatus peer;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        do
        {
            await Task.Delay(100);
            peer = Assert.Single((await new SyncService.SyncServiceClient(replica.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Peers);
        }
        while (peer.State != PeerState.Failing && DateTime.UtcNow < deadline);

        Assert.Equal(PeerState.Failing, peer.State);
        Assert.Contains("PermissionDenied", peer.LastError);
        Assert.Equal(0, replica.CountRows());
    }

    [Fact]
    public async Task A_peer_with_another_catalogue_version_is_refused_naming_both_versions()
    {
        var standard = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().Catalog.Clone();
        standard.Version = "1.1.0";
        var folder = TempFolder.Create();
        try
        {
            var file = Path.Combine(folder, "catalogue-v1.1.json");
            await File.WriteAllTextAsync(file, Google.Protobuf.JsonFormatter.Default.Format(standard));
            await using var origin = await TestNode.StartAsync("BLZ", null, $"--Node:CatalogueFile={file}");
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 1)));
            await using var replica = await ReplicaAsync(origin, await SharedIdentity.CredentialAsync(""));

            PeerStatus peer;
            var deadline = DateTime.UtcNow.AddSeconds(20);
            do
            {
                await Task.Delay(100);
                peer = Assert.Single((await new SyncService.SyncServiceClient(replica.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Peers);
            }
            while (peer.State != PeerState.Stopped && DateTime.UtcNow < deadline);

            Assert.Equal(PeerState.Stopped, peer.State);
            Assert.StartsWith("FAILED_PRECONDITION", peer.LastError);
            Assert.Contains("1.1.0", peer.LastError);
            Assert.Contains("1.0.0", peer.LastError);
            Assert.Equal(0, replica.CountRows());
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
