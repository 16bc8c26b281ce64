using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Approval.V1;
using Mirps.Auth;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The reporting cycle (issue 15, item 1) across real processes: PAN's node, where PAN's approver approves, and the
/// Secretariat's node, which pulls PAN's changes and signed lifecycle entries from it and where the Secretariat's
/// approver accepts or rejects. Draft, approved, accepted, changed since approval, approved again, rejected, unapproved;
/// bulk approval; bad input; and the attacks: a State approving or accepting for another, a relay forging an entry.
/// </summary>
public class ApprovalTests
{
    private const string Populations = "POPULATIONS", Asylum = "ASYLUM_PROCEDURES";
    private const string ApproveScopes = $"{MirpsAuth.ReadScope} {MirpsAuth.ApproveScope}";

    /// <summary>The rows (CountRows' table) of the Secretariat's decision log, and of PAN's lifecycle log, in a store.</summary>
    internal const string Decisions = "lifecycle_entries WHERE origin = 'secretariat'", PanEntries = "lifecycle_entries WHERE origin = 'PAN'";

    internal static ApprovalService.ApprovalServiceClient Approvals(TestNode node, ClientCredential credential, string scope = ApproveScopes) =>
        new(node.ChannelWith(node.TokensFor(credential, scope).ToCallCredentials()));

    internal static ApprovalService.ApprovalServiceClient Approvals(TestSecretariat secretariat, ClientCredential credential, string scope = ApproveScopes) =>
        new(AuthenticatedChannel.Create(new Uri(secretariat.Address),
            new TokenClient(secretariat.Identity.Http, secretariat.Identity.TokenEndpoint, credential, scope, MirpsAuth.NodeAudience(MirpsAuth.Secretariat))));

    /// <summary>The Secretariat pulling PAN (changes and lifecycle entries) from each peer with its own credential.</summary>
    private static async Task<TestSecretariat> SecretariatAsync(string folder, params (string Address, string Country)[] peers)
    {
        var file = Path.Combine(folder, $"secretariat-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        return await TestSecretariat.StartAsync(
        [
            $"--Node:Credential={file}",
            "--Node:LifecyclePollInterval=00:00:00.200",
            .. peers.SelectMany((peer, i) => new[] { $"--Node:Peers:{i}:Address={peer.Address}", $"--Node:Peers:{i}:Country={peer.Country}", $"--Node:Peers:{i}:Origins:0=PAN" }),
        ]);
    }

