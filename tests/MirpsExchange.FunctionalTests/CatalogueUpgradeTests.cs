using Grpc.Core;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// An upgrade the federation survives (issue 13 item 4): a State that has not moved to catalogue 2.0 runs its node
/// on 1.0.0 (Node:CatalogueVersion) and keeps syncing both ways with nodes on 2.0.0, which declares how 1.0 maps to it.
/// </summary>
public sealed class CatalogueUpgradeTests : IDisposable
{
    private const string OnVersionOne = "--Node:CatalogueVersion=1.0.0";

    private readonly string _folder = TempFolder.Create();

    public void Dispose() => TempFolder.Delete(_folder);

    private static Observation Applications(double value, string applicationType = "") => new()
    {
        IndicatorCode = "ASYLUM_APPLICATIONS", Country = "BLZ", Period = "2023", Sex = "_T", Age = "_T", CountryOfOrigin = "_T",
        Value = value, Status = ObservationStatus.Normal, ApplicationType = applicationType,
    };

    private static Task<GetSyncStatusResponse> StatusAsync(TestNode node) =>
        new SyncService.SyncServiceClient(node.Channel).GetSyncStatusAsync(new GetSyncStatusRequest()).ResponseAsync;

    private static string Stored(TestNode node) => string.Join("; ", node.Rows(
        "SELECT indicator_code, sex, application_type, procedure_type, count_basis, value FROM observations WHERE superseded_time IS NULL ORDER BY origin_sequence"));

