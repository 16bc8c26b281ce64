using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Approval.V1;
using Mirps.Auth;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using Mirps.Sync.V1;
using MirpsExchange.Cli;
using MirpsExchange.Cli.Commands;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// `mirps regional verify` checks a State's lifecycle entries as a replica does, including the two rules it lacked (docs/security.md,
/// the hostile review of 2026-12-07, point 5): an entry signed with a key the State's change log rotated away, dated after the rotation
/// or following an entry of the next key (a thief of the old key, still published until the admin retires it); and an approval whose
/// anchor is not the change log verify read (the State approving, to the Secretariat, a log other than the one it ships: a fork).
/// The node verify reads is a hostile relay serving PAN's true change log and a lifecycle log with the forged entry at its end.
/// </summary>
public class RegionalVerifyLifecycleTests
{
    private const string Populations = "POPULATIONS", Asylum = "ASYLUM_PROCEDURES";

    [Fact]
    public async Task Verify_refuses_a_lifecycle_entry_of_a_rotated_away_key_and_an_approval_of_another_log_as_a_replica_does()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await using var secretariat = await ApprovalTests.SecretariatOfAsync(pan, blz);
        var keyFile = Path.Combine(pan.Folder, "data", "log-signing-key-pan.pem");
        var old = pan.Services.GetRequiredService<MirpsExchange.Node.ChangeLog.OriginSigning>().Signer.KeyId;
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = ApprovalTests.Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } }); // entry 1, old key, change 1
        var rotate = await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", keyFile);
        Assert.True(rotate.Code == CliApp.Ok, rotate.Error + rotate.Output);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", sex: "F", value: 120))); // change 2 and the rotation head
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Asylum }, Periods = { "2023" } }); // entry 2, new key, change 2
        var view = ApprovalTests.Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope);
        await ApprovalTests.WhenAsync(view, ApprovalState.Approved, Asylum);

        var asSecretariat = pan.ChannelWith(pan.TokensFor(await SharedIdentity.CredentialAsync("")).ToCallCredentials());
        var (changes, heads) = await ApprovalTests.ReadLogAsync(asSecretariat);
        Assert.Contains(heads, h => h.Kind == LogHeadKind.KeyRotation && h.Sequence == 2 && h.KeyId == old);
        var truth = (await new ApprovalService.ApprovalServiceClient(asSecretariat).ListLifecycleEntriesAsync(new ListLifecycleEntriesRequest { Origin = "PAN" })).Entries.ToList();
        Assert.Equal((2, 2L), (truth.Count, truth[1].LogSequence));
        var current = pan.Services.GetRequiredService<MirpsExchange.Node.ChangeLog.OriginSigning>().Signer.KeyId;
        Assert.NotEqual(old, current);

        var credential = Path.Combine(secretariat.Folder, "reader.json");
        OwnerOnlyFile.WriteAllText(credential, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        var figures = Path.Combine(secretariat.Folder, "refugees.csv");
        var export = await CliRunner.RunAsync(["regional", "export", "--indicator", "REFUGEES", "--period", "2023", "--lifecycle", "approved", "--out", figures,
            "--secretariat", secretariat.Address, "--identity", secretariat.Identity.Issuer, "--credential", credential]);
        Assert.True(export.Code == CliApp.Ok, export.Error + export.Output);
        var provenance = ExportProvenance.Parser.ParseJson(await File.ReadAllTextAsync(RegionalVerify.ProvenanceFile(figures)));
        Assert.Equal(2, provenance.LifecycleHeads.Single(h => h.Origin == "PAN").EntrySequence);

        // The relay verify reads: PAN's true change log, and the lifecycle log given.
        await using var relay = await MaliciousPeer.StartAsync("CRI");
        (relay.Holds, relay.Head) = (changes[^1].OriginSequence, heads[^1]);
        relay.Script = after => after >= changes[^1].OriginSequence ? [] :
            [new StreamChangesResponse { Changes = { changes.Where(c => c.OriginSequence > after) }, Heads = { heads.Where(h => h.Sequence > after) }, LastSequence = changes[^1].OriginSequence }];
        var forgeries = 0;
        async Task<(int Code, string Output, string Error)> VerifyAsync(params LifecycleEntry[] lifecycle)
        {
            relay.Lifecycle = after => lifecycle.Where(e => e.EntrySequence > after);
            relay.LifecycleOrigin = "PAN";
            var named = provenance.Clone();
            var head = named.LifecycleHeads.Single(h => h.Origin == "PAN");
            (head.EntrySequence, head.EntryHash) = (lifecycle[^1].EntrySequence, ByteString.CopyFrom(LifecycleEntrySignature.Hash(lifecycle[^1])));
            var copy = Path.Combine(secretariat.Folder, $"forged-{++forgeries}.csv");
            File.Copy(figures, copy);
            await File.WriteAllTextAsync(RegionalVerify.ProvenanceFile(copy), RegionalVerify.Json.Format(named));
            return await CliRunner.RunAsync(["regional", "verify", copy, "--node", relay.Address, "--identity", secretariat.Identity.Issuer, "--credential", credential]);
        }
        LifecycleEntry Forge(LifecycleEntry previous, ECDsa key, string keyId, long anchor, ByteString anchorHash, Google.Protobuf.WellKnownTypes.Timestamp time)
        {
            var entry = new LifecycleEntry
            {
                Origin = "PAN", EntrySequence = previous.EntrySequence + 1, PreviousHash = ByteString.CopyFrom(LifecycleEntrySignature.Hash(previous)),
                GroupId = Populations, Period = "2023", Action = LifecycleAction.Unapprove, LogSequence = anchor, LogHash = anchorHash,
                Reason = "withdrawn", Actor = previous.Actor, RecordedTime = time,
            };
            LifecycleEntrySignature.Sign(entry, key, keyId);
            return entry;
        }

        // The honest lifecycle log, through the relay: verifies (so what follows fails for the forged entry alone).
        var honest = await VerifyAsync([.. truth]);
        Assert.True(honest.Code == CliApp.Ok, honest.Error + honest.Output);

        // 1. A thief of the rotated-away key appends an entry anchored at the rotation's own change (where that key still signed),
        // after PAN's first entry of the next key.
        using var stolen = ECDsa.Create();
        stolen.ImportFromPem(File.ReadAllText(MirpsExchange.Node.ChangeLog.LogSigner.RetiredKeyFile(keyFile, old)));
        var thief = await VerifyAsync([.. truth, Forge(truth[1], stolen, old, 2, truth[1].LogHash, truth[1].RecordedTime)]);
        Assert.True(thief.Code == CliApp.Refused, thief.Error + thief.Output);
        Assert.Contains($"PAN's lifecycle entry 3 is signed with key \"{old}\", which PAN handed over at change 2", thief.Error);

        // 2. PAN itself (its current key) approves a change 2 that is not the one its change log holds: a fork verify must not take.
        using var own = ECDsa.Create();
        own.ImportFromPem(File.ReadAllText(keyFile));
        var fork = Forge(truth[1], own, current, 2, ByteString.CopyFrom(RandomNumberGenerator.GetBytes(32)), Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow));
        var forked = await VerifyAsync([.. truth, fork]);
        Assert.True(forked.Code == CliApp.Refused, forked.Error + forked.Output);
        Assert.Contains("PAN's lifecycle entry 3 approves PAN's log at change 2 as a log that is not the one held here", forked.Error);

        // 3. ... or a change beyond the change log the export names.
        var ahead = Forge(truth[1], own, current, 3, truth[1].LogHash, Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow));
        var beyond = await VerifyAsync([.. truth, ahead]);
        Assert.True(beyond.Code == CliApp.Refused, beyond.Error + beyond.Output);
        Assert.Contains("PAN's lifecycle entry 3 approves PAN's log at change 3, beyond the head the export names (change 2)", beyond.Error);
    }
}