    /// <summary>Costa Rica's node pulling PAN (changes and lifecycle entries) from <paramref name="peer"/> with its own credential.</summary>
    private static async Task<TestNode> CostaRicaPullingPanAsync(string folder, (string Address, string Country) peer)
    {
        var file = Path.Combine(folder, $"cri-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("CRI")));
        return await TestNode.StartAsync("CRI", null, ShareWithAll, $"--Node:Credential={file}", "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={peer.Address}", $"--Node:Peers:0:Country={peer.Country}", "--Node:Peers:0:Origins:0=PAN");
    }

    private static GetApprovalStatusRequest Cell(string group = Populations, string period = "2023", string country = "PAN") =>
        new() { Countries = { country }, GroupIds = { group }, Periods = { period } };

    /// <summary>The Secretariat pulling PAN and Belize, each from its own node (changes and lifecycle entries).</summary>
    internal static async Task<TestSecretariat> SecretariatOfAsync(TestNode pan, TestNode blz)
    {
        var file = Path.Combine(pan.Folder, $"secretariat-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        return await TestSecretariat.StartAsync(
            $"--Node:Credential={file}", "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={pan.Address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN",
            $"--Node:Peers:1:Address={blz.Address}", "--Node:Peers:1:Country=BLZ", "--Node:Peers:1:Origins:0=BLZ");
    }

    /// <summary>A first-instance decision total of <paramref name="country"/> (the rates' components).</summary>
    private static Observation DecisionFigure(string indicator, string country, double value) => new(Refugees(country, "2023", value)) { IndicatorCode = indicator };

    /// <summary><paramref name="read"/> until <paramref name="done"/> says yes (or 30 s, then the last answer).</summary>
    /// <summary>
    /// REFUGEES 2023 exported accepted-only from <paramref name="secretariat"/> by <c>mirps regional export --out</c>, with the Secretariat's
    /// credential written to a file: the export (its provenance beside it) and the <c>--identity</c> and <c>--credential</c> arguments,
    /// which <c>regional verify</c> takes too.
    /// </summary>
    internal static async Task<(string File, string[] Args)> ExportAcceptedAsync(TestSecretariat secretariat)
    {
        var credential = Path.Combine(secretariat.Folder, "reader.json");
        OwnerOnlyFile.WriteAllText(credential, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        string[] args = ["--identity", secretariat.Identity.Issuer, "--credential", credential];
        var file = Path.Combine(secretariat.Folder, "accepted.csv");
        var export = await CliRunner.RunAsync(["regional", "export", "--indicator", "REFUGEES", "--period", "2023", "--lifecycle", "accepted", "--out", file,
            "--secretariat", secretariat.Address, .. args]);
        Assert.True(export.Code == MirpsExchange.Cli.CliApp.Ok, export.Error + export.Output);
        return (file, args);
    }

    internal static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var answer = await read();
            if (done(answer) || DateTime.UtcNow > deadline)
            {
                return answer;
            }
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// PAN approved its 2023 asylum decisions; Belize's are a draft. An approved-only protection rate counts PAN only (Belize's draft
    /// components are left out, Belize excluded) and names each included State's lifecycle state; an approved-only change of refugees
    /// counts PAN in 2023 (approved) but nobody in 2022 (not approved), so it says the two periods summed different States.
    /// </summary>
    [Fact]
    public async Task A_draft_is_left_out_of_an_approved_only_protection_rate_and_regional_change()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await using var secretariat = await SecretariatOfAsync(pan, blz);
        var secretariatView = Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope);
        await pan.Observations.SubmitObservationsAsync(Submit(DecisionFigure("DECISIONS_RECOGNIZED", "PAN", 30), DecisionFigure("DECISIONS_COMPLEMENTARY", "PAN", 10),
            DecisionFigure("DECISIONS_REJECTED", "PAN", 60), Refugees("PAN", "2022", 200), Refugees("PAN", value: 230)));
        await blz.Observations.SubmitObservationsAsync(Submit(DecisionFigure("DECISIONS_RECOGNIZED", "BLZ", 10), DecisionFigure("DECISIONS_COMPLEMENTARY", "BLZ", 0),
            DecisionFigure("DECISIONS_REJECTED", "BLZ", 90), Refugees("BLZ", "2022", 100), Refugees("BLZ", value: 240)));
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Asylum, Populations }, Periods = { "2023" } });
        await WhenAsync(secretariatView, ApprovalState.Approved, Asylum);
        await WhenAsync(secretariatView, ApprovalState.Approved);

        Task<Mirps.Regional.V1.GetProtectionRatesResponse> RatesAsync(Mirps.Regional.V1.LifecycleFilter filter) =>
            secretariat.Regional.GetProtectionRatesAsync(new Mirps.Regional.V1.GetProtectionRatesRequest { Period = "2023", Lifecycle = filter }).ResponseAsync;
        var all = await UntilAsync(() => RatesAsync(Mirps.Regional.V1.LifecycleFilter.Unspecified), r => r.RecognitionRate.Denominator == 200);
        Assert.Equal((40.0, 200.0), (all.RecognitionRate.Numerator, all.RecognitionRate.Denominator));
        Assert.Equal([("BLZ", ApprovalState.Draft), ("PAN", ApprovalState.Approved)], all.RecognitionRate.LifecycleStates.Select(l => (l.Country, l.State)));
        Assert.Empty(all.LifecycleHeads); // no filter, nothing read of the lifecycle logs to name

        var approved = await RatesAsync(Mirps.Regional.V1.LifecycleFilter.Approved);
        Assert.Equal((30.0, 100.0, 0.3), (approved.RecognitionRate.Numerator, approved.RecognitionRate.Denominator, approved.RecognitionRate.Rate));
        Assert.Equal(["PAN"], approved.RecognitionRate.IncludedCountries);
        Assert.Contains("BLZ", approved.RecognitionRate.ExcludedCountries);
        Assert.Equal(["PAN"], approved.TotalProtectionRate.IncludedCountries);
        var state = Assert.Single(approved.TotalProtectionRate.LifecycleStates);
        Assert.Equal(("PAN", ApprovalState.Approved), (state.Country, state.State));
        Assert.True(state.EntrySequence > 0);
        Assert.Equal(["PAN"], approved.LifecycleHeads.Select(h => h.Origin)); // Belize has no lifecycle entry
        Assert.Empty((await RatesAsync(Mirps.Regional.V1.LifecycleFilter.Accepted)).RecognitionRate.IncludedCountries);

        var change = Assert.Single((await secretariat.Regional.GetRegionalChangeAsync(new Mirps.Regional.V1.GetRegionalChangeRequest
            { IndicatorCode = "REFUGEES", Period = "2023", Lifecycle = Mirps.Regional.V1.LifecycleFilter.Approved })).Changes);
        Assert.Equal(230.0, change.Current.Value);
        Assert.Equal(["PAN"], change.Current.ContributingCountries);
        Assert.Equal([("PAN", ApprovalState.Approved)], change.Current.LifecycleStates.Select(l => (l.Country, l.State)));
        Assert.Empty(change.Previous.ContributingCountries);
        Assert.False(change.SameCountries);
        var unfiltered = Assert.Single((await secretariat.Regional.GetRegionalChangeAsync(new Mirps.Regional.V1.GetRegionalChangeRequest
            { IndicatorCode = "REFUGEES", Period = "2023" })).Changes);
        Assert.Equal((470.0, 300.0), (unfiltered.Current.Value, unfiltered.Previous.Value));
        Assert.Equal([("BLZ", ApprovalState.Draft), ("PAN", ApprovalState.Draft)], unfiltered.Previous.LifecycleStates.Select(l => (l.Country, l.State)));

        // A filter this schema does not define is refused, naming the field, rather than read as "every figure".
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await secretariat.Regional.GetProtectionRatesAsync(new Mirps.Regional.V1.GetProtectionRatesRequest { Period = "2023", Lifecycle = (Mirps.Regional.V1.LifecycleFilter)9 }));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains(refused.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations, v => v.Field == "lifecycle");
    }

    /// <summary>
    /// An accepted-only export (`mirps regional export --lifecycle accepted`) names the filter, PAN's lifecycle log head and the
    /// Secretariat's acceptance, and `mirps regional verify` checks it against PAN's signed lifecycle log. A provenance that claims an
    /// acceptance of Belize's figures, which Belize never approved, does not verify; nor does one whose lifecycle head was altered.
    /// </summary>
    [Fact]
    public async Task An_accepted_only_export_verifies_and_one_claiming_an_acceptance_no_State_signed_for_does_not()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await using var secretariat = await SecretariatOfAsync(pan, blz);
        var secretariatView = Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await blz.Observations.SubmitObservationsAsync(Submit(Refugees("BLZ", value: 240)));
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await WhenAsync(secretariatView, ApprovalState.Approved);
        await Approvals(secretariat, await SharedIdentity.ApproverAsync("")).AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } });
        await UntilAsync(() => secretariat.Regional.GetRegionalValueAsync(new Mirps.Regional.V1.GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023" }).ResponseAsync,
            r => r.Cells[0].ContributingCountries.Count == 2);

        var (file, args) = await ExportAcceptedAsync(secretariat);
        var provenance = Mirps.Regional.V1.ExportProvenance.Parser.ParseJson(await File.ReadAllTextAsync(file + ".provenance.json"));
        Assert.Equal(Mirps.Regional.V1.LifecycleFilter.Accepted, provenance.Lifecycle);
        Assert.Equal(["PAN", MirpsAuth.Secretariat], provenance.LifecycleHeads.Select(h => h.Origin)); // PAN's lifecycle log, then the decision log
        var acceptance = Assert.Single(provenance.Acceptances);
        Assert.Equal(("PAN", Populations, "2023"), (acceptance.Country, acceptance.GroupId, acceptance.Period));
        Assert.Contains("their sum is 230", await File.ReadAllTextAsync(file)); // PAN only: Belize's draft is not counted

        var verified = await CliRunner.RunAsync(["regional", "verify", file, "--node", secretariat.Address, .. args]);
        Assert.True(verified.Code == MirpsExchange.Cli.CliApp.Ok, verified.Error + verified.Output);
        Assert.Contains("verified: 1 figures", verified.Output);

        async Task<(int Code, string Output, string Error)> VerifyForgedAsync(string name, Action<Mirps.Regional.V1.ExportProvenance> forge)
        {
            var forged = provenance.Clone();
            forge(forged);
            var copy = Path.Combine(secretariat.Folder, name + ".csv");
            File.Copy(file, copy);
            await File.WriteAllTextAsync(copy + ".provenance.json", MirpsExchange.Cli.Commands.RegionalVerify.Json.Format(forged));
            return await CliRunner.RunAsync(["regional", "verify", copy, "--node", secretariat.Address, .. args]);
        }

        var belize = await VerifyForgedAsync("belize-accepted", p => p.Acceptances.Add(new Mirps.Regional.V1.AcceptedApproval
            { Country = "BLZ", GroupId = Populations, Period = "2023", EntrySequence = 1 }));
        Assert.Equal(MirpsExchange.Cli.CliApp.Refused, belize.Code);
        Assert.Contains("accepted BLZ's POPULATIONS 2023 (its approval at entry 1), but entry 1 of BLZ's lifecycle log is not an approval", belize.Error);

        var head = await VerifyForgedAsync("head-altered", p => p.LifecycleHeads[0].EntryHash = ByteString.CopyFrom(new byte[32]));
        Assert.Equal(MirpsExchange.Cli.CliApp.Refused, head.Code);
        Assert.Contains("PAN's lifecycle log up to entry", head.Error);

        // The acceptances come from the Secretariat's signed decision log, and the list must name each one the figures rest on.
        var dropped = await VerifyForgedAsync("acceptance-dropped", p => p.Acceptances.Clear());
        Assert.Equal(MirpsExchange.Cli.CliApp.Refused, dropped.Code);
        Assert.Contains("leaves out the Secretariat's acceptance of PAN's POPULATIONS 2023", dropped.Error);
    }

    /// <summary>PAN's cell (or <paramref name="country"/>'s) as <paramref name="client"/>'s node answers, once it is in <paramref name="state"/> (or after 30 s, as it stands).</summary>
    internal static async Task<ApprovalCell> WhenAsync(ApprovalService.ApprovalServiceClient client, ApprovalState state, string group = Populations, string period = "2023",
        string country = "PAN")
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var cell = Assert.Single((await client.GetApprovalStatusAsync(Cell(group, period, country))).Cells);
            if (cell.State == state || DateTime.UtcNow > deadline)
            {
                Assert.Equal(state, cell.State);
                return cell;
            }
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_State_approves_the_Secretariat_accepts_a_revision_marks_the_cell_changed_until_approved_again()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        var secretariatView = Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope);
        var acceptor = Approvals(secretariat, await SharedIdentity.ApproverAsync(""));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", sex: "F", value: 120)));

        // A draft, then approved on PAN's node: one signed entry anchored to PAN's log as it stands (changes 1 and 2).
        Assert.Equal(ApprovalState.Draft, Assert.Single((await state.GetApprovalStatusAsync(Cell())).Cells).State);
        var approved = await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        var cell = Assert.Single(approved.Cells);
        Assert.Equal(ApprovalState.Approved, cell.State);
        Assert.Equal(2, cell.LogSequence);
        var entry = Assert.Single(approved.Entries);
        Assert.Equal((1, LifecycleAction.Approve, 64), (entry.EntrySequence, entry.Action, entry.Signature.Length));

        // It replicates like data: the Secretariat verifies it and sees the cell approved, then accepts it.
        await WhenAsync(secretariatView, ApprovalState.Approved);
        var accepted = Assert.Single((await acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } })).Cells);
        Assert.Equal(ApprovalState.Accepted, accepted.State);
        Assert.Equal(ApprovalState.Accepted, (await WhenAsync(secretariatView, ApprovalState.Accepted)).State);

        // A revision after the approval: changed since approval, at the origin and at the Secretariat, naming the key changed.
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240)));
        var changed = await WhenAsync(state, ApprovalState.ChangedSinceApproval);
        var key = Assert.Single(changed.ChangedKeys);
        Assert.Equal(("REFUGEES", "_T"), (key.IndicatorCode, key.Sex));
        Assert.Single((await WhenAsync(secretariatView, ApprovalState.ChangedSinceApproval)).ChangedKeys);
        // ... which the Secretariat cannot accept, nothing recorded.
        var acceptances = secretariat.CountRows(Decisions);
        await RpcAssert.ReasonAsync(() => acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } }).ResponseAsync,
            StatusCode.FailedPrecondition, "CHANGED_SINCE_APPROVAL");
        Assert.Equal(acceptances, secretariat.CountRows(Decisions));

        // Approved again: the earlier acceptance was of the earlier approval, so the cell is approved, not accepted.
        var again = Assert.Single((await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } })).Cells);
        Assert.Equal((ApprovalState.Approved, 3L, 0), (again.State, again.LogSequence, again.ChangedKeys.Count));
        await WhenAsync(secretariatView, ApprovalState.Approved);

        // The Secretariat rejects it with a reason; the State withdraws its approval with one.
        var rejected = Assert.Single((await acceptor.RejectDataAsync(new RejectDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" }, Reason = "the breakdown by age is missing" })).Cells);
        Assert.Equal((ApprovalState.Rejected, "the breakdown by age is missing"), (rejected.State, rejected.Reason));
        var unapproved = await state.UnapproveDataAsync(new UnapproveDataRequest { GroupIds = { Populations }, Periods = { "2023" }, Reason = "adding the age breakdown" });
        Assert.Equal((ApprovalState.Draft, "adding the age breakdown"), (Assert.Single(unapproved.Cells).State, Assert.Single(unapproved.Cells).Reason));
        Assert.Equal("adding the age breakdown", (await WhenAsync(secretariatView, ApprovalState.Draft)).Reason);
        Assert.Equal(3L, secretariat.CountRows(PanEntries));
        Assert.Equal(2L, secretariat.CountRows(Decisions)); // the acceptance and the rejection, in the Secretariat's signed decision log
    }

    [Fact]
    public async Task Bulk_approval_of_many_groups_and_periods_is_one_call_and_one_signed_entry_per_cell()
    {
        await using var pan = await TestNode.StartAsync("PAN");
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));

        var response = await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations, Asylum }, Periods = { "2022", "2023", "2023-Q1" } });

        Assert.Equal(6, response.Cells.Count);
        Assert.All(response.Cells, c => Assert.Equal(ApprovalState.Approved, c.State));
        Assert.Equal([1L, 2, 3, 4, 5, 6], response.Entries.Select(e => e.EntrySequence));
        // A chain: each entry names the hash of the one before.
        for (var i = 1; i < response.Entries.Count; i++)
        {
            Assert.Equal(LifecycleEntrySignature.Hash(response.Entries[i - 1]), response.Entries[i].PreviousHash.ToByteArray());
        }
        Assert.Equal(6L, pan.CountRows("lifecycle_entries"));
        var listed = await state.GetApprovalStatusAsync(new GetApprovalStatusRequest());
        Assert.Equal(6, listed.Cells.Count(c => c.State == ApprovalState.Approved));
    }

    /// <summary>
    /// The approver reviews PAN's figures at change 1; a revision is committed before the approval (another clerk, a national
    /// system). Approving with the sequence reviewed is refused, naming the cell, with nothing approved (a cell unchanged since
    /// is not approved either: all or nothing); approving at the sequence now reviewed approves, and without it approves as before.
    /// </summary>
    [Fact]
    public async Task An_approval_names_the_change_reviewed_and_a_change_slipped_in_since_is_not_approved_silently()
    {
        await using var pan = await TestNode.StartAsync("PAN");
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        const long reviewed = 1;
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 250))); // slipped in: change 2

        var refused = await RpcAssert.ReasonAsync(() => state.ApproveDataAsync(new ApproveDataRequest
            { GroupIds = { Populations, Asylum }, Periods = { "2023" }, ReviewedLogSequence = reviewed }).ResponseAsync, StatusCode.FailedPrecondition, "CHANGED_SINCE_REVIEW");
        Assert.Equal("PAN/POPULATIONS/2023", refused.Metadata["cells"]);
        Assert.Equal(0L, pan.CountRows("lifecycle_entries"));
        await RpcAssert.InvalidArgumentAsync(() => state.ApproveDataAsync(new ApproveDataRequest
            { GroupIds = { Populations }, Periods = { "2023" }, ReviewedLogSequence = -1 }).ResponseAsync, "reviewed_log_sequence");

        var approved = Assert.Single((await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" }, ReviewedLogSequence = 2 })).Cells);
        Assert.Equal((ApprovalState.Approved, 2L), (approved.State, approved.LogSequence));
        Assert.Equal(ApprovalState.Approved, Assert.Single((await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Asylum }, Periods = { "2023" } })).Cells).State);
        Assert.Equal(2L, pan.CountRows("lifecycle_entries"));
    }

    [Fact]
    public async Task Bad_input_is_refused_with_a_field_violation_and_nothing_changes()
    {
        await using var pan = await TestNode.StartAsync("PAN");
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        var acceptor = Approvals(secretariat, await SharedIdentity.ApproverAsync(""));

        await RpcAssert.InvalidArgumentAsync(() => state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations, "DECISIONS" }, Periods = { "2023" } }).ResponseAsync, "group_ids[1]");
        await RpcAssert.InvalidArgumentAsync(() => state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023-13" } }).ResponseAsync, "periods[0]");
        await RpcAssert.InvalidArgumentAsync(() => state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023", "2999" } }).ResponseAsync, "periods[1]");
        await RpcAssert.InvalidArgumentAsync(() => state.ApproveDataAsync(new ApproveDataRequest { Periods = { "2023" } }).ResponseAsync, "group_ids");
        await RpcAssert.InvalidArgumentAsync(() => state.UnapproveDataAsync(new UnapproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } }).ResponseAsync, "reason");
        // Unapproving, accepting or rejecting a draft.
        await RpcAssert.ReasonAsync(() => state.UnapproveDataAsync(new UnapproveDataRequest { GroupIds = { Populations }, Periods = { "2023" }, Reason = "r" }).ResponseAsync,
            StatusCode.FailedPrecondition, "NOT_APPROVED");
        await RpcAssert.ReasonAsync(() => acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } }).ResponseAsync,
            StatusCode.FailedPrecondition, "NOT_APPROVED");
        await RpcAssert.InvalidArgumentAsync(() => acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "XXX", GroupIds = { Populations }, Periods = { "2023" } }).ResponseAsync, "country");
        await RpcAssert.InvalidArgumentAsync(() => acceptor.RejectDataAsync(new RejectDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } }).ResponseAsync, "reason");
        // One good cell beside a bad one: nothing of the call is written.
        await RpcAssert.InvalidArgumentAsync(() => state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023", "2023-Q5" } }).ResponseAsync, "periods[1]");

        Assert.Equal(0L, pan.CountRows("lifecycle_entries"));
        Assert.Equal(0L, secretariat.CountRows(Decisions));
    }

    [Fact]
    public async Task An_unapproval_reason_with_a_control_character_is_refused()
    {
        await using var pan = await TestNode.StartAsync("PAN");
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });

        // A NUL (which PostgreSQL text cannot hold, stalling every node that receives the entry), another control
        // character, or a bidi override: the note rule, refused before anything is signed.
        foreach (var reason in new[] { "figures\0revised", "figures\u001b[2Jrevised", "figures \u202Edesiver", "figures\r\nrevised" })
        {
            var violation = await RpcAssert.InvalidArgumentAsync(
                () => state.UnapproveDataAsync(new UnapproveDataRequest { GroupIds = { Populations }, Periods = { "2023" }, Reason = reason }).ResponseAsync, "reason");
            Assert.Contains("U+", violation.Description);
        }
        Assert.Equal(1L, pan.CountRows("lifecycle_entries"));
        // Tab and line feed stay allowed.
        await state.UnapproveDataAsync(new UnapproveDataRequest { GroupIds = { Populations }, Periods = { "2023" }, Reason = "figures\trevised\nby the ministry" });
        Assert.Equal(2L, pan.CountRows("lifecycle_entries"));
    }

    /// <summary>
    /// The receiving side of the rule above: an entry signed with PAN's own key (a State whose node skipped the check, or a
    /// thief of its key) carrying a NUL in its reason is refused by the Secretariat as invalid content, and the page holding it does not apply.
    /// </summary>
    [Fact]
    public async Task A_signed_entry_whose_reason_holds_a_control_character_is_refused_by_receivers()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Asylum }, Periods = { "2023" } });
        var asSecretariat = pan.ChannelWith(pan.TokensFor(await SharedIdentity.CredentialAsync("")).ToCallCredentials());
        var (changes, heads) = await ReadLogAsync(asSecretariat);
        var truth = (await new ApprovalService.ApprovalServiceClient(asSecretariat).ListLifecycleEntriesAsync(new ListLifecycleEntriesRequest { Origin = "PAN" })).Entries.ToList();
        using var panKey = await TestLogKeys.KeyAsync(pan.Identity, "PAN");
        var forged = truth.Select(e => e.Clone()).ToList();
        forged[1].Action = LifecycleAction.Unapprove;
        forged[1].GroupId = Populations;
        forged[1].Reason = "withdrawn\0";
        LifecycleEntrySignature.Sign(forged[1], panKey, forged[1].KeyId);

        await using var relay = await MaliciousPeer.StartAsync("CRI");
        relay.Holds = changes[^1].OriginSequence;
        relay.Script = after => after >= changes[^1].OriginSequence ? [] :
            [new StreamChangesResponse { Changes = { changes.Where(c => c.OriginSequence > after) }, Heads = { heads.Where(h => h.Sequence > after) }, LastSequence = changes[^1].OriginSequence }];
        relay.Lifecycle = after => forged.Where(e => e.EntrySequence > after);
        await using var secretariat = await SecretariatAsync(pan.Folder, relay.Peer);
        var peer = await MaliciousPeer.PullAsync(secretariat, relay.Address,
            p => p.LastError.StartsWith("INVALID_CONTENT", StringComparison.Ordinal));
        Assert.StartsWith("INVALID_CONTENT", peer.LastError);
        Assert.Equal(0L, secretariat.CountRows("lifecycle_entries")); // the page is verified whole before any of it applies
    }

    [Fact]
    public async Task A_State_cannot_approve_for_another_nor_accept_and_approving_needs_the_approve_permission()
    {
        await using var pan = await TestNode.StartAsync("PAN");
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var request = new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } };
        var (blzApprover, panApprover, secretariatApprover) = (await SharedIdentity.ApproverAsync("BLZ"), await SharedIdentity.ApproverAsync("PAN"), await SharedIdentity.ApproverAsync(""));
        var accept = new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } };

        // Belize's approver, with a token for PAN's node, approving PAN's figures.
        await RpcAssert.ReasonAsync(() => Approvals(pan, blzApprover).ApproveDataAsync(request).ResponseAsync,
            StatusCode.PermissionDenied, "COUNTRY_MISMATCH");
        // PAN's own submitting credential: no approve permission, so no token with the scope, and its usual token is refused.
        var (status, _) = await pan.Identity.RequestTokenAsync(pan.Credential, ApproveScopes, MirpsAuth.NodeAudience("PAN"));
        Assert.Equal(400, status);
        await RpcAssert.ReasonAsync(() => Approvals(pan, pan.Credential, $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}").ApproveDataAsync(request).ResponseAsync,
            StatusCode.PermissionDenied, "MISSING_SCOPE");
        // The Secretariat approving for PAN.
        await RpcAssert.ReasonAsync(() => Approvals(pan, secretariatApprover).ApproveDataAsync(request).ResponseAsync,
            StatusCode.PermissionDenied, "ROLE_NOT_ALLOWED");
        Assert.Equal(0L, pan.CountRows("lifecycle_entries"));

        // PAN approves; then PAN's approver accepting its own approval, at the Secretariat and on its own node.
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(request);
        await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved);
        await RpcAssert.ReasonAsync(() => Approvals(secretariat, panApprover).AcceptDataAsync(accept).ResponseAsync,
            StatusCode.PermissionDenied, "ROLE_NOT_ALLOWED");
        await RpcAssert.ReasonAsync(() => Approvals(pan, panApprover).AcceptDataAsync(accept).ResponseAsync,
            StatusCode.PermissionDenied, "ROLE_NOT_ALLOWED");
        // The Secretariat's approver accepting on PAN's node, where its decision does not live.
        await RpcAssert.ReasonAsync(() => Approvals(pan, secretariatApprover).AcceptDataAsync(accept).ResponseAsync,
            StatusCode.PermissionDenied, "COUNTRY_MISMATCH");
        Assert.Equal(0L, secretariat.CountRows(Decisions));
        Assert.Equal(0L, pan.CountRows(Decisions));
    }

    /// <summary>
    /// A relay (saying it is CRI's node) serves PAN's true change log and a forged lifecycle log: an entry altered, one made up
    /// with Belize's own registered key, one left out in the middle. The Secretariat stores none of it and reports the peer
    /// failing with the reason; served PAN's true entries, it stores them.
    /// </summary>
    [Fact]
    public async Task A_relay_cannot_forge_alter_or_leave_out_an_approval()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Asylum }, Periods = { "2023" } });
        var asSecretariat = pan.ChannelWith(pan.TokensFor(await SharedIdentity.CredentialAsync("")).ToCallCredentials());
        var (changes, heads) = await ReadLogAsync(asSecretariat);
        var truth = (await new ApprovalService.ApprovalServiceClient(asSecretariat).ListLifecycleEntriesAsync(new ListLifecycleEntriesRequest { Origin = "PAN" })).Entries.ToList();
        Assert.Equal(2, truth.Count);
        using var blz = await TestLogKeys.KeyAsync(pan.Identity, "BLZ");

        var altered = truth.Select(e => e.Clone()).ToList();
        altered[0].Period = "2022"; // approving a period PAN did not
        var madeUp = truth.Select(e => e.Clone()).ToList();
        madeUp[0].Action = LifecycleAction.Unapprove;
        madeUp[0].Reason = "withdrawn";
        LifecycleEntrySignature.Sign(madeUp[0], blz, LogKeys.KeyId(blz.ExportSubjectPublicKeyInfo()));
        var leftOut = truth.Skip(1).ToList();

        foreach (var (forged, reason) in new[] { (altered, "SIGNATURE_INVALID"), (madeUp, "UNKNOWN_SIGNING_KEY"), (leftOut, "CHAIN_BROKEN") })
        {
            await using var relay = await MaliciousPeer.StartAsync("CRI");
            relay.Holds = changes[^1].OriginSequence;
            relay.Script = after => after >= changes[^1].OriginSequence ? [] :
                [new StreamChangesResponse { Changes = { changes.Where(c => c.OriginSequence > after) }, Heads = { heads.Where(h => h.Sequence > after) }, LastSequence = changes[^1].OriginSequence }];
            relay.Lifecycle = after => forged.Where(e => e.EntrySequence > after);
            await using var secretariat = await SecretariatAsync(pan.Folder, relay.Peer);

            // Changes and lifecycle entries are pulled by two loops: PAN's own change first, then the refusal.
            await MaliciousPeer.PullAsync(secretariat, relay.Address, _ => secretariat.CountRows("observations") == 1L);
            var peer = await MaliciousPeer.PullAsync(secretariat, relay.Address, p => p.LastError.StartsWith(reason, StringComparison.Ordinal));
            Assert.StartsWith(reason, peer.LastError);
            Assert.Equal(0L, secretariat.CountRows("lifecycle_entries"));
            Assert.Equal(1L, secretariat.CountRows("observations")); // the changes themselves were PAN's own, and verified

            relay.Lifecycle = after => truth.Where(e => e.EntrySequence > after);
            await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved, Asylum);
            Assert.Equal(2L, secretariat.CountRows("lifecycle_entries"));
        }
    }

    /// <summary>
    /// Whoever holds PAN's rotated-away log key (kept on disk as .retired-&lt;kid&gt;.pem, published until the admin retires it),
    /// relaying PAN, appends entries to PAN's lifecycle log anchored to a change before the rotation, where that key still
    /// signed: one right after PAN's last old-key entry, dated after the rotation; one after PAN's first new-key entry,
    /// anchored back before it; one anchored at the rotation's own change, dated after it. The Secretariat, holding the
    /// rotation, stores none of them; served PAN's true log, it stores PAN's own next entry (not CHAIN_BROKEN).
    /// </summary>
    [Fact]
    public async Task A_thief_of_a_rotated_away_log_key_cannot_append_to_the_lifecycle_log()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        var keyFile = Path.Combine(pan.Folder, "data", "log-signing-key-pan.pem");
        var old = pan.Services.GetRequiredService<MirpsExchange.Node.ChangeLog.OriginSigning>().Signer.KeyId;
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } }); // entry 1, old key, change 1
        var rotate = await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", keyFile);
        Assert.True(rotate.Code == MirpsExchange.Cli.CliApp.Ok, rotate.Error + rotate.Output);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", sex: "F", value: 120))); // change 2 and the rotation head
        using var stolen = ECDsa.Create();
        stolen.ImportFromPem(File.ReadAllText(MirpsExchange.Node.ChangeLog.LogSigner.RetiredKeyFile(keyFile, old)));
        var asSecretariat = pan.ChannelWith(pan.TokensFor(await SharedIdentity.CredentialAsync("")).ToCallCredentials());
        var (changes, heads) = await ReadLogAsync(asSecretariat);
        Assert.Contains(heads, h => h.Kind == LogHeadKind.KeyRotation && h.Sequence == 2 && h.KeyId == old);
        var lifecycle = new ApprovalService.ApprovalServiceClient(asSecretariat);
        var first = Assert.Single((await lifecycle.ListLifecycleEntriesAsync(new ListLifecycleEntriesRequest { Origin = "PAN" })).Entries);
        LifecycleEntry Forge(LifecycleEntry previous, long anchor, ByteString anchorHash, Google.Protobuf.WellKnownTypes.Timestamp time)
        {
            var entry = new LifecycleEntry
            {
                Origin = "PAN", EntrySequence = previous.EntrySequence + 1, PreviousHash = ByteString.CopyFrom(LifecycleEntrySignature.Hash(previous)),
                GroupId = Populations, Period = "2023", Action = LifecycleAction.Unapprove, LogSequence = anchor, LogHash = anchorHash,
                Reason = "withdrawn", Actor = previous.Actor, RecordedTime = time,
            };
            LifecycleEntrySignature.Sign(entry, stolen, old);
            return entry;
        }
        var afterOld = Forge(first, 1, first.LogHash, Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow));

        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Asylum }, Periods = { "2023" } }); // entry 2, new key, change 2
        var truth = (await lifecycle.ListLifecycleEntriesAsync(new ListLifecycleEntriesRequest { Origin = "PAN" })).Entries.ToList();
        Assert.Equal((2, 2L), (truth.Count, truth[1].LogSequence));
        Assert.NotEqual(old, truth[1].KeyId);
        var anchoredBack = Forge(truth[1], 1, first.LogHash, truth[1].RecordedTime);
        var atRotation = Forge(truth[1], 2, truth[1].LogHash, truth[1].RecordedTime);

        foreach (var (forged, reason) in new[]
        {
            (new List<LifecycleEntry> { first, afterOld }, "UNKNOWN_SIGNING_KEY"),
            ([.. truth, anchoredBack], "CHAIN_BROKEN"),
            ([.. truth, atRotation], "UNKNOWN_SIGNING_KEY"),
        })
        {
            await using var relay = await MaliciousPeer.StartAsync("CRI");
            relay.Holds = changes[^1].OriginSequence;
            relay.Script = after => after >= changes[^1].OriginSequence ? [] :
                [new StreamChangesResponse { Changes = { changes.Where(c => c.OriginSequence > after) }, Heads = { heads.Where(h => h.Sequence > after) }, LastSequence = changes[^1].OriginSequence }];
            relay.Lifecycle = after => forged.Where(e => e.EntrySequence > after);
            await using var secretariat = await SecretariatAsync(pan.Folder, relay.Peer);

            // Changes and lifecycle entries are pulled by two loops: PAN's own changes first, then the refusal (once the change
            // loop has caught up it no longer reports the pull healthy over the lifecycle loop's refusal).
            await MaliciousPeer.PullAsync(secretariat, relay.Address, _ => secretariat.CountRows("observations") == 2L);
            var peer = await MaliciousPeer.PullAsync(secretariat, relay.Address, p => p.LastError.StartsWith(reason, StringComparison.Ordinal));
            Assert.StartsWith(reason, peer.LastError);
            Assert.Equal(0L, secretariat.CountRows("lifecycle_entries")); // nothing of a page that holds a forgery
            Assert.Equal(2L, secretariat.CountRows("observations"));

            relay.Lifecycle = after => truth.Where(e => e.EntrySequence > after);
            await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved, Asylum);
            // Approved at change 1, revised at change 2: changed since approval, not unapproved as the thief wrote.
            await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.ChangedSinceApproval);
            Assert.Equal(2L, secretariat.CountRows("lifecycle_entries"));
        }
    }

    /// <summary>
    /// Costa Rica approves its released 2023 figures, then revises them under embargo. Guatemala and the Secretariat, polling
    /// Costa Rica's approval status at its node, still read the cell approved (as their queries still read the released
    /// figure): "changed since approval" would tell them which group and period was revised, and when. Costa Rica reads it changed.
    /// </summary>
    [Fact]
    public async Task Another_State_polling_the_approval_status_learns_nothing_of_an_embargoed_revision()
    {
        var store = Path.Combine(Path.GetTempPath(), $"mirps-approval-embargo-{Guid.NewGuid():N}.db");
        try
        {
            await using (var released = await TestNode.StartAsync("CRI", null, ShareWithAll))
            {
                await released.Observations.SubmitObservationsAsync(Submit(Refugees("CRI", value: 240)));
                await Approvals(released, await SharedIdentity.ApproverAsync("CRI")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
                released.CopyStoreTo(store);
            }
            await using var cri = await TestNode.StartOnStoreAsync(store, "CRI", null,
                SharingPolicyTests.Policy(("Default", "Readers", "all"), ("REFUGEES", "ReleaseTime", DateTimeOffset.UtcNow.AddDays(1).ToString("O"))));
            var request = new GetApprovalStatusRequest { Countries = { "CRI" }, GroupIds = { Populations }, Periods = { "2023" } };
            await cri.Observations.SubmitObservationsAsync(Submit(Refugees("CRI", value: 300))); // the revision under embargo

            foreach (var reader in new[] { "GTM", "" })
            {
                var cell = Assert.Single((await Approvals(cri, await SharedIdentity.CredentialAsync(reader), MirpsAuth.ReadScope).GetApprovalStatusAsync(request)).Cells);
                Assert.Equal((ApprovalState.Approved, 0), (cell.State, cell.ChangedKeys.Count));
            }
            var own = Assert.Single((await Approvals(cri, await SharedIdentity.ApproverAsync("CRI")).GetApprovalStatusAsync(request)).Cells);
            Assert.Equal(ApprovalState.ChangedSinceApproval, own.State);
            Assert.Equal("REFUGEES", Assert.Single(own.ChangedKeys).IndicatorCode);
        }
        finally
        {
            File.Delete(store);
        }
    }

    /// <summary>
    /// PAN's policy holds drafts back until approval (Node:Sharing:Default:HoldDrafts): Belize (a reader PAN shares with) and
    /// the Secretariat receive nothing of a draft, from queries or the feed, until PAN approves; a revision after the approval
    /// is a draft again, while the approved revision stays where it was received.
    /// </summary>
    [Fact]
    public async Task A_policy_holds_drafts_back_from_other_States_and_the_Secretariat_until_approval()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll, "--Node:Sharing:Default:HoldDrafts=true");
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        using var belizeTokens = pan.TokensFor(await SharedIdentity.CredentialAsync("BLZ"));
        var belize = new ObservationService.ObservationServiceClient(pan.ChannelWith(belizeTokens.ToCallCredentials()));
        async Task<List<double>> BelizeReadsAsync(Google.Protobuf.WellKnownTypes.Timestamp? asOf = null)
        {
            using var call = belize.StreamObservations(new StreamObservationsRequest { Countries = { "PAN" }, AsOfTime = asOf });
            var values = new List<double>();
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                values.AddRange(message.Observations.Select(o => o.Observation.Value));
            }
            return [.. values.Order()];
        }
        async Task<long> SecretariatHoldsAsync(long sequence, long observations)
        {
            var client = new SyncService.SyncServiceClient(secretariat.Channel);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (((await client.GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.SingleOrDefault(o => o.Origin == "PAN")?.LatestSequence ?? 0) < sequence
                || secretariat.CountRows("observations") < observations)
            {
                if (DateTime.UtcNow > deadline)
                {
                    break;
                }
                await Task.Delay(100);
            }
            return secretariat.CountRows("observations");
        }

        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", sex: "F", value: 120)));
        Assert.Empty(await BelizeReadsAsync());
        Assert.Equal(0L, await SecretariatHoldsAsync(2, 0)); // the Secretariat holds PAN's log to change 2, as placeholders
        Assert.Equal(2L, secretariat.CountRows("withheld_changes"));

        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        Assert.Equal([120, 230], await BelizeReadsAsync());
        Assert.Equal(2L, await SecretariatHoldsAsync(2, 2));

        // A revision after the approval is a draft: Belize keeps reading the approved value, now and as of now, as its history
        // shows it (the key vanishing would tell that a held revision exists); a new key held back is not found. The Secretariat
        // keeps the approved value.
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240), Refugees("PAN", age: "Y0T4", value: 110)));
        Assert.Equal([120, 230], await BelizeReadsAsync());
        Assert.Equal([120, 230], await BelizeReadsAsync(Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow)));
        Assert.Equal([230.0], (await belize.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees("PAN")) })).Revisions.Select(r => r.Observation.Value));
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(async () =>
            await belize.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees("PAN", age: "Y0T4")) }))).StatusCode);
        Assert.Equal(ApprovalState.Approved, Assert.Single((await Approvals(pan, await SharedIdentity.CredentialAsync("BLZ"), MirpsAuth.ReadScope).GetApprovalStatusAsync(Cell())).Cells).State);
        await SecretariatHoldsAsync(4, 2);
        Assert.Equal(2L, secretariat.CountRows("observations"));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        Assert.Equal([110, 120, 240], await BelizeReadsAsync());
        Assert.Equal(4L, await SecretariatHoldsAsync(4, 4));
    }

    /// <summary>
    /// Issue 15: PAN holds its drafts back from other States but shows them to the Secretariat, so it can follow the work
    /// (Node:Sharing:Default:ShowDraftsToSecretariat). Belize, with valid credentials, gets nothing of a draft: not from PAN's
    /// queries, not from PAN's feed, and not through a relay (the Secretariat's node, or Costa Rica's, a third State's, both
    /// pulling PAN). The Secretariat reads it at PAN's node, and its node holds the draft whole (the hold is signed with it), yet
    /// serves Belize nothing of it, in queries or in its feed, until it holds PAN's approval. Once PAN approves, Belize reads it everywhere.
    /// </summary>
    [Fact]
    public async Task A_policy_showing_drafts_to_the_Secretariat_still_holds_them_from_other_States_at_the_origin_and_every_relay()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll, "--Node:Sharing:Default:HoldDrafts=true", "--Node:Sharing:Default:ShowDraftsToSecretariat=true");
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        await using var cri = await CostaRicaPullingPanAsync(pan.Folder, pan.Peer);
        var belize = await SharedIdentity.CredentialAsync("BLZ");
        using var belizeAtPan = pan.TokensFor(belize);
        using var belizeAtCri = cri.TokensFor(belize);
        using var secretariatAtPan = pan.TokensFor(await SharedIdentity.CredentialAsync(""));
        var channels = new Dictionary<string, GrpcChannel>
        {
            ["PAN"] = pan.ChannelWith(belizeAtPan.ToCallCredentials()),
            ["CRI"] = cri.ChannelWith(belizeAtCri.ToCallCredentials()),
            ["the Secretariat"] = AuthenticatedChannel.Create(new Uri(secretariat.Address),
                new TokenClient(secretariat.Identity.Http, secretariat.Identity.TokenEndpoint, belize, MirpsAuth.ReadScope, MirpsAuth.NodeAudience(MirpsAuth.Secretariat))),
        };
        static async Task<List<double>> ReadsAsync(GrpcChannel channel)
        {
            using var call = new ObservationService.ObservationServiceClient(channel).StreamObservations(new StreamObservationsRequest { Countries = { "PAN" } });
            var values = new List<double>();
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                values.AddRange(message.Observations.Select(o => o.Observation.Value));
            }
            return [.. values.Order()];
        }
        // What a node's feed of PAN's log serves Belize whole, once the node holds PAN's log up to `sequence`.
        static async Task<List<double>> FeedAsync(GrpcChannel channel, long sequence)
        {
            var sync = new SyncService.SyncServiceClient(channel);
            for (var deadline = DateTime.UtcNow.AddSeconds(30); ((await sync.GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.SingleOrDefault(o => o.Origin == "PAN")?.LatestSequence ?? 0) < sequence;
                await Task.Delay(100))
            {
                Assert.True(DateTime.UtcNow < deadline, $"the node never held PAN's log to change {sequence}");
            }
            using var call = sync.StreamChanges(new StreamChangesRequest { Origin = "PAN" }, deadline: DateTime.UtcNow.AddSeconds(30));
            var values = new List<double>();
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                values.AddRange(message.Changes.Where(c => c.Withholding == Withholding.Unspecified).Select(c => c.Observation.Value));
            }
            return [.. values.Order()];
        }

        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        foreach (var (node, channel) in channels)
        {
            Assert.True((await ReadsAsync(channel)).Count == 0, $"Belize read PAN's draft at {node}'s node");
            Assert.True((await FeedAsync(channel, 1)).Count == 0, $"{node}'s feed served Belize PAN's draft");
        }
        Assert.Equal([230.0], await ReadsAsync(pan.ChannelWith(secretariatAtPan.ToCallCredentials())));
        Assert.Equal(1L, secretariat.CountRows("observations")); // the draft itself, shown to the Secretariat: its node relays it to no State
        Assert.True((await ReadsAsync(channels["the Secretariat"])).Count == 0, "Belize read PAN's draft at the Secretariat's node");

        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        Assert.Equal([230.0], await ReadsAsync(channels["PAN"]));
        foreach (var (node, channel) in channels)
        {
            for (var deadline = DateTime.UtcNow.AddSeconds(30); !(await FeedAsync(channel, 1)).SequenceEqual([230.0]); await Task.Delay(200))
            {
                Assert.True(DateTime.UtcNow < deadline, $"{node}'s feed never served Belize PAN's approved change");
            }
        }
    }

    /// <summary>
    /// Issue 15: the drafts PAN shows to the Secretariat reach the Secretariat's node, where its analysts work: the Secretariat reads
    /// them there as drafts (regional value and completeness say DRAFT; approved-only leaves them out). Costa Rica pulls PAN only
    /// through the Secretariat's node and receives nothing of the draft until PAN approves; then the approved change comes through it.
    /// </summary>
    [Fact]
    public async Task Drafts_shown_to_the_Secretariat_reach_its_node_as_drafts_and_another_State_through_it_only_once_approved()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll, "--Node:Sharing:Default:HoldDrafts=true", "--Node:Sharing:Default:ShowDraftsToSecretariat=true");
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        await using var cri = await CostaRicaPullingPanAsync(pan.Folder, (secretariat.Address, "secretariat"));
        var secretariatView = Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope);

        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        Task<Mirps.Regional.V1.GetRegionalValueResponse> ValueAsync(Mirps.Regional.V1.LifecycleFilter filter) => secretariat.Regional.GetRegionalValueAsync(
            new Mirps.Regional.V1.GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023", Lifecycle = filter }).ResponseAsync;
        var draft = Assert.Single((await UntilAsync(() => ValueAsync(Mirps.Regional.V1.LifecycleFilter.Unspecified), r => r.Cells.Count == 1 && r.Cells[0].Value == 230)).Cells);
        Assert.Equal(230, draft.Value);
        Assert.Equal([("PAN", ApprovalState.Draft)], draft.LifecycleStates.Select(l => (l.Country, l.State)));
        Assert.DoesNotContain("PAN", (await ValueAsync(Mirps.Regional.V1.LifecycleFilter.Approved)).Cells.SelectMany(c => c.ContributingCountries));
        var matrix = (await secretariat.Regional.GetCompletenessAsync(new Mirps.Regional.V1.GetCompletenessRequest
            { IndicatorCodes = { "REFUGEES" }, PeriodFrom = "2023", PeriodTo = "2023" })).Cells.ToDictionary(c => c.Country);
        Assert.Equal(ApprovalState.Draft, matrix["PAN"].ApprovalState);
        Assert.Equal(1L, secretariat.CountRows("observations"));

        // Costa Rica follows PAN's log through the Secretariat's node: change 1 arrives as a placeholder, asked for again.
        var criSync = new SyncService.SyncServiceClient(cri.Channel);
        await UntilAsync(async () => (await criSync.GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.SingleOrDefault(o => o.Origin == "PAN")?.LatestSequence ?? 0, s => s >= 1);
        Assert.Equal(1L, cri.CountRows("withheld_changes"));
        Assert.Equal(0L, cri.CountRows("observations"));

        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await WhenAsync(secretariatView, ApprovalState.Approved);
        Assert.Equal(1L, await UntilAsync(() => Task.FromResult(cri.CountRows("observations")), n => n == 1));
        Assert.Equal(0L, cri.CountRows("withheld_changes"));
        using var call = cri.Observations.StreamObservations(new StreamObservationsRequest { Countries = { "PAN" } });
        var values = new List<double>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            values.AddRange(message.Observations.Select(o => o.Observation.Value));
        }
        Assert.Equal([230.0], values);
        Assert.Equal([("PAN", ApprovalState.Approved)], Assert.Single((await ValueAsync(Mirps.Regional.V1.LifecycleFilter.Approved)).Cells).LifecycleStates.Select(l => (l.Country, l.State)));
    }

    /// <summary>
    /// The Secretariat's regional value says per cell which lifecycle state each contributing State's figures are in, and can be
    /// asked for approved-only or accepted-only figures; the completeness matrix shows draft / approved / accepted / changed.
    /// </summary>
    [Fact]
    public async Task Regional_figures_follow_the_lifecycle_approved_only_accepted_only_and_the_completeness_matrix()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await using var secretariat = await SecretariatOfAsync(pan, blz);
        var secretariatView = Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await blz.Observations.SubmitObservationsAsync(Submit(Refugees("BLZ", value: 240)));
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await WhenAsync(secretariatView, ApprovalState.Approved);
        async Task<Mirps.Regional.V1.RegionalCell> ValueAsync(Mirps.Regional.V1.LifecycleFilter filter, double expected)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                var cell = Assert.Single((await secretariat.Regional.GetRegionalValueAsync(new Mirps.Regional.V1.GetRegionalValueRequest
                    { IndicatorCode = "REFUGEES", Period = "2023", Lifecycle = filter })).Cells);
                if (cell.Value == expected || DateTime.UtcNow > deadline)
                {
                    Assert.Equal(expected, cell.Value);
                    return cell;
                }
                await Task.Delay(100);
            }
        }

        var all = await ValueAsync(Mirps.Regional.V1.LifecycleFilter.Unspecified, 470);
        Assert.Equal([("BLZ", ApprovalState.Draft), ("PAN", ApprovalState.Approved)], all.LifecycleStates.Select(l => (l.Country, l.State)).OrderBy(x => x.Country));
        var approvedOnly = await ValueAsync(Mirps.Regional.V1.LifecycleFilter.Approved, 230);
        Assert.Equal(["PAN"], approvedOnly.ContributingCountries);
        Assert.Contains("BLZ", approvedOnly.MissingCountries);
        Assert.Empty((await ValueAsync(Mirps.Regional.V1.LifecycleFilter.Accepted, 0)).ContributingCountries);

        await Approvals(secretariat, await SharedIdentity.ApproverAsync("")).AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } });
        Assert.Equal(["PAN"], (await ValueAsync(Mirps.Regional.V1.LifecycleFilter.Accepted, 230)).ContributingCountries);
        var matrix = (await secretariat.Regional.GetCompletenessAsync(new Mirps.Regional.V1.GetCompletenessRequest
            { IndicatorCodes = { "REFUGEES" }, PeriodFrom = "2023", PeriodTo = "2023" })).Cells.ToDictionary(c => c.Country);
        Assert.Equal((ApprovalState.Accepted, ApprovalState.Draft), (matrix["PAN"].ApprovalState, matrix["BLZ"].ApprovalState));

        // PAN revises: its figure no longer counts as approved or accepted, and the matrix says why.
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 250)));
        await WhenAsync(secretariatView, ApprovalState.ChangedSinceApproval);
        Assert.Empty((await ValueAsync(Mirps.Regional.V1.LifecycleFilter.Approved, 0)).ContributingCountries);
        matrix = (await secretariat.Regional.GetCompletenessAsync(new Mirps.Regional.V1.GetCompletenessRequest
            { IndicatorCodes = { "REFUGEES" }, PeriodFrom = "2023", PeriodTo = "2023" })).Cells.ToDictionary(c => c.Country);
        Assert.Equal(ApprovalState.ChangedSinceApproval, matrix["PAN"].ApprovalState);
    }

    /// <summary>
    /// The Secretariat's calendar (POPULATIONS by quarter, due 45 days after the quarter, Belize 30 more): PAN approved two
    /// quarters ago's figures late and this quarter's on time; Belize approved nothing: overdue two quarters ago, not due yet
    /// this quarter until a test clock moves past its extended due date. Timeliness rates per State; the completeness matrix
    /// says the same; a group or range the calendar lacks is refused.
    /// </summary>
    /// <summary>
    /// PAN's node signs its entries with its own clock: set 30 days back (Node:ClockOffset), an approval made after the due
    /// date carries a recorded time before it. The Secretariat judges it by when it received the entry, not by that claim.
    /// </summary>
    [Fact]
    public async Task A_backdated_approval_is_judged_by_when_the_Secretariat_received_it()
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var current = new MirpsExchange.Catalogue.Periods.Period(Mirps.Catalog.V1.PeriodGranularity.Quarter, today.Year, (today.Month - 1) / 3 + 1);
        var earlier = current.Previous().Previous(); // ended at least three months ago
        var dueDays = today.DayNumber - earlier.End.DayNumber - 10; // due ten days ago: within the 30 days PAN's clock is set back
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll, "--Node:ClockOffset=-30.00:00:00");
        var file = Path.Combine(pan.Folder, $"secretariat-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        await using var secretariat = await TestSecretariat.StartAsync(
            $"--Node:Credential={file}", "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={pan.Address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN",
            "--Calendar:Rules:0:GroupId=POPULATIONS", "--Calendar:Rules:0:Granularity=quarter", $"--Calendar:Rules:0:DueDays={dueDays}");
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", earlier.ToString(), 230)));
        var approved = await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { earlier.ToString() } });
        Assert.True(Assert.Single(approved.Entries).RecordedTime.ToDateTime() < earlier.End.AddDays(dueDays).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)); // the claim: on time
        await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved, Populations, earlier.ToString());

        var cell = Assert.Single((await secretariat.Regional.GetTimelinessAsync(new Mirps.Regional.V1.GetTimelinessRequest
            { Countries = { "PAN" }, PeriodFrom = earlier.ToString(), PeriodTo = earlier.ToString() })).Cells);
        Assert.Equal(Mirps.Regional.V1.Timeliness.Late, cell.Timeliness);
        Assert.InRange(cell.DaysLate, 10, 11);
        var matrix = Assert.Single((await secretariat.Regional.GetCompletenessAsync(new Mirps.Regional.V1.GetCompletenessRequest
            { IndicatorCodes = { "REFUGEES" }, PeriodFrom = earlier.ToString(), PeriodTo = earlier.ToString(), Granularity = Mirps.Catalog.V1.PeriodGranularity.Quarter })).Cells, c => c.Country == "PAN");
        Assert.Equal(Mirps.Regional.V1.Timeliness.Late, matrix.Timeliness);
    }

    [Fact]
    public async Task The_reporting_calendar_judges_each_State_on_time_late_or_overdue()
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var current = new MirpsExchange.Catalogue.Periods.Period(Mirps.Catalog.V1.PeriodGranularity.Quarter, today.Year, (today.Month - 1) / 3 + 1);
        var earlier = current.Previous().Previous(); // ended at least three months ago: due 45 days after, long passed
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        var file = Path.Combine(pan.Folder, $"secretariat-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        await using var secretariat = await TestSecretariat.StartAsync(
            $"--Node:Credential={file}", "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={pan.Address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN",
            $"--Node:Peers:1:Address={blz.Address}", "--Node:Peers:1:Country=BLZ", "--Node:Peers:1:Origins:0=BLZ",
            "--Calendar:Rules:0:GroupId=POPULATIONS", "--Calendar:Rules:0:Granularity=quarter", "--Calendar:Rules:0:DueDays=45", "--Calendar:Rules:0:Extensions:BLZ=30");
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", earlier.ToString(), 230), Refugees("PAN", current.ToString(), 231)));
        await blz.Observations.SubmitObservationsAsync(Submit(Refugees("BLZ", earlier.ToString(), 240)));
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { earlier.ToString(), current.ToString() } });
        await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved, Populations, current.ToString());

        var calendar = await secretariat.Regional.GetReportingCalendarAsync(new Mirps.Regional.V1.GetReportingCalendarRequest());
        var rule = Assert.Single(calendar.Rules);
        Assert.Equal((Populations, 45, "BLZ", 30), (rule.GroupId, rule.DueDays, Assert.Single(rule.Extensions).Country, rule.Extensions[0].ExtraDays));

        async Task<Mirps.Regional.V1.GetTimelinessResponse> TimelinessAsync(MirpsExchange.Catalogue.Periods.Period period) =>
            await secretariat.Regional.GetTimelinessAsync(new Mirps.Regional.V1.GetTimelinessRequest { Countries = { "PAN", "BLZ" }, PeriodFrom = period.ToString(), PeriodTo = period.ToString() });
        var before = await TimelinessAsync(earlier);
        var cells = before.Cells.ToDictionary(c => c.Country);
        Assert.Equal(Mirps.Regional.V1.Timeliness.Late, cells["PAN"].Timeliness);
        Assert.Equal((today.ToDateTime(TimeOnly.MinValue) - earlier.End.AddDays(46).ToDateTime(TimeOnly.MinValue)).Days + 1, cells["PAN"].DaysLate);
        Assert.Equal(earlier.End.AddDays(45).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), cells["PAN"].DueDate);
        Assert.Equal((Mirps.Regional.V1.Timeliness.Overdue, earlier.End.AddDays(75).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)),
            (cells["BLZ"].Timeliness, cells["BLZ"].DueDate));
        Assert.All(before.States, s => Assert.Equal((1, 0.0), (s.DueCount, s.Rate)));

        var now = await TimelinessAsync(current);
        cells = now.Cells.ToDictionary(c => c.Country);
        Assert.Equal((Mirps.Regional.V1.Timeliness.OnTime, Mirps.Regional.V1.Timeliness.NotDue), (cells["PAN"].Timeliness, cells["BLZ"].Timeliness));
        var states = now.States.ToDictionary(s => s.Country);
        Assert.Equal(1.0, states["PAN"].Rate);
        Assert.False(states["BLZ"].HasRate); // nothing due yet

        // A test clock past Belize's extended due date (this quarter's end + 75 days): overdue by 2 days; PAN stays on time.
        secretariat.Clock.Pinned = new DateTimeOffset(current.End.AddDays(77).ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero);
        try
        {
            cells = (await TimelinessAsync(current)).Cells.ToDictionary(c => c.Country);
        }
        finally
        {
            secretariat.Clock.Pinned = null;
        }
        Assert.Equal((Mirps.Regional.V1.Timeliness.OnTime, Mirps.Regional.V1.Timeliness.Overdue, 2), (cells["PAN"].Timeliness, cells["BLZ"].Timeliness, cells["BLZ"].DaysLate));

        // The completeness matrix says the same per indicator.
        var matrix = (await secretariat.Regional.GetCompletenessAsync(new Mirps.Regional.V1.GetCompletenessRequest
            { IndicatorCodes = { "REFUGEES" }, PeriodFrom = earlier.ToString(), PeriodTo = earlier.ToString(), Granularity = Mirps.Catalog.V1.PeriodGranularity.Quarter })).Cells.ToDictionary(c => c.Country);
        Assert.Equal((Mirps.Regional.V1.Timeliness.Late, Mirps.Regional.V1.Timeliness.Overdue), (matrix["PAN"].Timeliness, matrix["BLZ"].Timeliness));

        // mirps regional timeliness prints the same.
        var (code, output, error) = await CliRunner.RunAsync("regional", "timeliness", "--from", earlier.ToString(), "--country", "PAN", "--country", "BLZ",
            "--secretariat", secretariat.Address, "--identity", secretariat.Identity.Issuer, "--credential", file);
        Assert.True(code == MirpsExchange.Cli.CliApp.Ok, error);
        Assert.Contains("PAN: timeliness 0", output);
        Assert.Contains($"  PAN POPULATIONS {earlier} due {earlier.End.AddDays(45):yyyy-MM-dd}: late by ", output);
        Assert.Contains($"  BLZ POPULATIONS {earlier} due ", output);
        Assert.Contains("overdue by ", output);

        // A group the calendar has no due date for, and a range holding none of its periods.
        await RpcAssert.InvalidArgumentAsync(() => secretariat.Regional.GetTimelinessAsync(new Mirps.Regional.V1.GetTimelinessRequest
            { GroupIds = { Asylum }, PeriodFrom = "2023", PeriodTo = "2023" }).ResponseAsync, "group_ids[0]");
        await RpcAssert.InvalidArgumentAsync(() => secretariat.Regional.GetTimelinessAsync(new Mirps.Regional.V1.GetTimelinessRequest
            { PeriodFrom = "2023-01", PeriodTo = "2023-02" }).ResponseAsync, "period_from");
    }

    /// <summary><paramref name="origin"/>'s whole signed log as the node of <paramref name="channel"/> serves it: its changes and heads.</summary>
    internal static async Task<(List<StoredObservation> Changes, List<LogHead> Heads)> ReadLogAsync(GrpcChannel channel, string origin = "PAN")
    {
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = origin }, deadline: DateTime.UtcNow.AddSeconds(30));
        var (changes, heads) = (new List<StoredObservation>(), new List<LogHead>());
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            changes.AddRange(message.Changes.Select(NodeQueries.AsSigned));
            heads.AddRange(message.Heads);
        }
        return (changes, heads);
    }
}