    [Fact]
    public async Task A_node_on_catalogue_1_reports_it_and_accepts_only_what_1_0_holds()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, ShareWithAll, OnVersionOne);

        var status = await StatusAsync(node);
        Assert.Equal("1.0.0", status.CatalogVersion);
        Assert.Equal(StandardCatalogue.LoadVersion("1.0.0").Digest, status.CatalogDigest);
        Assert.Equal("1.0.0", (await node.Catalog.GetCatalogAsync(new Mirps.Catalog.V1.GetCatalogRequest())).Catalog.Version);
        // 1.0 has no APPLICATION_TYPE: a submit that sets it is refused, as the 1.0 node refused it; one that leaves it empty is taken.
        var refused = await Assert.ThrowsAsync<RpcException>(() => node.Observations.SubmitObservationsAsync(Submit(Applications(10, "NEW"))).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("application_type", refused.Status.Detail);
        var synthetic = Refugees(value: 5);
        synthetic.Synthetic = true; // an attribute catalogue 2.0 added
        var attribute = await Assert.ThrowsAsync<RpcException>(() => node.Observations.SubmitObservationsAsync(Submit(synthetic)).ResponseAsync);
        Assert.Contains("catalogue 1.0.0 has no attribute synthetic", attribute.Status.Detail);
        await node.Observations.SubmitObservationsAsync(Submit(Applications(10)));
        Assert.Equal("ASYLUM_APPLICATIONS|_T||||10", Stored(node));
    }

    [Fact]
    public async Task A_catalogue_version_that_is_not_shipped_stops_the_node_at_start_naming_the_key()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestNode.StartAsync("BLZ", null, "--Node:CatalogueVersion=1.5.0"));
        Assert.Contains("Node:CatalogueVersion", failure.ToString());
        Assert.Contains("1.0.0, 2.0.0, 2.1.0", failure.ToString());
    }

    [Fact]
    public async Task A_node_on_catalogue_2_pulls_from_a_node_on_1_and_maps_what_it_receives()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll, OnVersionOne);
        await origin.Observations.SubmitObservationsAsync(Submit(Applications(120), Refugees(value: 240)));
        await origin.Observations.SubmitObservationsAsync(Submit(Applications(125)));
        await using var replica = await PeerSyncTests.ReplicaAsync("PAN", _folder, await SharedIdentity.CredentialAsync(""), null, origin.Peer);

        await PeerSyncTests.HoldsAsync(replica, 3);

        Assert.Equal(PeerState.Connected, (await PeerSyncTests.PeerInStateAsync(replica, PeerState.Connected)).State);
        // The 1.0 changes verified against BLZ's signed chain unchanged, and are held with 2.0's dimensions at their defaults.
        Assert.Equal("REFUGEES|_T||||240; ASYLUM_APPLICATIONS|_T|_T|_T|PERSONS|125", Stored(replica));
        var answer = Assert.Single(await replica.QueryAsync(new StreamObservationsRequest { IndicatorCodes = { "ASYLUM_APPLICATIONS" } }));
        Assert.Equal(("_T", "PERSONS", 125.0, 2), (answer.Observation.ApplicationType, answer.Observation.CountBasis, answer.Observation.Value, answer.Revision));
    }

    [Fact]
    public async Task A_node_on_catalogue_1_pulls_what_1_0_holds_from_a_node_on_2_and_stops_at_the_first_change_it_cannot_hold()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Applications(120), Refugees(value: 240)));
        await using var v1 = await TestNode.StartAsync("PAN", null, [.. PeerSyncTests.PullArgs(_folder, await SharedIdentity.CredentialAsync(""), origin.Peer), OnVersionOne]);

        // Stored at 2.0's defaults at the origin, served as 1.0 expresses them (no such dimensions), verified against the chain.
        await PeerSyncTests.HoldsAsync(v1, 2);
        Assert.Equal("ASYLUM_APPLICATIONS|_T||||120; REFUGEES|_T||||240", Stored(v1));
        Assert.Equal(PeerState.Connected, (await PeerSyncTests.PeerInStateAsync(v1, PeerState.Connected)).State);

        // A change only 2.0 holds: the feed stops before it, naming it and what 1.0 lacks; nothing of it is written.
        await origin.Observations.SubmitObservationsAsync(Submit(Applications(30, "REPEAT"), Refugees(value: 241)));
        var peer = await PeerSyncTests.PeerInStateAsync(v1, PeerState.Stopped);
        v1.Errors.Expect("PeerCatalogueMismatch");

        Assert.Equal(PeerState.Stopped, peer.State);
        Assert.StartsWith("FAILED_PRECONDITION", peer.LastError);
        Assert.Matches("BLZ's change [34] cannot be held in catalogue 1.0.0", peer.LastError);
        Assert.Contains("APPLICATION_TYPE = REPEAT", peer.LastError);
        Assert.Equal(2, v1.CountRows());
    }

    [Fact]
    public async Task A_node_on_catalogue_1_receives_nothing_of_a_commit_holding_a_change_it_cannot_hold()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Applications(120)));
        await using var v1 = await TestNode.StartAsync("PAN", null, [.. PeerSyncTests.PullArgs(_folder, await SharedIdentity.CredentialAsync(""), origin.Peer), OnVersionOne]);
        await PeerSyncTests.HoldsAsync(v1, 1);

        // One commit: a revision 1.0 holds (change 2), then a synthetic figure it cannot (change 3). The feed serves change 2
        // and stops; the reader writes nothing of a commit whose signed head it never received (ChainVerifier), so a
        // complementary withholding is never judged without the withheld values of its commit.
        var synthetic = Refugees(value: 241);
        synthetic.Synthetic = true;
        await origin.Observations.SubmitObservationsAsync(Submit(Applications(125), synthetic));
        var peer = await PeerSyncTests.PeerInStateAsync(v1, PeerState.Stopped);
        v1.Errors.Expect("PeerCatalogueMismatch");

        Assert.Contains("BLZ's change 3 cannot be held in catalogue 1.0.0", peer.LastError);
        Assert.Equal("ASYLUM_APPLICATIONS|_T||||120", Stored(v1));
        Assert.Equal(1, v1.CountRows());
    }

    [Fact]
    public async Task The_secretariats_regional_figures_over_a_mixed_federation_name_the_catalogue_each_state_reported_in()
    {
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll, OnVersionOne);
        await using var cri = await TestNode.StartAsync("CRI", null, ShareWithAll);
        await blz.Observations.SubmitObservationsAsync(Submit(Applications(120)));
        var costaRica = Applications(300);
        costaRica.Country = "CRI";
        await cri.Observations.SubmitObservationsAsync(Submit(costaRica));
        await using var secretariat = await PullingSecretariatAsync(null, blz, cri);

        var answer = await RegionalAsync(secretariat, 2);

        // BLZ's 1.0 figure counts as the total of 2.0's new dimensions (its declared mapping), and the answer says so.
        Assert.Equal(420, answer.Cells.Single().Value);
        Assert.Equal(["BLZ 1.0.0", $"CRI {StandardCatalogue.StandardVersion}"], Catalogues(answer));
        var file = Path.Combine(_folder, "reader.json");
        OwnerOnlyFile.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        var shown = await CliRunner.RunAsync(["regional", "show", "ASYLUM_APPLICATIONS", "--period", "2023",
            "--secretariat", secretariat.Address, "--identity", secretariat.Identity.Issuer, "--credential", file]);
        Assert.Equal(0, shown.Code);
        Assert.Contains($"Catalogue versions reported in: 1.0.0 BLZ; {StandardCatalogue.StandardVersion} CRI", shown.Output);
    }

    [Fact]
    public async Task The_secretariat_keeps_the_catalogue_each_state_reported_in_across_its_restart_and_names_it_as_of_an_earlier_time()
    {
        var secretariatStore = $"--ConnectionStrings:Store=Data Source={Path.Combine(_folder, "secretariat.db")}";
        var blzStore = Path.Combine(_folder, "blz.db");
        Google.Protobuf.WellKnownTypes.Timestamp beforeUpgrade;
        await using (var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll, OnVersionOne))
        {
            await blz.Observations.SubmitObservationsAsync(Submit(Applications(120)));
            await using (var secretariat = await PullingSecretariatAsync(secretariatStore, blz))
            {
                Assert.Equal(["BLZ 1.0.0"], Catalogues(await RegionalAsync(secretariat, 1)));
            }
            beforeUpgrade = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
            await Task.Delay(20);
            blz.CopyStoreTo(blzStore);
        }

        // BLZ upgrades its node to catalogue 2.0 on its store; the Secretariat restarts on its own store and pulls it again.
        await using var upgraded = await TestNode.StartOnStoreAsync(blzStore, "BLZ", null, ShareWithAll);
        await using var restarted = await PullingSecretariatAsync(secretariatStore, upgraded);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Catalogues(await RegionalAsync(restarted, 1)).Single() != $"BLZ {StandardCatalogue.StandardVersion}" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal([$"BLZ {StandardCatalogue.StandardVersion}"], Catalogues(await RegionalAsync(restarted, 1)));
        // The figure as of before the upgrade was reported in 1.0.0, and says so after the restart too.
        Assert.Equal(["BLZ 1.0.0"], Catalogues(await RegionalAsync(restarted, 1, beforeUpgrade)));
    }

    [Fact]
    public async Task A_relay_cannot_set_the_catalogue_version_another_state_reported_in()
    {
        // Belize on 1.0.0; Costa Rica's node (2.1.0) relays Belize's log to the Secretariat, which never reaches Belize's own node.
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll, OnVersionOne);
        await blz.Observations.SubmitObservationsAsync(Submit(Applications(120)));
        await using var cri = await TestNode.StartAsync("CRI", null, [.. PeerSyncTests.PullArgs(_folder, await SharedIdentity.CredentialAsync("CRI"), blz.Peer), ShareWithAll]);
        var puller = Path.Combine(_folder, "secretariat.json");
        OwnerOnlyFile.WriteAllText(puller, System.Text.Json.JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        await using var secretariat = await TestSecretariat.StartAsync($"--Node:Credential={puller}",
            $"--Node:Peers:0:Address={cri.Address}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=CRI");

        var answer = await RegionalAsync(secretariat, 1);

        // Belize's figure arrived, but the relay's status speaks for the relay only: Belize's version stays unknown, never CRI's 2.1.0.
        Assert.Equal(120, answer.Cells.Single().Value);
        Assert.Equal(["BLZ "], Catalogues(answer));
    }

    [Fact]
    public async Task A_store_last_run_on_catalogue_2_refuses_to_start_on_catalogue_1()
    {
        var store = Path.Combine(_folder, "blz.db");
        var upgradedStore = Path.Combine(_folder, "blz-upgraded.db");
        await using (var v1 = await TestNode.StartAsync("BLZ", null, ShareWithAll, OnVersionOne))
        {
            await v1.Observations.SubmitObservationsAsync(Submit(Applications(120)));
            v1.CopyStoreTo(store);
        }
        await using (var v2 = await TestNode.StartOnStoreAsync(store, "BLZ", null, ShareWithAll))
        {
            await v2.Observations.SubmitObservationsAsync(Submit(Applications(100, "REPEAT")));
            v2.CopyStoreTo(upgradedStore);
        }

        // Its rows may hold what 1.0 cannot express (APPLICATION_TYPE = REPEAT here): the node says so and does not start.
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestNode.StartOnStoreAsync(upgradedStore, "BLZ", null, ShareWithAll, OnVersionOne));
        Assert.Contains($"This store was last run on catalogue {StandardCatalogue.StandardVersion}; a node on catalogue 1.0.0 (Node:CatalogueVersion)", failure.ToString());
        await using var again = await TestNode.StartOnStoreAsync(upgradedStore, "BLZ", null, ShareWithAll);
        Assert.Equal(2, again.CountRows());
    }

    /// <summary>A Secretariat (on <paramref name="store"/>'s connection string when given) pulling each State from its own node.</summary>
    private async Task<TestSecretariat> PullingSecretariatAsync(string? store, params TestNode[] states)
    {
        var puller = Path.Combine(_folder, "secretariat.json");
        OwnerOnlyFile.WriteAllText(puller, System.Text.Json.JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        string[] peers = [.. states.SelectMany((state, i) => new[]
        {
            $"--Node:Peers:{i}:Address={state.Address}", $"--Node:Peers:{i}:Origins:0={state.Country}", $"--Node:Peers:{i}:Country={state.Country}",
        })];
        return await TestSecretariat.StartAsync([$"--Node:Credential={puller}", .. peers, .. store is null ? [] : new[] { store }]);
    }

    /// <summary>The regional applications of 2023 (as of <paramref name="asOf"/>), once <paramref name="states"/> States contribute (20 s at most).</summary>
    private static async Task<Mirps.Regional.V1.GetRegionalValueResponse> RegionalAsync(TestSecretariat secretariat, int states, Google.Protobuf.WellKnownTypes.Timestamp? asOf = null)
    {
        var request = new Mirps.Regional.V1.GetRegionalValueRequest { IndicatorCode = "ASYLUM_APPLICATIONS", Period = "2023", AsOfTime = asOf };
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var answer = await secretariat.Regional.GetRegionalValueAsync(request);
        while (answer.Cells.Sum(c => c.ContributingCountries.Count) < states && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            answer = await secretariat.Regional.GetRegionalValueAsync(request);
        }
        return answer;
    }

    private static List<string> Catalogues(Mirps.Regional.V1.GetRegionalValueResponse answer) =>
        [.. answer.ReportingCatalogs.Select(c => $"{c.Country} {c.CatalogVersion}")];

    /// <summary>One answer row without catalogue 2.0's dimensions (empty in 1.0, at their defaults in 2.0): what the figures and their history are.</summary>
    private static string Render(StoredObservation s) =>
        $"{s.Observation.IndicatorCode} {s.Observation.Period} {s.Observation.Sex} {s.Observation.Value} r{s.Revision} #{s.OriginSequence} deleted={s.Deleted} {s.RecordedTime}";

    private static async Task<List<string>> HistoryAsync(TestNode node, Observation o) =>
        [.. (await node.Observations.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(o) })).Revisions.Select(Render)];

    private static async Task<List<string>> AsOfAsync(TestNode node, Google.Protobuf.WellKnownTypes.Timestamp? asOf) =>
        [.. (await node.QueryAsync(asOf is null ? new StreamObservationsRequest() : new StreamObservationsRequest { AsOfTime = asOf })).Select(Render).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task A_store_made_before_catalogue_2_upgrades_in_place_with_its_history_and_as_of_answers()
    {
        var store = Path.Combine(_folder, "before-2.0.db");
        Google.Protobuf.WellKnownTypes.Timestamp between;
        List<string> history, asOf, current;
        await using (var before = await TestNode.StartAsync("BLZ", null, ShareWithAll, OnVersionOne))
        {
            await before.Observations.SubmitObservationsAsync(Submit(Applications(120), Refugees(value: 240)));
            await Task.Delay(20);
            between = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
            await Task.Delay(20);
            await before.Observations.SubmitObservationsAsync(Submit(Applications(125)));
            await before.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees()) } });
            (history, asOf, current) = (await HistoryAsync(before, Applications(0)), await AsOfAsync(before, between), await AsOfAsync(before, null));
            before.CopyStoreTo(store);
        }
        // The store as the node before catalogue 2.0 left it: the schema of the migration before CatalogueTwoDimensions, with its signed log.
        await using (var db = new MirpsExchange.Node.Store.NodeDbContext(MirpsExchange.Node.Store.StoreExtensions.Options($"Data Source={store};Pooling=False")))
        {
            await Microsoft.EntityFrameworkCore.Infrastructure.AccessorExtensions.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>(db)
                .MigrateAsync("20261206170936_SignedChangeLog");
        }
        Assert.Equal(2, history.Count);
        Assert.Equal(3, asOf.Count + current.Count);

        await using var upgraded = await TestNode.StartOnStoreAsync(store, "BLZ", null, ShareWithAll);

        Assert.Equal(history, await HistoryAsync(upgraded, Applications(0)));
        Assert.Equal(asOf, await AsOfAsync(upgraded, between));
        Assert.Equal(current, await AsOfAsync(upgraded, null));
        // Its 1.0 rows read as 2.0 expresses them, and a new figure for the same cell revises them (one cell, not two).
        var held = Assert.Single(await upgraded.QueryAsync(new StreamObservationsRequest { IndicatorCodes = { "ASYLUM_APPLICATIONS" } }));
        Assert.Equal(("_T", "PERSONS"), (held.Observation.ApplicationType, held.Observation.CountBasis));
        await upgraded.Observations.SubmitObservationsAsync(Submit(Applications(130)));
        var revised = await HistoryAsync(upgraded, Applications(0));
        Assert.Equal([.. history, ..revised[2..]], revised);
        Assert.Contains(" 130 r3 ", revised[2]);
        Assert.Single(await upgraded.QueryAsync(new StreamObservationsRequest { IndicatorCodes = { "ASYLUM_APPLICATIONS" } }));
    }

    [Fact]
    public async Task Devnet_once_runs_a_mixed_federation_with_the_states_named_on_catalogue_1_and_every_sample_reaches_the_secretariat()
    {
        var result = await CliRunner.RunAsync("devnet", "--once", "--dir", _folder, "--catalogue-v1", "blz,CRI").WaitAsync(TimeSpan.FromMinutes(8));

        Assert.True(result.Code == MirpsExchange.Cli.CliApp.Ok, result.Error + result.Output);
        Assert.Contains("node BLZ listening on http://127.0.0.1:", result.Output);
        Assert.Matches(@"node BLZ listening on \S+ on catalogue 1\.0\.0", result.Output);
        Assert.Matches(@"node CRI listening on \S+ on catalogue 1\.0\.0 \(also replicates PAN\)", result.Output);
        Assert.Matches(@"node PAN listening on \S+\r?\n", result.Output);
        foreach (var state in new[] { "BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN" })
        {
            Assert.Contains($"secretariat holds {state}'s", result.Output);
        }
        Assert.Contains($"Catalogue versions reported in: 1.0.0 BLZ CRI; {StandardCatalogue.StandardVersion} GTM HND MEX PAN SLV", result.Output);
        Assert.Matches(@"REFUGEES\s*│(\s*✓\s*│){7}", result.Output);
    }

    [Theory]
    [InlineData("XYZ")]
    [InlineData("BLZ,USA")]
    public async Task Devnet_refuses_a_catalogue_v1_list_that_names_no_mirps_state(string list)
    {
        var result = await CliRunner.RunAsync("devnet", "--once", "--dir", _folder, "--catalogue-v1", list);

        Assert.NotEqual(MirpsExchange.Cli.CliApp.Ok, result.Code);
        Assert.Contains("--catalogue-v1 lists MIRPS States", result.Error + result.Output);
        Assert.False(Directory.EnumerateFileSystemEntries(_folder).Any()); // nothing started
    }

    [Theory]
    [InlineData("9.9.9")]
    [InlineData("2.9.0")]
    public async Task The_feed_serves_no_change_to_a_reader_whose_catalogue_neither_maps_nor_is_mapped(string version)
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var sync = new SyncService.SyncServiceClient(origin.Channel);

        using var call = sync.StreamChanges(new StreamChangesRequest { Origin = "BLZ", CatalogVersion = version });
        var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Equal("CATALOGUE_NOT_MAPPED", refused.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        Assert.Contains($"reader's catalogue {version}", refused.Status.Detail);
        // The reader's own version, or none named (a reader of the same catalogue), is served.
        using var same = sync.StreamChanges(new StreamChangesRequest { Origin = "BLZ", CatalogVersion = StandardCatalogue.StandardVersion });
        Assert.True(await same.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Single(same.ResponseStream.Current.Changes);
    }
}
