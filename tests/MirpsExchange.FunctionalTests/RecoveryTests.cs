using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Sync;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.RecoveryFederation;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Issue 16, items 4 and 5: a State's node that lost its store, or was restored from an old backup, recovers its own
/// log from the Secretariat (verified against its published log keys) before it accepts a write, and its next submit
/// continues the sequence, which the Secretariat verifies and applies. Sources that hold less than another peer, or
/// that serve a forged history, are refused with nothing written.
/// </summary>
public class RecoveryTests
{
    [Fact]
    public async Task A_node_that_lost_its_store_recovers_its_log_from_the_Secretariat_and_its_next_submit_continues_the_sequence()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var address = $"http://127.0.0.1:{port}";
            var pan = await PanamaAsync($"--Node:Port={port}");
            await using var secretariat = await SecretariatAsync(folder, address);
            await SecretariatHoldsAsync(secretariat, 4);
            var before = PanLog(pan, asOwn: true);
            Assert.Equal(4, before.Count);
            await pan.DisposeAsync(); // its folder, store included, is gone: the disk is lost (the admin kept the log key's file)

            // A new, empty store, in recovery mode, on the same address; the Secretariat is its peer.
            await using var recovered = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:Recover=true", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            await RecoveredAsync(recovered);
            Assert.Equal(PanLog(secretariat), PanLog(recovered));
            Assert.Equal(before, PanLog(recovered, asOwn: true)); // its answers "as of" an earlier time read as before

            await ContinuesAsync(recovered, secretariat, 5);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task Without_recovery_mode_a_node_behind_its_peers_at_start_recovers_before_it_accepts_a_write()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            await pan.DisposeAsync();

            // No Node:Recover: the start-up check finds the Secretariat ahead, and the node recovers first.
            await using var restarted = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            await RecoveredAsync(restarted);
            await ContinuesAsync(restarted, secretariat, 5); // not 1: no sequence the Secretariat holds is reused
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_recovery_source_that_holds_less_than_another_peer_is_refused_with_nothing_written_and_writes_refused()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var (_, heads) = await OwnLogAsync(pan);
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            await pan.DisposeAsync();
            await using var behind = await MaliciousPeer.StartAsync("CRI");
            (behind.Holds, behind.Head) = (2, heads.First(h => h.Sequence == 2)); // CRI's node holds PAN's log up to change 2 only

