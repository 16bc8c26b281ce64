using Mirps.Observation.V1;
using Mirps.Regional.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.TestShared;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Catalogue 2.0's dimensions and attributes end to end, on real nodes that load a catalogue declaring them
/// (<see cref="CatalogueTwoShape"/>, through Node:CatalogueFile): submitted, stored with the defaults of a
/// declared dimension left empty, queried back, synced to a replica that verifies the origin's signed chain,
/// and added up by the Secretariat without mixing cells or hiding lower bounds and synthetic figures.
/// </summary>
public sealed class CatalogueTwoDimensionsTests : IDisposable
{
    private readonly string _folder = TempFolder.Create();

    private string CatalogueArg => $"--Node:CatalogueFile={CatalogueTwoShape.WriteFile(_folder)}";

    public void Dispose() => TempFolder.Delete(_folder);

    private static Observation Applications(string country, double value, Action<Observation>? change = null)
    {
        var o = new Observation
        {
            IndicatorCode = CatalogueTwoShape.Applications, Country = country, Period = "2023", Sex = "_T", Age = "_T", CountryOfOrigin = "_T",
            Value = value, Status = ObservationStatus.Normal,
        };
        change?.Invoke(o);
        return o;
    }

    private static string Stored(TestNode node, string where) => string.Join("; ", node.Rows(
        "SELECT application_type, decision_level, procedure_type, count_basis, country_of_destination, value, lower_bound, confidentiality, synthetic " +
        $"FROM observations WHERE superseded_time IS NULL AND {where} ORDER BY application_type, count_basis, origin_sequence"));

