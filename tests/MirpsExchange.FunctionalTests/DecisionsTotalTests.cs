using Google.Rpc;
using Grpc.Core;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Total decisions (DECISIONS_TOTAL, catalogue 2.1.0) at a node: a State that reports a total below its decisions on
/// substance is refused with the rule and cells named, writing nothing; a consistent total and no total at all pass;
/// a node still on the released catalogue 2.0.0 keeps syncing with one on 2.1.0; the Secretariat totals it.
/// </summary>
public sealed class DecisionsTotalTests : IDisposable
{
    private const string Total = "DECISIONS_TOTAL";
    private const string OnReleasedTwo = "--Node:CatalogueVersion=2.0.0";

    private readonly string _folder = TempFolder.Create();

    public void Dispose() => TempFolder.Delete(_folder);

    private static Observation Obs(string indicator, double value, string country = "PAN") => new()
    {
        IndicatorCode = indicator, Country = country, Period = "2023", Sex = "_T", Age = "_T", CountryOfOrigin = "_T", Value = value, Status = ObservationStatus.Normal,
    };

    /// <summary>2023's decisions on substance (synthetic): 131 + 0 + 960 = 1,091, and 1,450 applications closed without a decision.</summary>
    private static Observation[] Decisions(string country = "PAN") =>
    [
        Obs("DECISIONS_RECOGNIZED", 131, country), Obs("DECISIONS_COMPLEMENTARY", 0, country), Obs("DECISIONS_REJECTED", 960, country),
        Obs("DECISIONS_OTHERWISE_CLOSED", 1450, country),
    ];

    [Fact]
    public async Task A_State_reporting_total_decisions_below_its_decisions_is_refused_naming_the_row_the_rule_and_the_cells_and_nothing_is_written()
    {
        await using var node = await TestNode.StartAsync("PAN");
        await node.Observations.SubmitObservationsAsync(Submit(Decisions()));
        var rows = node.CountRows();

        // A valid figure beside a total that hides 91 decisions: the whole batch is refused.
        var call = () => node.Observations.SubmitObservationsAsync(Submit(Obs("ASYLUM_APPLICATIONS", 3400), Obs(Total, 1000))).ResponseAsync;
        var error = await Assert.ThrowsAsync<RpcException>(call);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var status = error.GetRpcStatus()!;
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal(("VALIDATION_RULE_FAILED", RpcErrors.Domain), (info.Reason, info.Domain));
        Assert.Equal(["DECISIONS_EQUAL_TOTAL", "DECISIONS_NOT_ABOVE_TOTAL"], info.Metadata["rules"].Split(',').Order(StringComparer.Ordinal));
        var violations = status.GetDetail<BadRequest>().FieldViolations;
        Assert.All(violations, v => Assert.Equal("observations[1]", v.Field));
        var violation = Assert.Single(violations, v => v.Description.StartsWith("DECISIONS_NOT_ABOVE_TOTAL", StringComparison.Ordinal));
        Assert.Contains("DECISIONS_RECOGNIZED + DECISIONS_COMPLEMENTARY + DECISIONS_REJECTED PAN 2023", violation.Description);
        Assert.Contains("= 1,091", violation.Description);
        Assert.Contains("DECISIONS_TOTAL 1,000", violation.Description);
        Assert.Contains("(observations[1])", violation.Description);
        Assert.DoesNotContain("DECISIONS_OTHERWISE_CLOSED", violation.Description);
        Assert.Equal(rows, node.CountRows());
    }