            await using var recovering = await TestNode.StartAsync("PAN", null,
            [
                ShareWithAll, $"--Node:Port={port}", "--Node:Recover=true", $"--Node:RecoverFrom={behind.Address}",
                .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"), behind.Peer),
            ]);
            recovering.Errors.Expect("OriginRecoveryFailed");
            recovering.Errors.Expect("PeerPullFailed"); // its pull of BLZ from the hostile peer
            await RecoveredAsync(recovering);
            Assert.Equal(0, recovering.CountRows());
            await RpcAssert.ReasonAsync(() => recovering.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))).ResponseAsync,
                StatusCode.Unavailable, RecoveryState.Recovering);
            var state = recovering.Services.GetRequiredService<RecoveryState>().Refusal!;
            Assert.StartsWith(OriginRecovery.SourceBehind, state, StringComparison.Ordinal);
            Assert.Contains(secretariat.Address, state, StringComparison.Ordinal);
            Assert.Equal(0, recovering.CountRows());
            // Nor an approval: its entry sequence could be one the federation holds (equivocation).
            var approvals = ApprovalTests.Approvals(recovering, await SharedIdentity.ApproverAsync("PAN"));
            await RpcAssert.ReasonAsync(() => approvals.ApproveDataAsync(
                new Mirps.Approval.V1.ApproveDataRequest { GroupIds = { "POPULATIONS" }, Periods = { "2023" } }).ResponseAsync, StatusCode.Unavailable, RecoveryState.Recovering);
            Assert.Equal(0, recovering.CountRows("lifecycle_entries"));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>PAN's log as PAN's own node serves it to PAN (every change whole, with its heads): what a relay may serve it back.</summary>
    internal static async Task<(List<StoredObservation> Changes, List<LogHead> Heads)> OwnLogAsync(TestNode pan)
    {
        using var call = new SyncService.SyncServiceClient(pan.Channel).StreamChanges(new StreamChangesRequest { Origin = "PAN" }, deadline: DateTime.UtcNow.AddSeconds(30));
        var (changes, heads) = (new List<StoredObservation>(), new List<LogHead>());
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            changes.AddRange(message.Changes.Select(NodeQueries.AsSigned));
            heads.AddRange(message.Heads);
        }
        return (changes, heads);
    }

    /// <summary>What a relay holding <paramref name="changes"/> and <paramref name="heads"/> of PAN's log streams for <paramref name="request"/>.</summary>
    internal static IEnumerable<StreamChangesResponse> Serve(StreamChangesRequest request, List<StoredObservation> changes, List<LogHead> heads)
    {
        var after = changes.Where(c => c.OriginSequence > request.AfterSequence).ToList();
        if (request.Origin == "PAN" && after.Count > 0)
        {
            yield return new StreamChangesResponse { Changes = { after }, Heads = { heads.Where(h => h.Sequence > request.AfterSequence) }, LastSequence = after[^1].OriginSequence };
        }
    }

    [Fact]
    public async Task A_recovery_source_that_serves_a_forged_history_is_refused_with_nothing_written_and_writes_refused()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var (changes, heads) = await OwnLogAsync(pan);
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            await pan.DisposeAsync();

            // CRI's node holds PAN's whole log, it says, but serves change 2 with another value.
            changes[1].Observation.Value = 2300;
            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            (hostile.Holds, hostile.Head) = (4, heads[^1]); // PAN's true head: the claim is proven, the history served is not
            hostile.RequestScript = request => Serve(request, changes, heads);

            await using var recovering = await TestNode.StartAsync("PAN", null,
            [
                ShareWithAll, $"--Node:Port={port}", "--Node:Recover=true", $"--Node:RecoverFrom={hostile.Address}",
                .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"), hostile.Peer),
            ]);
            recovering.Errors.Expect("OriginRecovery");
            recovering.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(recovering);
            Assert.Equal(0, recovering.CountRows());
            Assert.Equal(0, recovering.CountRows("log_heads"));
            var state = recovering.Services.GetRequiredService<RecoveryState>().Refusal!;
            Assert.StartsWith(OriginRecovery.NoSource, state, StringComparison.Ordinal);
            Assert.Contains("CHAIN_BROKEN", state, StringComparison.Ordinal);
            await RpcAssert.ReasonAsync(() => recovering.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))).ResponseAsync,
                StatusCode.Unavailable, RecoveryState.Recovering);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_peer_that_serves_the_States_own_changes_as_placeholders_is_passed_over_and_the_node_recovers_their_content_from_the_Secretariat()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var (changes, heads) = await OwnLogAsync(pan);
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            await pan.DisposeAsync();

            // CRI's node, tried first, proves PAN's true head but serves every change of PAN's log as NOT_HELD: the chain verifies
            // (a placeholder carries its content digest), and a node that took them would hold sequences without content for good.
            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            (hostile.Holds, hostile.Head) = (4, heads[^1]);
            hostile.RequestScript = request => Serve(request, changes, heads)
                .Select(m => m.Changes.Select(c => c.OriginSequence).ToList().Aggregate(m, (message, sequence) => OriginFeeds.Relabel(message, sequence, Withholding.NotHeld)));

            await using var recovered = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:Recover=true", .. await PeersArgsAsync(folder, hostile.Peer, (secretariat.Address, "secretariat"))]);
            recovered.Errors.Expect("OriginRecoverySourceRefused");
            recovered.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(recovered);
            Assert.Contains(hostile.Streams, s => s.Origin == "PAN"); // it was asked first, and its answer refused
            Assert.Equal(0, recovered.CountRows("withheld_changes"));
            Assert.Equal(PanLog(secretariat), PanLog(recovered)); // the content, as the Secretariat holds it
            await ContinuesAsync(recovered, secretariat, 5);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// The other side of the rule above: a change no source holds whole (here embargoed, so the Secretariat holds it as a
    /// placeholder) is still taken as a placeholder once every source was asked for it whole, so the node does not stay
    /// write-refused for want of content nobody has; its sequence stays taken.
    /// </summary>
    [Fact]
    public async Task A_change_no_source_holds_whole_is_recovered_as_a_placeholder_and_the_next_submit_continues_the_sequence()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var embargo = $"--Node:Sharing:Indicators:ASYLUM_APPLICATIONS:ReleaseTime={DateTimeOffset.UtcNow.AddDays(30):O}";
            var pan = await PanamaAsync($"--Node:Port={port}", embargo);
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            Assert.Equal(1L, secretariat.CountRows("withheld_changes")); // change 3, embargoed
            await pan.DisposeAsync();

            await using var recovered = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, embargo, $"--Node:Port={port}", "--Node:Recover=true", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            recovered.Errors.Expect("OriginRecoverySourceRefused"); // asked whole first
            await RecoveredAsync(recovered);
            Assert.Null(recovered.Services.GetRequiredService<RecoveryState>().Refusal);
            Assert.Equal(["3"], recovered.Rows("SELECT origin_sequence FROM withheld_changes"));
            Assert.Equal(PanLog(secretariat), PanLog(recovered));
            await ContinuesAsync(recovered, secretariat, 5);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_peer_that_claims_more_of_the_log_than_it_can_prove_is_passed_over_and_the_node_recovers_from_the_Secretariat()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var (changes, heads) = await OwnLogAsync(pan);
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            await pan.DisposeAsync();

            // CRI's node says it holds PAN's log up to change 5: the true four, and a fifth it made up, signed with a key of its own.
            var forged = changes[^1].Clone();
            (forged.OriginSequence, forged.Revision, forged.Observation.Value) = (5, 3, 999);
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var head = heads[^1].Clone();
            head.Sequence = 5;
            Mirps.Log.LogHeadSignature.Sign(head, key, Mirps.Auth.LogKeys.KeyId(key.ExportSubjectPublicKeyInfo()));
            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            (hostile.Holds, hostile.Head) = (5, head);
            hostile.RequestScript = request => Serve(request, [.. changes, forged], [.. heads, head]);

            await using var recovered = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", .. await PeersArgsAsync(folder, hostile.Peer, (secretariat.Address, "secretariat"))]);
            recovered.Errors.Expect("OriginRecoverySourceRefused");
            recovered.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(recovered);
            Assert.DoesNotContain(hostile.Streams, s => s.Origin == "PAN"); // its head does not verify with PAN's published key: not believed
            Assert.Equal(PanLog(secretariat), PanLog(recovered));
            await ContinuesAsync(recovered, secretariat, 5); // the Secretariat verifies change 5 on PAN's chain: no fork
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_node_that_lost_its_log_key_too_recovers_with_the_published_key_and_signs_on_with_a_new_one_once_registered()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            await pan.DisposeAsync();

            // No key file: the node makes a new key at start. The log it recovers is verified with the published (lost) key.
            var keyFolder = Path.Combine(folder, "new-key");
            var newKey = Path.Combine(keyFolder, "log-signing-key-pan.pem");
            await using var recovered = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", $"--Node:LogSigningKeyFile={newKey}", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            await RecoveredAsync(recovered);
            Assert.Equal(PanLog(secretariat), PanLog(recovered));
            var next = await recovered.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300)));
            Assert.Equal(5, next.LastOriginSequence);

            // The admin registers the new key (`mirps credentials register-log-key`): the Secretariat then verifies change 5, signed with it.
            secretariat.Errors.Expect("PeerPullFailed"); // UNKNOWN_SIGNING_KEY until the key is registered
            var publicKey = System.Security.Cryptography.PemEncoding.Find(await File.ReadAllTextAsync(Path.Combine(keyFolder, "log-signing-key-pan.pub.pem")));
            var pem = await File.ReadAllTextAsync(Path.Combine(keyFolder, "log-signing-key-pan.pub.pem"));
            await recovered.Identity.Credentials.RegisterLogKeyAsync(new Mirps.Identity.V1.RegisterLogKeyRequest
            {
                Country = "PAN",
                PublicKey = Google.Protobuf.ByteString.CopyFrom(Convert.FromBase64String(pem[publicKey.Base64Data])),
            });
            await SecretariatHoldsAsync(secretariat, 5);
            Assert.Equal(PanLog(recovered), PanLog(secretariat));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// A peer that says it holds far more of PAN's log than anyone (nothing signed backs it), and would fail (UNAVAILABLE) or stay
    /// silent on every pull, does not keep PAN's writes refused: it is not believed, and the Secretariat's proven log is recovered.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_peer_claiming_more_than_it_proves_and_failing_every_pull_does_not_keep_writes_refused(bool silent)
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            await pan.DisposeAsync();

            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            hostile.Holds = long.MaxValue;
            (hostile.FailStreams, hostile.Silent) = (!silent, silent);

            await using var restarted = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:PeerStallTimeout=00:00:03",
                 .. await PeersArgsAsync(folder, hostile.Peer, (secretariat.Address, "secretariat"))]);
            restarted.Errors.Expect("OriginRecoverySourceRefused");
            restarted.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(restarted);
            Assert.DoesNotContain(hostile.Streams, s => s.Origin == "PAN"); // no head signed by PAN backs its claim: it is not asked
            Assert.Equal(PanLog(secretariat), PanLog(restarted));
            await ContinuesAsync(restarted, secretariat, 5);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// PAN restarts on its own, whole store (the Secretariat holds what it holds); a peer claims far more of PAN's log, with no
    /// head signed by PAN, and would fail every pull: it is not believed (not even asked), and PAN's writes resume with change 5.
    /// </summary>
    [Fact]
    public async Task A_peer_claiming_more_than_it_proves_cannot_hold_an_up_to_date_nodes_writes_refused()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            var store = Path.Combine(folder, "pan.db");
            pan.CopyStoreTo(store);
            await pan.DisposeAsync();

            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            (hostile.Holds, hostile.FailStreams) = (long.MaxValue, true);
            await using var restarted = await TestNode.StartOnStoreAsync(store, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", .. await PeersArgsAsync(folder, hostile.Peer, (secretariat.Address, "secretariat"))]);
            restarted.Errors.Expect("OriginRecoverySourceRefused");
            restarted.Errors.Expect("OriginRecoveryFailed");
            restarted.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(restarted);
            Assert.DoesNotContain(hostile.Streams, s => s.Origin == "PAN");
            await ContinuesAsync(restarted, secretariat, 5);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Under Node:Recover, PAN restarts on its whole store (log to change 4, as the Secretariat holds it). A peer claims to hold
    /// PAN's log far beyond, showing a genuine head of PAN's, but one at change 2, and fails every pull: a claim counts only as
    /// far as a head signed with PAN's published key covers it, so the peer is no source and cannot hold PAN's writes refused
    /// (before, it was tried until passed over, and under Node:Recover writes then stayed refused until a restart).
    /// </summary>
    [Fact]
    public async Task Under_recovery_mode_a_claim_beyond_the_signed_head_shown_neither_holds_writes_refused_nor_is_pulled()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var (_, heads) = await OwnLogAsync(pan);
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            await SecretariatHoldsAsync(secretariat, 4);
            var store = Path.Combine(folder, "pan.db");
            pan.CopyStoreTo(store);
            await pan.DisposeAsync();

            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            (hostile.Holds, hostile.Head, hostile.FailStreams) = (long.MaxValue, heads.First(h => h.Sequence == 2), true);
            await using var restarted = await TestNode.StartOnStoreAsync(store, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:Recover=true", .. await PeersArgsAsync(folder, hostile.Peer, (secretariat.Address, "secretariat"))]);
            restarted.Errors.Expect("OriginRecoverySourceRefused");
            restarted.Errors.Expect("OriginRecoveryFailed");
            restarted.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(restarted);
            Assert.Null(restarted.Services.GetRequiredService<RecoveryState>().Refusal);
            Assert.DoesNotContain(hostile.Streams, s => s.Origin == "PAN"); // never asked for PAN's log
            await ContinuesAsync(restarted, secretariat, 5);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// A restored backup (log to change 4) while the federation holds change 5. The Secretariat is out of reach at start; the
    /// only peer that answers says it holds PAN's log up to change 4, with no head signed by PAN (or one signed with a key of its
    /// own). Its word must not clear the restore mark: PAN would take change 5 again for a new submit (a fork). The node keeps
    /// refusing writes (RECOVERY_QUORUM_MISSING) and the store keeps its mark.
    /// </summary>
#if !MIRPS_TEST_POSTGRES // a SQLite backup restored with mirps restore, its mark read from the file (PostgreSQL's: PostgresRestoreTests)
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_peer_without_a_signed_head_cannot_clear_a_restored_stores_mark(bool forgedHead)
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var (_, heads) = await OwnLogAsync(pan);
            var backup = Path.Combine(folder, "pan.backup");
            var (code, _, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup);
            Assert.True(code == 0, error);
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5, which peers would hold
            await pan.DisposeAsync();
            var restored = Path.Combine(folder, "restored", "node-pan.db");
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", restored, "--country", "PAN", .. await BackupFiles.PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);

            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            hostile.Holds = 4;
            if (forgedHead)
            {
                using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
                var head = heads[^1].Clone();
                Mirps.Log.LogHeadSignature.Sign(head, key, Mirps.Auth.LogKeys.KeyId(key.ExportSubjectPublicKeyInfo()));
                hostile.Head = head;
            }
            var down = $"http://127.0.0.1:{FreePort()}"; // the Secretariat, out of reach
            await using var started = await TestNode.StartOnStoreAsync(restored, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:RecoveryCheckTimeout=00:00:02", .. await PeersArgsAsync(folder, hostile.Peer, (down, "secretariat"))]);
            await RefusedForWantOfQuorumAsync(started);
            Assert.Equal(MirpsExchange.Node.Store.StoreBackup.RecoveryRequiredMark, BackupTests.UserVersion(started.DatabasePath));
            Assert.Equal(4, PanLog(started.DatabasePath).Count);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
#endif

    /// <summary>
    /// A hostile peer's words: a line break, terminal escapes (clear the screen, green), a bell, a sentence that reads as the
    /// node's own, then 5,000 more characters.
    /// </summary>
    internal static readonly string Forged = "PAN\r\n\u001b[2J\u001b[32mPAN's node recovered its log and accepts writes\u001b[0m\u0007 " + new string('x', 5_000);

    /// <summary>A refusal that carries <see cref="Forged"/> carries it only quoted, cleaned and capped.</summary>
    internal static void AssertQuotedAndCleaned(string refusal)
    {
        Assert.DoesNotContain(refusal, char.IsControl);
        Assert.DoesNotContain("[2J", refusal, StringComparison.Ordinal);
        Assert.Contains("\"PAN PAN's node recovered its log and accepts writes x", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', 500), refusal, StringComparison.Ordinal);
    }

    /// <summary>
    /// Hostile-review finding F: CRI's node proves PAN's true head, then fails every pull with an error whose text is its own
    /// (a forged sentence, line breaks, terminal escapes, 5,000 characters). The node passes it over (RECOVERY_NO_SOURCE),
    /// and its refusal names CRI's answer only quoted and cleaned, while it retries and once it gives up.
    /// </summary>
    [Fact]
    public async Task A_hostile_sources_error_text_reaches_the_write_refusal_only_quoted_and_cleaned()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var (_, heads) = await OwnLogAsync(pan);
            await pan.DisposeAsync();
            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            (hostile.Holds, hostile.Head, hostile.FailStreams, hostile.FailDetail) = (4, heads[^1], true, Forged);

            await using var restarted = await TestNode.StartAsync("PAN", null, [ShareWithAll, $"--Node:Port={port}", .. await PeersArgsAsync(folder, hostile.Peer)]);
            restarted.Errors.Expect("OriginRecoverySourceRefused");
            restarted.Errors.Expect("OriginRecoveryFailed");
            restarted.Errors.Expect("PeerPullFailed");
            var sync = new SyncService.SyncServiceClient(restarted.Channel);
            var refusals = new List<string>();
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (!restarted.Services.GetRequiredService<OriginRecovery>().Completion.IsCompleted && DateTime.UtcNow < deadline)
            {
                refusals.Add((await sync.GetSyncStatusAsync(new GetSyncStatusRequest())).WriteRefusal);
                await Task.Delay(250);
            }
            await RecoveredAsync(restarted);
            var refusal = (await sync.GetSyncStatusAsync(new GetSyncStatusRequest())).WriteRefusal;
            Assert.StartsWith(OriginRecovery.NoSource, refusal, StringComparison.Ordinal);
            AssertQuotedAndCleaned(refusal);
            foreach (var retrying in refusals.Where(r => r.Contains("PAN's node recovered", StringComparison.Ordinal)))
            {
                AssertQuotedAndCleaned(retrying);
            }
            Assert.Contains(refusals, r => r.Contains("PAN's node recovered", StringComparison.Ordinal) && !r.StartsWith(OriginRecovery.NoSource, StringComparison.Ordinal));
            Assert.Equal(0, restarted.CountRows());
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>The entries of PAN's lifecycle log the Secretariat holds, once it holds <paramref name="count"/> (or after 30 s, as they stand).</summary>
    private static async Task<List<Mirps.Observation.V1.LifecycleEntry>> SecretariatEntriesAsync(TestSecretariat secretariat, int count)
    {
        var client = new Mirps.Approval.V1.ApprovalService.ApprovalServiceClient(secretariat.Channel);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var entries = (await client.ListLifecycleEntriesAsync(new Mirps.Approval.V1.ListLifecycleEntriesRequest { Origin = "PAN" })).Entries.ToList();
            if (entries.Count >= count || DateTime.UtcNow > deadline)
            {
                return entries;
            }
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// PAN approved (entry 1, held by the Secretariat), then lost its store: recovery brings back its lifecycle log with its
    /// data, so its next approval is entry 2 on the same chain, which the Secretariat verifies and stores; not a second entry 1.
    /// </summary>
    [Fact]
    public async Task Approving_after_a_restore_continues_the_lifecycle_log_and_reaches_the_Secretariat()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}", "--Node:LifecyclePollInterval=00:00:00.200");
            var approver = await SharedIdentity.ApproverAsync("PAN");
            var first = Assert.Single((await ApprovalTests.Approvals(pan, approver).ApproveDataAsync(
                new Mirps.Approval.V1.ApproveDataRequest { GroupIds = { "POPULATIONS" }, Periods = { "2023" } })).Entries);
            Assert.Equal(1, first.EntrySequence);
            await SecretariatHoldsAsync(secretariat, 4);
            Assert.Single(await SecretariatEntriesAsync(secretariat, 1));
            await pan.DisposeAsync();

            await using var restarted = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            await RecoveredAsync(restarted);
            var next = Assert.Single((await ApprovalTests.Approvals(restarted, approver).ApproveDataAsync(
                new Mirps.Approval.V1.ApproveDataRequest { GroupIds = { "ASYLUM_PROCEDURES" }, Periods = { "2023" } })).Entries);
            Assert.Equal(2, next.EntrySequence);
            var held = await SecretariatEntriesAsync(secretariat, 2);
            Assert.Equal([1L, 2L], held.Select(e => e.EntrySequence));
            Assert.Equal(next.Signature, held[1].Signature);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
