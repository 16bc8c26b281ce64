using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Approval.V1;
using Mirps.Auth;
using Mirps.Regional.V1;
using MirpsExchange.Cli;
using MirpsExchange.Cli.Commands;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// `mirps regional verify` takes the Secretariat's accept and reject decisions from its signed decision log (origin
/// `secretariat`) up to the head the export's provenance names, never from the provenance's list of acceptances (review
/// finding 2): whoever edits an export (the Secretariat itself, or anyone passing it on) cannot make a State's figures count as
/// accepted when the Secretariat never signed that acceptance, rejected the approval, or signed it only after the export's cut.
/// Real processes: PAN's and Belize's nodes, the Secretariat pulling both, the CLI as a person runs it.
/// </summary>
public class RegionalVerifyDecisionLogTests
{
    private const string Populations = "POPULATIONS";

    [Fact]
    public async Task An_export_claiming_an_acceptance_the_Secretariat_never_signed_rejected_or_signed_after_its_head_does_not_verify()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await using var secretariat = await ApprovalTests.SecretariatOfAsync(pan, blz);
        var view = ApprovalTests.Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope);
        var acceptor = ApprovalTests.Approvals(secretariat, await SharedIdentity.ApproverAsync(""));
        var belize = ApprovalTests.Approvals(blz, await SharedIdentity.ApproverAsync("BLZ"));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await blz.Observations.SubmitObservationsAsync(Submit(Refugees("BLZ", value: 240)));
        await ApprovalTests.Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await belize.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await ApprovalTests.WhenAsync(view, ApprovalState.Approved);
        await ApprovalTests.WhenAsync(view, ApprovalState.Approved, country: "BLZ");
        await acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } }); // decision 1
        await ApprovalTests.UntilAsync(() => secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023" }).ResponseAsync,
            r => r.Cells[0].ContributingCountries.Count == 2);

        var credential = Path.Combine(secretariat.Folder, "reader.json");
        OwnerOnlyFile.WriteAllText(credential, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        string[] args = ["--identity", secretariat.Identity.Issuer, "--credential", credential, "--secretariat", secretariat.Address];
        string[] verifyArgs = ["--node", secretariat.Address, "--identity", secretariat.Identity.Issuer, "--credential", credential];
        async Task<(string File, ExportProvenance Provenance)> ExportAsync(string name, string? lifecycle)
        {
            var file = Path.Combine(secretariat.Folder, name + ".csv");
            var export = await CliRunner.RunAsync(["regional", "export", "--indicator", "REFUGEES", "--period", "2023", .. lifecycle is null ? Array.Empty<string>() : ["--lifecycle", lifecycle],
                "--out", file, .. args]);
            Assert.True(export.Code == CliApp.Ok, export.Error + export.Output);
            return (file, ExportProvenance.Parser.ParseJson(await File.ReadAllTextAsync(RegionalVerify.ProvenanceFile(file))));
        }
        var forgeries = 0;
        async Task<(int Code, string Output, string Error)> VerifyAsync(string figures, ExportProvenance provenance)
        {
            var copy = Path.Combine(secretariat.Folder, $"forged-{++forgeries}.csv");
            File.Copy(figures, copy);
            await File.WriteAllTextAsync(RegionalVerify.ProvenanceFile(copy), RegionalVerify.Json.Format(provenance));
            return await CliRunner.RunAsync(["regional", "verify", copy, .. verifyArgs]);
        }
        static ExportProvenance Claiming(ExportProvenance provenance, long belizeApproval)
        {
            var forged = provenance.Clone();
            forged.Acceptances.Add(new AcceptedApproval { Country = "BLZ", GroupId = Populations, Period = "2023", EntrySequence = belizeApproval });
            return forged;
        }

        // PAN accepted, Belize approved only: the accepted-only figure is PAN's, and the provenance names the decision log's head.
        var (accepted, provenance) = await ExportAsync("accepted-1", "accepted");
        Assert.Contains("their sum is 230", await File.ReadAllTextAsync(accepted));
        Assert.Equal(["BLZ", "PAN", MirpsAuth.Secretariat], provenance.LifecycleHeads.Select(h => h.Origin)); // the States in the catalogue's order, then the decision log
        Assert.Equal(1, provenance.LifecycleHeads.Single(h => h.Origin == MirpsAuth.Secretariat).EntrySequence);
        var honest = await CliRunner.RunAsync(["regional", "verify", accepted, .. verifyArgs]);
        Assert.True(honest.Code == CliApp.Ok, honest.Error + honest.Output);
        // Every State's current figures (no filter): what the forger wants the accepted-only export to say, PAN's and Belize's 470.
        var (everything, _) = await ExportAsync("everything", null);
        Assert.Contains("their sum is 470", await File.ReadAllTextAsync(everything));

        // 1. Forged: an acceptance of Belize's real approval that the Secretariat never signed, with the figures it would give.
        var never = await VerifyAsync(everything, Claiming(provenance, 1));
        Assert.Equal(CliApp.Refused, never.Code);
        Assert.Contains("accepted BLZ's POPULATIONS 2023 (its approval at entry 1)", never.Error);
        Assert.Contains("holds no decision on that cell", never.Error);

        // 2. A rejection rewritten as an acceptance.
        await acceptor.RejectDataAsync(new RejectDataRequest { Country = "BLZ", GroupIds = { Populations }, Periods = { "2023" }, Reason = "the age breakdown is missing" }); // decision 2
        var (_, afterRejection) = await ExportAsync("accepted-2", "accepted");
        Assert.Equal(2, afterRejection.LifecycleHeads.Single(h => h.Origin == MirpsAuth.Secretariat).EntrySequence);
        var rewritten = await VerifyAsync(everything, Claiming(afterRejection, 1));
        Assert.Equal(CliApp.Refused, rewritten.Code);
        Assert.Contains("is entry 2, a rejection of BLZ's approval at entry 1", rewritten.Error);
        Assert.DoesNotContain("the age breakdown is missing", rewritten.Error); // a rejection's reason is the State's and the Secretariat's business
        // The rejection counts in an approved-only figure too: Belize is left out, and that export verifies from the signed decision.
        var (approved, _) = await ExportAsync("approved", "approved");
        Assert.Contains("their sum is 230", await File.ReadAllTextAsync(approved));
        var approvedVerified = await CliRunner.RunAsync(["regional", "verify", approved, .. verifyArgs]);
        Assert.True(approvedVerified.Code == CliApp.Ok, approvedVerified.Error + approvedVerified.Output);

        // 3. Belize approves again (its entry 2) and the Secretariat accepts that (decision 3): an honest export verifies, listing both acceptances.
        await belize.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await ApprovalTests.WhenAsync(view, ApprovalState.Approved, country: "BLZ");
        await acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "BLZ", GroupIds = { Populations }, Periods = { "2023" } });
        var (both, bothProvenance) = await ExportAsync("accepted-3", "accepted");
        Assert.Equal(2, bothProvenance.Acceptances.Count);
        var bothVerified = await CliRunner.RunAsync(["regional", "verify", both, .. verifyArgs]);
        Assert.True(bothVerified.Code == CliApp.Ok, bothVerified.Error + bothVerified.Output);
        // ... but not with the decision log's head put back before that acceptance: the acceptance is a decision beyond the head named.
        var backdated = bothProvenance.Clone();
        var head = backdated.LifecycleHeads.Single(h => h.Origin == MirpsAuth.Secretariat);
        head.MergeFrom(afterRejection.LifecycleHeads.Single(h => h.Origin == MirpsAuth.Secretariat));
        var beyond = await VerifyAsync(both, backdated);
        Assert.Equal(CliApp.Refused, beyond.Code);
        // (the head named is not the last decision recorded by the export's as-of time: decision 3 was)
        Assert.Contains("head named (entry 2) stops before entry 3, which the Secretariat recorded by the export's as-of time", beyond.Error);

        // The list is checked against the signed log both ways: an acceptance the figures rest on cannot be left out of it either.
        var dropped = bothProvenance.Clone();
        dropped.Acceptances.Remove(dropped.Acceptances.Single(a => a.Country == "BLZ"));
        var droppedResult = await VerifyAsync(both, dropped);
        Assert.Equal(CliApp.Refused, droppedResult.Code);
        Assert.Contains("leaves out the Secretariat's acceptance of BLZ's POPULATIONS 2023 (its approval at entry 2)", droppedResult.Error);

        // Without the decision log's head, nothing the Secretariat decided can be read: its acceptances are not taken on the export's word.
        var headless = bothProvenance.Clone();
        headless.LifecycleHeads.Remove(headless.LifecycleHeads.Single(h => h.Origin == MirpsAuth.Secretariat));
        var headlessResult = await VerifyAsync(both, headless);
        Assert.Equal(CliApp.Refused, headlessResult.Code);
        Assert.Contains("names no head of the Secretariat's decision log", headlessResult.Error);

        // Hostile review of the merges (finding 2): the Secretariat then rejects PAN (decision 4). An export as of after that rejection
        // that names the decision log's head before it (entry 3) would count PAN as accepted: the head must be the last decision
        // recorded by the as-of time, and the node holds decision 4, recorded by then.
        await acceptor.RejectDataAsync(new RejectDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" }, Reason = "the totals do not add up" });
        var (_, afterPanRejection) = await ExportAsync("accepted-4", "accepted");
        Assert.Equal(4, afterPanRejection.LifecycleHeads.Single(h => h.Origin == MirpsAuth.Secretariat).EntrySequence);
        var stale = bothProvenance.Clone();
        stale.AsOfTime = afterPanRejection.AsOfTime;
        var staleResult = await VerifyAsync(both, stale);
        Assert.True(staleResult.Code == CliApp.Refused, staleResult.Error + staleResult.Output);
        Assert.Contains("stops before entry 4", staleResult.Error);
    }

    /// <summary>
    /// Second hostile review, finding 7: verify reads the decision log beyond the export's head only to say when an acceptance
    /// claimed came after the cut. It checked those later entries against the catalogue verify runs with, so a later decision on a
    /// group that catalogue does not hold (a group a later catalogue added, or one it removed) made an honest export fail to verify
    /// (INVALID_CONTENT). Beyond the head, the chain and the Secretariat's signature are enough: the export verifies, and an entry
    /// there that the Secretariat did not sign still refuses it.
    /// </summary>
    [Fact]
    public async Task A_later_decision_on_a_group_the_verifiers_catalogue_does_not_hold_does_not_fail_an_earlier_export()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await using var secretariat = await ApprovalTests.SecretariatOfAsync(pan, blz);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await ApprovalTests.Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await ApprovalTests.WhenAsync(ApprovalTests.Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved);
        var accepted = Assert.Single((await ApprovalTests.Approvals(secretariat, await SharedIdentity.ApproverAsync(""))
            .AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } })).Entries);

        var (file, args) = await ApprovalTests.ExportAcceptedAsync(secretariat);
        Assert.Equal(1, ExportProvenance.Parser.ParseJson(await File.ReadAllTextAsync(RegionalVerify.ProvenanceFile(file))).LifecycleHeads.Single(h => h.Origin == MirpsAuth.Secretariat).EntrySequence);

        // After the export, the Secretariat decides on a group the catalogue verify runs with does not hold (signed with its key, chained).
        using var key = await TestLogKeys.KeyAsync(secretariat.Identity, MirpsAuth.Secretariat);
        var later = accepted.Clone();
        later.EntrySequence = 2;
        later.PreviousHash = Google.Protobuf.ByteString.CopyFrom(Mirps.Log.LifecycleEntrySignature.Hash(accepted));
        later.GroupId = "GROUP_OF_ANOTHER_CATALOGUE";
        later.RecordedTime = MirpsExchange.Node.Store.StoreTime.ToTimestamp(MirpsExchange.Node.Store.StoreTime.ToMicros(DateTimeOffset.UtcNow.AddSeconds(1)));
        Mirps.Log.LifecycleEntrySignature.Sign(later, key, accepted.KeyId);
        async Task<(int Code, string Output, string Error)> VerifyWithSecondDecisionAsync(Mirps.Observation.V1.LifecycleEntry entry)
        {
            await using (var scope = secretariat.Services.CreateAsyncScope())
            {
                var log = scope.ServiceProvider.GetRequiredService<MirpsExchange.Node.Approval.LifecycleLog>();
                secretariat.Execute("DELETE FROM lifecycle_entries WHERE origin = 'secretariat' AND entry_sequence = 2");
                Assert.Equal(1, await log.ApplyAsync(MirpsAuth.Secretariat, [(entry, Mirps.Log.LifecycleEntrySignature.Hash(entry))], CancellationToken.None));
            }
            return await CliRunner.RunAsync(["regional", "verify", file, "--node", secretariat.Address, .. args]);
        }
        var verified = await VerifyWithSecondDecisionAsync(later);
        Assert.True(verified.Code == CliApp.Ok, verified.Error + verified.Output);

        // Beyond the head, an entry the Secretariat did not sign as served still refuses the export.
        var altered = later.Clone();
        altered.Period = "2022";
        var refused = await VerifyWithSecondDecisionAsync(altered);
        Assert.True(refused.Code == CliApp.Refused, refused.Error + refused.Output);
        Assert.Contains("secretariat's lifecycle entry 2 does not verify", refused.Error);
    }

    /// <summary>
    /// A provenance naming the decision log's head twice (or a State's lifecycle head twice) is refused with a clear message, not
    /// a crash of verify's scratch store (review finding 5).
    /// </summary>
    [Fact]
    public async Task A_provenance_naming_a_lifecycle_head_twice_is_refused_clearly()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await using var secretariat = await ApprovalTests.SecretariatOfAsync(pan, blz);
        var view = ApprovalTests.Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await ApprovalTests.Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await ApprovalTests.WhenAsync(view, ApprovalState.Approved);
        await ApprovalTests.Approvals(secretariat, await SharedIdentity.ApproverAsync("")).AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } });

        var (file, args) = await ApprovalTests.ExportAcceptedAsync(secretariat);
        var provenance = ExportProvenance.Parser.ParseJson(await File.ReadAllTextAsync(RegionalVerify.ProvenanceFile(file)));
        foreach (var origin in new[] { MirpsAuth.Secretariat, "PAN" })
        {
            var twice = provenance.Clone();
            twice.LifecycleHeads.Add(twice.LifecycleHeads.Single(h => h.Origin == origin).Clone());
            await File.WriteAllTextAsync(RegionalVerify.ProvenanceFile(file), RegionalVerify.Json.Format(twice));
            var result = await CliRunner.RunAsync(["regional", "verify", file, "--node", secretariat.Address, .. args]);
            Assert.True(result.Code == CliApp.Refused, result.Error + result.Output);
            Assert.Contains($"the provenance names two heads of {origin}'s lifecycle log", result.Error);
        }
    }
}