    /// <summary>What <paramref name="reader"/> ("" for the Secretariat) is served of PAN's decisions at PAN's node: "indicator|value|withholding".</summary>
    private static async Task<List<string>> DecisionsServedAsync(TestNode node, string reader)
    {
        var client = node.ObservationsWith(await SdmxRestTests.TokenAsync(node, reader));
        var served = new List<string>();
        using var call = client.StreamObservations(new StreamObservationsRequest());
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            served.AddRange(message.Observations.Where(s => s.Observation.IndicatorCode.StartsWith("DECISIONS_", StringComparison.Ordinal))
                .Select(s => $"{s.Observation.IndicatorCode}|{s.Observation.Value}|{s.Withholding}"));
        }
        return served;
    }

    /// <summary>
    /// The attack: PAN shares its decisions with every State but withholds its rejections (from other States, or as small counts).
    /// Belize reads the total, the recognized and the complementary, and subtracts. The total is shared with no State that may not
    /// read every component, and with the Secretariat alone when a component withholds small counts; the Secretariat reads it all.
    /// </summary>
    [Theory]
    [InlineData("--Node:Sharing:Indicators:DECISIONS_REJECTED:Readers=secretariat", 960.0)]
    [InlineData("--Node:Sharing:Indicators:DECISIONS_REJECTED:SmallCountThreshold=3", 2.0)]
    public async Task A_State_cannot_read_total_decisions_that_give_away_a_rejection_withheld_from_it(string withholding, double rejected)
    {
        await using var node = await TestNode.StartAsync("PAN", null, ["--Node:Sharing:Default:Readers=all", withholding]);
        await node.Observations.SubmitObservationsAsync(Submit(Obs("DECISIONS_RECOGNIZED", 131), Obs("DECISIONS_COMPLEMENTARY", 8),
            Obs("DECISIONS_REJECTED", rejected), Obs(Total, 139 + rejected)));

        var belize = await DecisionsServedAsync(node, "BLZ");
        Assert.Contains("DECISIONS_RECOGNIZED|131|Unspecified", belize);
        Assert.DoesNotContain(belize, s => s.StartsWith($"{Total}|", StringComparison.Ordinal));
        Assert.DoesNotContain(belize, s => s.StartsWith($"DECISIONS_REJECTED|{rejected}|", StringComparison.Ordinal));
        Assert.Contains($"{Total}|{139 + rejected}|Unspecified", await DecisionsServedAsync(node, ""));
    }

    [Fact]
    public async Task ValidateObservations_reports_the_total_against_each_decision_cell_without_writing()
    {
        await using var node = await TestNode.StartAsync("PAN");
        await node.Observations.SubmitObservationsAsync(Submit(Decisions()));
        var rows = node.CountRows();

        var response = await node.Observations.ValidateObservationsAsync(new ValidateObservationsRequest { Observations = { Obs(Total, 1100) } });

        var result = Assert.Single(response.Results);
        Assert.Equal(("DECISIONS_EQUAL_TOTAL", Total, 1091.0, 1100.0), (result.RuleId, result.IndicatorCode, result.LeftValue, result.RightValue));
        Assert.Equal(["DECISIONS_RECOGNIZED", "DECISIONS_COMPLEMENTARY", "DECISIONS_REJECTED"], result.LeftCells.Select(c => c.Key.IndicatorCode));
        Assert.Equal(0, result.RightCells.Single().ObservationIndex);
        Assert.Equal(rows, node.CountRows());
    }

    [Fact]
    public async Task A_total_consistent_with_its_decisions_is_written_and_without_a_total_the_rule_is_silent()
    {
        await using var node = await TestNode.StartAsync("PAN");

        var components = await node.Observations.SubmitObservationsAsync(Submit(Decisions()));
        Assert.Equal((4, 0), (components.Inserted, components.WarningCount));

        var total = await node.Observations.SubmitObservationsAsync(Submit(Obs(Total, 1091)));
        Assert.Equal((1, 0), (total.Inserted, total.WarningCount));
        Assert.Equal(5, node.CountRows());
    }

    [Fact]
    public async Task A_node_on_catalogue_2_1_pulls_from_a_node_still_on_the_released_2_0()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll, OnReleasedTwo);
        await origin.Observations.SubmitObservationsAsync(Submit(Decisions("BLZ")));
        var refused = await Assert.ThrowsAsync<RpcException>(() => origin.Observations.SubmitObservationsAsync(Submit(Obs(Total, 1091, "BLZ"))).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode); // 2.0.0 has no such indicator

        await using var replica = await PeerSyncTests.ReplicaAsync("PAN", _folder, await SharedIdentity.CredentialAsync(""), null, origin.Peer);

        var peer = await PeerSyncTests.PeerInStateAsync(replica, PeerState.Connected);
        Assert.True(peer.State == PeerState.Connected, $"{peer.State}: {peer.LastError}");
        await PeerSyncTests.HoldsAsync(replica, 4);
        var versions = new List<string>();
        foreach (var node in new[] { origin, replica })
        {
            versions.Add((await new SyncService.SyncServiceClient(node.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).CatalogVersion);
        }
        Assert.Equal(["2.0.0", "2.1.0"], versions);
    }

    [Fact]
    public async Task A_node_still_on_2_0_pulls_what_2_0_holds_from_a_node_on_2_1_and_stops_before_total_decisions_naming_it()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Decisions("BLZ")));
        await using var released = await TestNode.StartAsync("PAN", null, [.. PeerSyncTests.PullArgs(_folder, await SharedIdentity.CredentialAsync(""), origin.Peer), OnReleasedTwo]);
        var connected = await PeerSyncTests.PeerInStateAsync(released, PeerState.Connected);
        Assert.True(connected.State == PeerState.Connected, $"{connected.State}: {connected.LastError}");
        await PeerSyncTests.HoldsAsync(released, 4);

        await origin.Observations.SubmitObservationsAsync(Submit(Obs(Total, 1091, "BLZ")));
        var peer = await PeerSyncTests.PeerInStateAsync(released, PeerState.Stopped);
        released.Errors.Expect("PeerCatalogueMismatch");

        Assert.StartsWith("FAILED_PRECONDITION", peer.LastError);
        Assert.Contains("BLZ's change 5 cannot be held in catalogue 2.0.0", peer.LastError);
        Assert.Contains(Total, peer.LastError);
        Assert.Contains("catalogue 2.1.0", peer.LastError);
        Assert.Equal(4, released.CountRows());
    }

    [Fact]
    public async Task The_secretariat_totals_the_decisions_of_the_states_that_report_them()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        var january = new DateTimeOffset(2024, 1, 15, 0, 0, 0, TimeSpan.Zero);
        await secretariat.ReplicateAsync(january, [.. Decisions("PAN"), Obs(Total, 1091, "PAN"), Obs(Total, 2500, "MEX")]);

        var answer = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = Total, Period = "2023" });

        var cell = Assert.Single(answer.Cells);
        Assert.Equal(3591, cell.Value);
        Assert.Equal(["MEX", "PAN"], cell.ContributingCountries.Order(StringComparer.Ordinal));
    }
}