    [Fact]
    public async Task New_dimensions_and_attributes_are_submitted_queried_and_synced_to_a_replica_that_verifies_the_signed_chain()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll, CatalogueArg);
        var submitted = await origin.Observations.SubmitObservationsAsync(Submit(
            Applications("BLZ", 791, o => { o.ApplicationType = "NEW"; o.LowerBound = true; o.Synthetic = true; o.Confidentiality = ConfidentialityStatus.NotForPublication; }),
            Applications("BLZ", 420, o => { o.ApplicationType = "NEW"; o.CountBasis = "CASES"; }),
            Applications("BLZ", 900), // v1-shaped: every new dimension left empty
            new Observation
            {
                IndicatorCode = CatalogueTwoShape.Resettlement, Country = "BLZ", Period = "2023", Sex = "_T", Age = "_T", CountryOfOrigin = "SLV",
                CountryOfDestination = "CAN", Value = 12, Status = ObservationStatus.Normal,
            }));
        Assert.Equal(4, submitted.Inserted);

        // Stored with the defaults of the declared dimensions left empty, the undeclared ones empty, the attributes as sent.
        Assert.Equal("NEW||_T|CASES||420|0|0|0; NEW||_T|PERSONS||791|1|2|1; _T||_T|PERSONS||900|0|0|0", Stored(origin, $"indicator_code = '{CatalogueTwoShape.Applications}'"));
        Assert.Equal("||||CAN|12|0|0|0", Stored(origin, $"indicator_code = '{CatalogueTwoShape.Resettlement}'"));

        // One spelling per key: the defaults written out are the same key as left empty (unchanged, no new revision).
        var again = await origin.Observations.SubmitObservationsAsync(Submit(Applications("BLZ", 900, o => { o.ApplicationType = "_T"; o.ProcedureType = "_T"; o.CountBasis = "PERSONS"; })));
        Assert.Equal((0, 0, 1), (again.Inserted, again.Revised, again.Unchanged));
        // An attribute is part of the value: changing it alone is a revision.
        var flagged = await origin.Observations.SubmitObservationsAsync(Submit(Applications("BLZ", 900, o => o.Synthetic = true)));
        Assert.Equal(1, flagged.Revised);

        var queried = (await origin.QueryAsync(new StreamObservationsRequest { IndicatorCodes = { CatalogueTwoShape.Applications } })).Select(s => s.Observation).ToList();
        Assert.Equal(3, queried.Count);
        var lowerBound = Assert.Single(queried, o => o.LowerBound);
        Assert.Equal(("NEW", "", "_T", "PERSONS", "", 791.0, ConfidentialityStatus.NotForPublication, true),
            (lowerBound.ApplicationType, lowerBound.DecisionLevel, lowerBound.ProcedureType, lowerBound.CountBasis, lowerBound.CountryOfDestination,
             lowerBound.Value, lowerBound.Confidentiality, lowerBound.Synthetic));
        Assert.Contains(queried, o => o.CountBasis == "CASES" && o.Value == 420);
        var cases = await origin.QueryAsync(new StreamObservationsRequest { CountBases = { "CASES" } });
        Assert.Equal([420.0], cases.Select(s => s.Observation.Value));
        var undeclared = await origin.QueryAsync(new StreamObservationsRequest { ApplicationTypes = { "" } });
        Assert.Equal([CatalogueTwoShape.Resettlement], undeclared.Select(s => s.Observation.IndicatorCode));
        var byCli = await CliRunner.RunAsync(["query", .. origin.CliArgs, "--application-type", "new", "--format", "csv"]);
        Assert.True(byCli.Code == MirpsExchange.Cli.CliApp.Ok, byCli.Error);
        Assert.Contains("ASYLUM_APPLICATIONS,BLZ,2023,_T,_T,_T,NEW,,_T,PERSONS,,791,NORMAL,true,NOT_FOR_PUBLICATION,true,", byCli.Output);
        Assert.Contains("ASYLUM_APPLICATIONS,BLZ,2023,_T,_T,_T,NEW,,_T,CASES,,420,NORMAL,,,,", byCli.Output);

        // A key given with the new dimensions left empty finds the row stored with the defaults.
        var history = await origin.Observations.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = Applications("BLZ", 0).Key() });
        Assert.Equal([900.0, 900.0], history.Revisions.Select(r => r.Observation.Value));
        Assert.Equal([false, true], history.Revisions.Select(r => r.Observation.Synthetic));

        // A replica on the same catalogue pulls the log, verifies the chain against the origin's signed heads and holds the same.
        await using var replica = await TestNode.StartAsync("PAN", null,
            [.. PeerSyncTests.PullArgs(_folder, await SharedIdentity.CredentialAsync(""), origin.Peer), CatalogueArg]);
        await PeerSyncTests.ConvergesAsync(origin, replica);
        Assert.Equal(PeerState.Connected, (await PeerSyncTests.PeerInStateAsync(replica, PeerState.Connected)).State);
        Assert.Equal(Stored(origin, "origin = 'BLZ'"), Stored(replica, "origin = 'BLZ'"));
        Assert.Equal(origin.Rows("SELECT change_hash FROM observations ORDER BY origin_sequence"), replica.Rows("SELECT change_hash FROM observations ORDER BY origin_sequence"));

        // A deletion keyed with the new dimensions left empty deletes the row stored with the defaults, and reaches the replica.
        var deleted = await origin.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { Applications("BLZ", 0).Key() } });
        Assert.Equal(1, deleted.Deleted);
        await PeerSyncTests.ConvergesAsync(origin, replica);
    }

    [Fact]
    public async Task A_v1_shaped_submit_to_a_v1_node_stores_the_new_dimensions_empty_and_refuses_them_set()
    {
        var v1 = Path.Combine(_folder, "catalogue-v1.json");
        await File.WriteAllTextAsync(v1, Google.Protobuf.JsonFormatter.Default.Format(CatalogueTwoShape.V1().Catalog));
        await using var node = await TestNode.StartAsync("BLZ", null, $"--Node:CatalogueFile={v1}");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        Assert.Equal("|||||240|0|0|0", Stored(node, "indicator_code = 'REFUGEES'"));

        var withBasis = Refugees(value: 240, sex: "F");
        withBasis.CountBasis = "PERSONS";
        var violation = await RpcAssert.InvalidArgumentAsync(() => node.Observations.SubmitObservationsAsync(Submit(withBasis)).ResponseAsync, "observations[0].count_basis");
        Assert.Contains("REFUGEES does not declare the COUNT_BASIS dimension", violation.Description);
    }

    [Fact]
    public async Task The_regional_value_adds_only_the_default_cells_and_says_which_figures_are_lower_bounds_or_synthetic()
    {
        await using var secretariat = await TestSecretariat.StartAsync(CatalogueArg);
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow.AddMinutes(-5),
        [
            Applications("MEX", 140_000, o => o.LowerBound = true), // "more than 140,000" persons
            Applications("MEX", 60_000, o => o.CountBasis = "CASES"), // cases: never added to persons
            Applications("MEX", 5_000, o => o.ApplicationType = "REPEAT"), // a breakdown, not the total
            Applications("GTM", 1_000, o => o.Synthetic = true),
            Applications("PAN", 9_000),
        ]);

        var value = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = CatalogueTwoShape.Applications, Period = "2023" });
        var cell = Assert.Single(value.Cells);
        Assert.Equal(150_000, cell.Value);
        Assert.Equal(("_T", "", "_T", "PERSONS", ""), (cell.ApplicationType, cell.DecisionLevel, cell.ProcedureType, cell.CountBasis, cell.CountryOfDestination));
        Assert.True(cell.LowerBound);
        Assert.Equal(["MEX"], cell.LowerBoundCountries);
        Assert.True(cell.Synthetic);
        Assert.Equal(["GTM"], cell.SyntheticCountries);
        Assert.Equal(["GTM", "MEX", "PAN"], cell.ContributingCountries.Order());

        // A breakdown by sex keeps the new dimensions at their defaults too.
        var bySex = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = CatalogueTwoShape.Applications, Period = "2023", Breakdown = Breakdown.Sex });
        Assert.Equal(150_000, Assert.Single(bySex.Cells).Value);

        // A breakdown by a new dimension: one cell per code, its total _T among them; persons and cases have no total.
        var byType = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = CatalogueTwoShape.Applications, Period = "2023", Breakdown = Breakdown.ApplicationType });
        Assert.Equal(["REPEAT 5000 MEX", "_T 150000 GTM MEX PAN"],
            byType.Cells.Select(c => $"{c.ApplicationType} {c.Value} {string.Join(" ", c.ContributingCountries.Order())}"));
        var byBasis = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = CatalogueTwoShape.Applications, Period = "2023", Breakdown = Breakdown.CountBasis });
        Assert.Equal(["CASES 60000 False", "PERSONS 150000 True"], byBasis.Cells.Select(c => $"{c.CountBasis} {c.Value} {c.LowerBound}"));
        await RpcAssert.InvalidArgumentAsync(() => secretariat.Regional.GetRegionalValueAsync(
            new GetRegionalValueRequest { IndicatorCode = CatalogueTwoShape.Applications, Period = "2023", Breakdown = Breakdown.DecisionLevel }).ResponseAsync, "breakdown");
    }
}
