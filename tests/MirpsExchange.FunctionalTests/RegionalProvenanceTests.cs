using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Google.Protobuf.WellKnownTypes;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Every regional figure names the signed log heads it follows from (DESIGN.md, trust model): here when the Secretariat
/// pulls a State's log through a relay that holds part of it only as placeholders (a small count the origin withholds
/// from other States), the chaos harness's relay-heads defect (docs/chaos.md).
/// </summary>
public class RegionalProvenanceTests
{
    /// <summary>
    /// BLZ's log: 1 REFUGEES 2023 = 100; 2 the same key revised to 3 (a small count, withheld from CRI); 3 REFUGEES 2022 = 70.
    /// The Secretariat pulls BLZ through CRI, which holds change 2 without its value, so the Secretariat holds a placeholder for
    /// it, and BLZ's heads up to 3. Its figure for 2023 can only be 100, which is BLZ's log at its head 1, not at 3 (where it
    /// is 3): the answer must name head 1. Once BLZ's own node is reachable and sends change 2, the answer now names head 3
    /// and sums 3, and the answer as of the earlier time is still 100 at head 1.
    /// </summary>
    [Fact]
    public async Task A_figure_pulled_through_a_relay_names_no_head_beyond_a_change_held_only_as_a_placeholder()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, SharingPolicyTests.Policy(("Default", "Readers", "all"), ("Default", "SmallCountThreshold", "5")));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 100)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 3)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 70)));
        await using var relay = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await SharingPolicyTests.HoldsAsync(relay, 3);

        // BLZ's own node stays out of reach (every connection held) until the Secretariat has pulled through the relay.
        await using var gate = new TcpGate(origin.Address);
        var file = Path.Combine(origin.Folder, $"secretariat-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        await using var secretariat = await TestSecretariat.StartAsync(
            $"--Node:Credential={file}",
            $"--Node:Peers:0:Address={relay.Address}", "--Node:Peers:0:Country=CRI", "--Node:Peers:0:Origins:0=BLZ",
            $"--Node:Peers:1:Address={gate.Address}", "--Node:Peers:1:Country=BLZ", "--Node:Peers:1:Origins:0=BLZ");
        await WaitAsync(() => secretariat.CountRows("withheld_changes") == 1 && secretariat.CountRows("observations") == 2
            && secretariat.CountRows("log_heads") >= 3, "the Secretariat holds BLZ's log to change 3 through the relay, change 2 as a placeholder");

        var relayed = await ValueAsync(secretariat, null);
        Assert.Equal("100.0 from BLZ", Figure(relayed));
        Assert.Equal(["BLZ@1"], Heads(relayed)); // not BLZ@3, where the figure would be 3
        // The regional change reads the same cut: 2022's value (change 3) is beyond head 1, so it is not counted yet.
        var change = await secretariat.Regional.GetRegionalChangeAsync(new GetRegionalChangeRequest { IndicatorCode = "REFUGEES", Period = "2023", AsOfTime = relayed.AsOfTime });
        Assert.Equal((100.0, 0.0, 0), (change.Changes.Single().Current.Value, change.Changes.Single().Previous.Value, change.Changes.Single().Previous.ContributingCountries.Count));
        Assert.Equal(["BLZ@1"], change.LogHeads.Select(h => $"{h.Origin}@{h.Sequence}"));

        // BLZ's node sends change 2: now the whole log to head 3 is held.
        gate.Open();
        await WaitAsync(() => secretariat.CountRows("withheld_changes") == 0, "the Secretariat receives change 2 from BLZ's own node");
        var whole = await ValueAsync(secretariat, null);
        Assert.Equal("3.0 from BLZ", Figure(whole));
        Assert.Equal(["BLZ@3"], Heads(whole));
        change = await secretariat.Regional.GetRegionalChangeAsync(new GetRegionalChangeRequest { IndicatorCode = "REFUGEES", Period = "2023" });
        Assert.Equal((3.0, 70.0), (change.Changes.Single().Current.Value, change.Changes.Single().Previous.Value));

        // As of the first answer's time, the Secretariat held change 2 only as a placeholder: the same figure and heads again.
        var before = await ValueAsync(secretariat, relayed.AsOfTime);
        Assert.Equal("100.0 from BLZ", Figure(before));
        Assert.Equal(["BLZ@1"], Heads(before));
    }

    /// <summary>
    /// BLZ's log: 1 REFUGEES 2023 = 100; 2 the same key revised to 200; 3 REFUGEES 2022 = 70, all shared with every State. A
    /// hostile relay (saying it is CRI's node) serves changes 2 and 3 as NOT_HELD placeholders with BLZ's genuine heads, and
    /// later change 2 in full, 3 still NOT_HELD. As of the first answer's time the Secretariat held change 2 only as a
    /// placeholder, so the figure of that time must name a head no later than 1 with 100, not head 2 (where the value is 200):
    /// the capped read also finds revisions at or below the cap that arrived after the time, and lowers the cap below them.
    /// </summary>
    [Fact]
    public async Task An_as_of_figure_names_no_head_at_or_beyond_a_revision_that_arrived_after_its_time()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 100)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 200)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 70)));
        var withheld = new[] { 2L, 3L };
        var (relay, secretariat) = await RelayedAsync(origin, sequence => withheld.Contains(sequence));
        await using var _ = relay;
        await using var __ = secretariat;
        await WaitAsync(() => secretariat.CountRows("withheld_changes") == 2 && secretariat.CountRows("observations") == 1
            && secretariat.CountRows("log_heads") == 3, "the Secretariat holds BLZ's log to change 3 through the relay, 2 and 3 as placeholders");
        var first = await ValueAsync(secretariat, null);
        Assert.Equal("100.0 from BLZ", Figure(first));
        Assert.Equal(["BLZ@1"], Heads(first));
        Assert.Equal(["BLZ from 2, read 1 of 3: NotHeld"], PendingOf(first.PendingChanges));

        // The relay, asked again for what it did not hold, now serves change 2 (received after the first answer's time).
        withheld = [3L];
        await WaitAsync(() => secretariat.CountRows("withheld_changes") == 1 && secretariat.CountRows("observations") == 2,
            "the Secretariat receives change 2 from the relay, change 3 still a placeholder");
        var now = await ValueAsync(secretariat, null);
        Assert.Equal("200.0 from BLZ", Figure(now));
        Assert.Equal(["BLZ@2"], Heads(now));
        Assert.Equal(["BLZ from 3, read 2 of 3: NotHeld"], PendingOf(now.PendingChanges));

        // As of the first answer's time: the same figure and head as then, not head 2 with the value from before change 2.
        var then = await ValueAsync(secretariat, first.AsOfTime);
        Assert.Equal("100.0 from BLZ", Figure(then));
        Assert.Equal(["BLZ@1"], Heads(then));
        Assert.Equal(["BLZ from 2, read 1 of 3: Unspecified"], PendingOf(then.PendingChanges)); // pending then, arrived since
    }

    /// <summary>
    /// BLZ's log: 1 REFUGEES 2023 = 100; 2 REFUGEES 2022 = 70. A relay (saying it is CRI's node) serves change 1 as a NOT_HELD
    /// placeholder, so no answer can read any of BLZ's log (there is no head before change 1): BLZ is missing from every figure
    /// although the Secretariat holds its log to change 2. The answers, `mirps regional show` and `completeness` say why: change
    /// 1 is pending (NOT_HELD), nothing of BLZ's log is read, 2 held; and the Secretariat's metrics count the relay's NOT_HELD
    /// placeholders, so an operator sees a relay that keeps not holding what it relays.
    /// </summary>
    [Fact]
    public async Task A_State_left_out_because_a_relay_did_not_hold_its_first_change_is_named_pending_and_the_relay_counted()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 100)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 70)));
        var (relay, secretariat) = await RelayedAsync(origin, sequence => sequence == 1, "--Telemetry:Prometheus:Port=0");
        await using var _ = relay;
        await using var __ = secretariat;
        await WaitAsync(() => secretariat.CountRows("withheld_changes") == 1 && secretariat.CountRows("observations") == 1
            && secretariat.CountRows("log_heads") == 2, "the Secretariat holds BLZ's log to change 2 through the relay, change 1 as a placeholder");
        const string Pending = "BLZ from 1, read 0 of 2: NotHeld";

        var value = await ValueAsync(secretariat, null);
        Assert.Equal("0.0 from ", Figure(value));
        Assert.Contains("BLZ", value.Cells.Single().MissingCountries);
        Assert.Empty(Heads(value));
        Assert.Equal([Pending], PendingOf(value.PendingChanges));
        var completeness = await secretariat.Regional.GetCompletenessAsync(new GetCompletenessRequest { PeriodFrom = "2022", PeriodTo = "2023", IndicatorCodes = { "REFUGEES" } });
        Assert.All(completeness.Cells.Where(c => c.Country == "BLZ"), c => Assert.Equal(ReportingState.Missing, c.State));
        Assert.Equal([Pending], PendingOf(completeness.PendingChanges));
        var change = await secretariat.Regional.GetRegionalChangeAsync(new GetRegionalChangeRequest { IndicatorCode = "REFUGEES", Period = "2023" });
        Assert.Equal([Pending], PendingOf(change.PendingChanges));
        var rates = await secretariat.Regional.GetProtectionRatesAsync(new GetProtectionRatesRequest { Period = "2023" });
        Assert.Equal([Pending], PendingOf(rates.PendingChanges));

        // Where people read it: the CLI's table and completeness matrix.
        var reader = Path.Combine(secretariat.Folder, "reader.json");
        OwnerOnlyFile.WriteAllText(reader, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        string[] args = ["--secretariat", secretariat.Address, "--identity", secretariat.Identity.Issuer, "--credential", reader];
        var show = await CliRunner.RunAsync(["regional", "show", "REFUGEES", "--period", "2023", .. args]);
        Assert.True(show.Code == 0, show.Error + show.Output);
        Assert.Contains("missing BLZ (change 1 pending)", show.Output);
        Assert.Contains("Pending: BLZ's change 1 (NOT_HELD", show.Output);
        Assert.Contains("none of BLZ's log is read (held up to change 2): BLZ is counted as missing", show.Output);
        var matrix = await CliRunner.RunAsync(["regional", "completeness", "--from", "2023", "--indicator", "REFUGEES", .. args]);
        Assert.True(matrix.Code == 0, matrix.Error + matrix.Output);
        Assert.Contains("Pending: BLZ's change 1 (NOT_HELD", matrix.Output);

        // The operator's metrics count the relay's NOT_HELD placeholders (each time it sends one: it is asked again).
        var scrape = secretariat.Services.GetRequiredService<PrometheusScrapeEndpoint>();
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(scrape.Address);
        Assert.Matches(new System.Text.RegularExpressions.Regex(
            $@"(?m)^mirps_sync_peer_not_held_total\{{[^}}]*peer=""{System.Text.RegularExpressions.Regex.Escape(relay.Address)}""[^}}]*\}} [1-9][0-9]*( |$)"), metrics);
        Assert.Matches(new System.Text.RegularExpressions.Regex(@"(?m)^mirps_sync_peer_not_held_total\{[^}]*origin=""BLZ"""), metrics);
    }

    /// <summary>
    /// A Secretariat that pulls <paramref name="origin"/>'s log only from a hostile relay saying it is CRI's node: it serves the
    /// origin's genuine log and heads (as CRI reads them), each change <paramref name="withheld"/> says as a NOT_HELD placeholder
    /// (asked each time the Secretariat asks again).
    /// </summary>
    internal static async Task<(MaliciousPeer Relay, TestSecretariat Secretariat)> RelayedAsync(TestNode origin, Func<long, bool> withheld, params string[] args)
    {
        var log = await OriginFeeds.ReadLogAsync(origin, "CRI");
        var relay = await MaliciousPeer.StartAsync("CRI");
        try
        {
            relay.Script = after => log.After(after).Select(m => m.Changes.Select(c => c.OriginSequence).Where(withheld)
                .Aggregate(m, (message, sequence) => OriginFeeds.Relabel(message, sequence, Withholding.NotHeld)));
            var file = Path.Combine(origin.Folder, $"secretariat-{Guid.NewGuid():N}.json");
            OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
            return (relay, await TestSecretariat.StartAsync(
            [
                $"--Node:Credential={file}", $"--Node:Peers:0:Address={relay.Address}", "--Node:Peers:0:Country=CRI", $"--Node:Peers:0:Origins:0={origin.Country}",
                .. args,
            ]));
        }
        catch
        {
            await relay.DisposeAsync();
            throw;
        }
    }

    private static List<string> PendingOf(IEnumerable<PendingChanges> pending) =>
        [.. pending.Select(p => $"{p.Country} from {p.FromSequence}, read {p.ReadSequence} of {p.LatestSequence}: {p.Reason}")];

    private static Task<GetRegionalValueResponse> ValueAsync(TestSecretariat secretariat, Timestamp? asOf) =>
        secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023", AsOfTime = asOf }).ResponseAsync;

    private static string Figure(GetRegionalValueResponse answer)
    {
        var cell = Assert.Single(answer.Cells);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{cell.Value:0.0} from {string.Join(",", cell.ContributingCountries)}");
    }

    private static List<string> Heads(GetRegionalValueResponse answer) => [.. answer.LogHeads.Select(h => $"{h.Origin}@{h.Sequence}")];

    private static async Task WaitAsync(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(100);
        }
    }
}
