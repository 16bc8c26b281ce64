using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using MirpsExchange.Node.Sync;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using static MirpsExchange.FunctionalTests.Infrastructure.RecoveryFederation;
using static MirpsExchange.FunctionalTests.Infrastructure.BackupFiles;
using static MirpsExchange.FunctionalTests.RecoveryTests;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Issue 16, item 4: `mirps backup` of a running node's store and `mirps restore` of it; an old backup restored, then
/// recovered from the Secretariat, gives the log the node had; a corrupt file, another State's backup and a running
/// node's store are each refused with a clear error and nothing overwritten.
/// </summary>
public class BackupTests
{
    [Fact]
    public async Task An_old_backup_restored_then_recovered_from_the_Secretariat_gives_the_log_the_node_had()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            var backup = Path.Combine(folder, "pan.backup");
            var (code, output, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup); // while the node runs
            Assert.True(code == 0, error);
            Assert.Contains("PAN's node's store: its log up to change 4", output, StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(backup));
            }

            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5, after the backup
            await SecretariatHoldsAsync(secretariat, 5);
            var before = PanLog(pan.DatabasePath, asOwn: true);
            await pan.DisposeAsync(); // the disk is lost

            var restored = Path.Combine(folder, "restored", "node-pan.db");
            (code, output, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", restored, "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);
            Assert.Contains("its log up to change 4", output, StringComparison.Ordinal);
            Assert.Equal(4, PanLog(restored).Count);

            await using var recovered = await TestNode.StartOnStoreAsync(restored, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            await RecoveredAsync(recovered);
            Assert.Equal(0L, UserVersion(recovered.DatabasePath)); // recovered: the restore's mark is cleared
            Assert.Equal(before, PanLog(recovered.DatabasePath, asOwn: true));
            await ContinuesAsync(recovered, secretariat, 6, "2025", 310);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// A restored backup (log up to change 4) while the federation holds change 5, and no peer answering at start: the node
    /// must not take change 5 again for a new submit (a fork). The restore marks the store; the node refuses writes
    /// (FAILED_PRECONDITION, RECOVERY_QUORUM_MISSING: the Secretariat did not answer) until a recovery succeeds.
    /// </summary>
    [Fact]
    public async Task A_restored_store_refuses_writes_until_recovered_even_when_no_peer_answers()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var backup = Path.Combine(folder, "pan.backup");
            var (code, _, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup);
            Assert.True(code == 0, error);
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5, which peers would hold
            await pan.DisposeAsync();

            var restored = Path.Combine(folder, "restored", "node-pan.db");
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", restored, "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);

            Assert.Equal(MirpsExchange.Node.Store.StoreBackup.RecoveryRequiredMark, UserVersion(restored));
            var nobody = $"http://127.0.0.1:{FreePort()}"; // its peer is down
            await using var started = await TestNode.StartOnStoreAsync(restored, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:RecoveryCheckTimeout=00:00:02", .. await PeersArgsAsync(folder, (nobody, "secretariat"))]);
            await RefusedForWantOfQuorumAsync(started);
            Assert.Equal(MirpsExchange.Node.Store.StoreBackup.RecoveryRequiredMark, UserVersion(started.DatabasePath));
            Assert.Equal(4, PanLog(started.DatabasePath).Count);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// F8: a store put back behind the node's back, with no mirps restore and so no mark in it (here an old copy of the store
    /// file over it; a disk snapshot, a copy from another machine), while the node's log-signing key folder stayed. The node
    /// signed its log further than the store holds (its high-water mark beside the key): it must recover before it writes,
    /// and with no peer answering, writes stay refused. A store that is not behind (a plain restart) writes on.
    /// </summary>
    [Fact]
    public async Task A_store_file_put_back_behind_the_nodes_back_is_found_and_refuses_writes_until_recovered()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            // The key, and so the high-water mark beside it, in a folder that outlives each node (as a node's data folder does).
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            var pan = await PanamaAsync($"--Node:Port={port}", key);
            var old = Path.Combine(folder, "old-node-pan.db");
            pan.CopyStoreTo(old); // the store at change 4
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5
            var latest = Path.Combine(folder, "latest-node-pan.db");
            pan.CopyStoreTo(latest);
            await pan.DisposeAsync();

            // Not behind: a restart on the store as the node left it writes on, change 6.
            await using (var restarted = await TestNode.StartOnStoreAsync(latest, "PAN", null, [ShareWithAll, $"--Node:Port={port}", key]))
            {
                Assert.Equal(6, (await restarted.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310)))).LastOriginSequence);
            }

            Assert.Equal(0L, UserVersion(old)); // no restore mark in the old store
            var nobody = $"http://127.0.0.1:{FreePort()}"; // its peer is down
            await using var started = await TestNode.StartOnStoreAsync(old, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", key, "--Node:RecoveryCheckTimeout=00:00:02", .. await PeersArgsAsync(folder, (nobody, "secretariat"))]);
            var refusal = await RefusedForWantOfQuorumAsync(started);
            Assert.Contains("up to change 4 and its lifecycle log up to entry 0, but this node signed them up to change 6", refusal, StringComparison.Ordinal);
            Assert.Equal(4, PanLog(started.DatabasePath).Count);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile review C: the high-water mark is a floor, not only a detector. PAN signed changes 5 to 7 after its backup (CRI
    /// pulled them, say, and is out of reach); the Secretariat holds PAN's log only up to change 4. The backup is restored: the
    /// quorum proves change 4, but the node had signed up to 7, so writing 5 again would fork the log. Before the fix the
    /// mark was lowered to 4 with a warning and the next submit took change 5; now writes stay refused (FAILED_PRECONDITION,
    /// RECOVERY_BELOW_HIGH_WATER, naming the mark), check after check, until the operator accepts the loss
    /// (Node:AcceptLocalHead), which is logged at Error level naming changes 5 to 7.
    /// </summary>
    [Fact]
    public async Task A_restored_store_stays_refused_below_how_far_the_node_signed_until_the_operator_accepts_the_loss()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            // The key, and so the high-water mark beside it, in a folder that outlives each node (as a node's data folder does).
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            var pan = await PanamaAsync($"--Node:Port={port}", key);
            var (_, heads) = await OwnLogAsync(pan);
            var backup = Path.Combine(folder, "pan.backup");
            var (code, _, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup);
            Assert.True(code == 0, error);
            foreach (var period in new[] { "2022", "2023", "2024" })
            {
                await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: period, value: 300))); // changes 5, 6, 7
            }
            await pan.DisposeAsync(); // the disk is lost
            var restored = Path.Combine(folder, "restored", "node-pan.db");
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", restored, "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);

            // The Secretariat holds PAN's log up to change 4 (PAN's own signed head there); CRI, which holds 5 to 7, is not among those that answer.
            await using var secretariat = await MaliciousPeer.StartAsync("secretariat");
            (secretariat.Holds, secretariat.Head) = (4, heads.Single(h => h.Sequence == 4));
            string[] args = [ShareWithAll, $"--Node:Port={port}", key, "--Node:RecoveryRetryInterval=00:00:01", .. await PeersArgsAsync(folder, secretariat.Peer)];
            await using (var refused = await TestNode.StartOnStoreAsync(restored, "PAN", null, args))
            {
                var refusal = await RefusedBelowHighWaterAsync(refused);
                Assert.Contains("changes 5 to 7", refusal, StringComparison.Ordinal);
                Assert.Contains("Node:AcceptLocalHead", refusal, StringComparison.Ordinal);
                Assert.Equal(4, PanLog(refused.DatabasePath).Count);
            }

            await using var accepted = await TestNode.StartOnStoreAsync(restored, "PAN", null, [.. args, "--Node:AcceptLocalHead=true"]);
            accepted.Errors.Expect("OriginHighWaterLossAccepted");
            accepted.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(accepted);
            Assert.Null(accepted.Services.GetRequiredService<RecoveryState>().Refusal);
            Assert.Equal(5, (await accepted.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310)))).LastOriginSequence);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// The high-water mark file kept the lifecycle log beside the change log from its first version, but a mark that names the
    /// change log only ("PAN changes=7") must still read (as no lifecycle entry signed), and the next mark written names both;
    /// anything else in the file is still refused (the node then treats its store as restored).
    /// </summary>
    [Fact]
    public void A_high_water_mark_that_names_the_change_log_only_still_reads()
    {
        var folder = TempFolder.Create();
        try
        {
            var file = Path.Combine(folder, "log-signing-key-pan.high-water");
            MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(file, "PAN changes=7\n");
            using var mark = new MirpsExchange.Node.ChangeLog.SignedHighWater("PAN", file, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            Assert.Equal((7L, 0L), mark.Read());
            mark.Set(7, 2);
            Assert.Equal("PAN changes=7 entries=2\n", File.ReadAllText(file));
            Assert.Equal((7L, 2L), mark.Read());
            MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(file, "PAN changes=7 approvals=2\n");
            Assert.Throws<InvalidOperationException>(() => mark.Read());
            MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(file, "CRI changes=7\n");
            Assert.Throws<InvalidOperationException>(() => mark.Read());
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// The floor covers the lifecycle log too (issue 15's approvals, signed by the origin): PAN approved (entry 1) after its
    /// backup, and its change log did not move. The backup is restored; the Secretariat proves PAN's change log whole but
    /// holds none of its lifecycle log (it had not polled it yet). Before the fix the node wrote again at once and its next
    /// approval signed a second entry 1 (equivocation for whoever holds the first). Now writes stay refused
    /// (RECOVERY_BELOW_HIGH_WATER, naming entry 1) until a peer serves the entry, which the node then takes (its next approval
    /// is entry 2); or, on a restored store where none does, until the operator accepts the loss (logged at Error level).
    /// </summary>
    [Fact]
    public async Task A_restored_store_below_the_last_lifecycle_entry_the_node_signed_stays_refused_until_a_peer_serves_it_or_the_loss_is_accepted()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            var pan = await PanamaAsync($"--Node:Port={port}", key);
            var (_, heads) = await OwnLogAsync(pan);
            var backup = Path.Combine(folder, "pan.backup");
            var (code, _, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup);
            Assert.True(code == 0, error);
            var approver = await SharedIdentity.ApproverAsync("PAN");
            var entry = Assert.Single((await ApprovalTests.Approvals(pan, approver).ApproveDataAsync(
                new Mirps.Approval.V1.ApproveDataRequest { GroupIds = { "POPULATIONS" }, Periods = { "2023" } })).Entries);
            Assert.Equal(1, entry.EntrySequence);
            await pan.DisposeAsync(); // the disk is lost
            var restored = Path.Combine(folder, "restored", "node-pan.db");
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", restored, "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);

            await using var secretariat = await MaliciousPeer.StartAsync("secretariat");
            (secretariat.Holds, secretariat.Head, secretariat.LifecycleOrigin) = (4, heads.Single(h => h.Sequence == 4), "PAN");
            string[] args = [ShareWithAll, $"--Node:Port={port}", key, "--Node:RecoveryRetryInterval=00:00:01", .. await PeersArgsAsync(folder, secretariat.Peer)];
            var approve = new Mirps.Approval.V1.ApproveDataRequest { GroupIds = { "ASYLUM_PROCEDURES" }, Periods = { "2023" } };
            await using (var refused = await TestNode.StartOnStoreAsync(restored, "PAN", null, args))
            {
                refused.Errors.Expect("OriginRecoveryBelowHighWater");
                refused.Errors.Expect("PeerPullFailed");
                await RecoveredAsync(refused);
                await Task.Delay(TimeSpan.FromSeconds(2)); // two more checks
                await RpcAssert.ReasonAsync(() => ApprovalTests.Approvals(refused, approver).ApproveDataAsync(approve).ResponseAsync,
                    StatusCode.FailedPrecondition, OriginRecovery.BelowHighWater);
                await RpcAssert.ReasonAsync(() => refused.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310))).ResponseAsync,
                    StatusCode.FailedPrecondition, OriginRecovery.BelowHighWater);
                var refusal = refused.Services.GetRequiredService<RecoveryState>().Refusal!;
                Assert.Contains("lifecycle log (approvals) up to entry 1", refusal, StringComparison.Ordinal);
                Assert.Contains("Node:AcceptLocalHead", refusal, StringComparison.Ordinal);
                Assert.Equal(0L, refused.CountRows("lifecycle_entries"));

                // The Secretariat has now polled PAN's entry 1 (PAN's own signature): the next check takes it, and writes resume.
                secretariat.Lifecycle = after => after < 1 ? [entry] : [];
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (refused.Services.GetRequiredService<RecoveryState>().Refusal is not null && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100);
                }
                Assert.Null(refused.Services.GetRequiredService<RecoveryState>().Refusal);
                var next = Assert.Single((await ApprovalTests.Approvals(refused, approver).ApproveDataAsync(approve)).Entries);
                Assert.Equal(2, next.EntrySequence); // not a second entry 1
            }

            // Restored again; no peer serves the lifecycle log (entries 1 and 2 are lost everywhere): the operator accepts the loss.
            secretariat.Lifecycle = _ => [];
            await using var accepted = await TestNode.StartOnStoreAsync(restored, "PAN", null, [.. args, "--Node:AcceptLocalHead=true"]);
            accepted.Errors.Expect("OriginLifecycleHighWaterLossAccepted");
            accepted.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(accepted);
            Assert.Null(accepted.Services.GetRequiredService<RecoveryState>().Refusal);
            Assert.Equal(1, Assert.Single((await ApprovalTests.Approvals(accepted, approver).ApproveDataAsync(approve)).Entries).EntrySequence);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>PAN's store backed up by <c>mirps backup</c> to FOLDER/pan.backup (signed with the key beside the store): the backup and what the command printed.</summary>
    private static async Task<(string Backup, string Output)> BackUpAsync(TestNode pan, string folder)
    {
        var backup = Path.Combine(folder, "pan.backup");
        var (code, output, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup);
        Assert.True(code == 0, error);
        return (backup, output);
    }

    /// <summary>
    /// Hostile review A3: the backup's manifest is signed with PAN's log-signing key, and a restore verifies it before anything
    /// is overwritten. Refused: PAN's figures falsified in the store with the manifest's SHA-256 made to match (before
    /// the signature, this restored: the SHA-256 guarded against accidents only), a manifest field edited by hand, the store
    /// swapped under the untouched manifest, the altered backup signed again with CRI's key, a manifest without a signature,
    /// and a restore with no key to verify with. An unsigned backup restores only with --accept-unsigned, which says so.
    /// </summary>
    [Fact]
    public async Task A_manifest_edited_by_hand_a_store_swapped_under_it_or_signed_with_another_States_key_is_refused_with_nothing_overwritten()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var pan = await PanamaAsync();
            var (backup, output) = await BackUpAsync(pan, folder); // signed with the key beside the store
            Assert.Contains("signed with key", output, StringComparison.Ordinal);
            var target = Path.Combine(folder, "target", "node-pan.db");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            pan.CopyStoreTo(target);
            var bytes = await File.ReadAllBytesAsync(target);

            async Task RefusedAsync(string file, string expected, string[]? key = null)
            {
                var (code, _, error) = await CliRunner.RunAsync(["restore", "--from", file, "--store", target, "--country", "PAN", .. key ?? await PanPublishedKeyArgsAsync(folder)]);
                Assert.Equal(1, code);
                Assert.Contains(expected, error, StringComparison.Ordinal);
                Assert.Contains("nothing was restored", error, StringComparison.Ordinal);
                Assert.Equal(bytes, await File.ReadAllBytesAsync(target));
                Assert.Equal(["node-pan.db"], Directory.GetFiles(Path.GetDirectoryName(target)!).Select(Path.GetFileName).Where(f => !f!.EndsWith(".lock", StringComparison.Ordinal)));
            }

            const string Falsify = "UPDATE observations SET value = value * 10"; // PAN's figures, falsified in its own backup
            var falsified = Path.Combine(folder, "falsified.backup");
            await RewriteAsync(backup, falsified, sql: Falsify);
            await RefusedAsync(falsified, "the manifest was altered after it was signed");
            var edited = Path.Combine(folder, "edited.backup");
            await RewriteAsync(backup, edited, change: manifest => manifest with { Created = manifest.Created.AddDays(-30) });
            await RefusedAsync(edited, "the manifest was altered after it was signed");
            var swapped = Path.Combine(folder, "swapped.backup");
            await RewriteAsync(backup, swapped, sql: Falsify, keepSha256: true);
            await RefusedAsync(swapped, "its store's SHA-256 is not the one its manifest names");
            var forged = Path.Combine(folder, "forged.backup");
            await RewriteAsync(backup, forged, sql: Falsify, signWith: await StateKeyAsync(Path.Combine(folder, "cri"), "CRI"));
            await RefusedAsync(forged, "signed with another key than PAN's node's");
            var unsigned = Path.Combine(folder, "unsigned.backup");
            await RewriteAsync(backup, unsigned, change: manifest => manifest with { KeyId = null, Signature = null });
            await RefusedAsync(unsigned, "its manifest is not signed");
            await RefusedAsync(backup, "there is no key of PAN's node", key: []); // none beside the target, none named

            // An unsigned backup (as every backup before this release) restores only when the operator vouches for it.
            var old = Path.Combine(folder, "old", "node-pan.db");
            var (code, _, error) = await CliRunner.RunAsync(["restore", "--from", unsigned, "--store", old, "--country", "PAN", "--accept-unsigned"]);
            Assert.True(code == 0, error);
            Assert.Contains("warning: ", error, StringComparison.Ordinal);
            Assert.Contains("has no signed manifest", error, StringComparison.Ordinal);

            // The untouched backup restores, verified with the key beside the store (a node's data folder), as the node keeps it.
            var beside = Path.Combine(Path.GetDirectoryName(await PanKeyAsync(Path.Combine(folder, "node")))!, "node-pan.db");
            (code, _, error) = await CliRunner.RunAsync("restore", "--from", backup, "--store", beside, "--country", "PAN");
            Assert.True(code == 0, error);
            Assert.Equal(4, PanLog(beside).Count);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile review G: party codes are the catalogue's ASCII codes, compared ordinally. A manifest naming "PАN" with a
    /// Cyrillic "А" (signed, by whoever holds PAN's key) is refused up front as naming no party, and so is --country with it.
    /// </summary>
    [Fact]
    public async Task A_look_alike_party_code_in_the_manifest_or_on_the_command_line_is_refused()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var pan = await PanamaAsync();
            var (backup, _) = await BackUpAsync(pan, folder);
            const string LookAlike = "P\u0410N";
            var spoofed = Path.Combine(folder, "spoofed.backup");
            await RewriteAsync(backup, spoofed, change: manifest => manifest with { Country = LookAlike }, signWith: await PanKeyAsync(folder));
            var target = Path.Combine(folder, "target", "node-pan.db");

            var (code, _, error) = await CliRunner.RunAsync(["restore", "--from", spoofed, "--store", target, "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.Equal(1, code);
            Assert.Contains("its manifest names no MIRPS party (\"P\\u0410N\"", error, StringComparison.Ordinal);
            Assert.Contains("nothing was restored", error, StringComparison.Ordinal);
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", spoofed, "--store", target, "--country", LookAlike, .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.Equal(1, code);
            Assert.Contains("--country must be a MIRPS State's ISO3 code (ASCII letters)", error, StringComparison.Ordinal);
            Assert.False(File.Exists(target));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile review G: a password on `--store` is visible to every user of the machine (ps, /proc) and kept in the shell's
    /// history, so it is refused, and never echoed; the connection string comes from an owner-only --store-file instead (or
    /// the environment), and a file others may read is refused.
    /// </summary>
    [Fact]
    public async Task A_password_on_the_command_line_is_refused_unechoed_and_the_store_file_must_be_owner_only()
    {
        var folder = TempFolder.Create();
        try
        {
            var secret = "pw-" + Guid.NewGuid().ToString("N");
            var withPassword = $"Host=127.0.0.1;Port=1;Database=mirps_pan;Username=mirps_pan;Password={secret}";
            var output = Path.Combine(folder, "pan.backup");
            foreach (string[] args in new[] { ["backup", "--store", withPassword, "--out", output], new[] { "restore", "--from", output, "--store", withPassword, "--country", "PAN" } })
            {
                var (code, said, error) = await CliRunner.RunAsync(args);
                Assert.Equal(1, code);
                Assert.Contains("--store holds a password", error, StringComparison.Ordinal);
                Assert.Contains("--store-file", error, StringComparison.Ordinal);
                Assert.DoesNotContain(secret, said + error, StringComparison.Ordinal);
                Assert.False(File.Exists(output));
            }

            await using var pan = await PanamaAsync();
            var storeFile = Path.Combine(folder, "store.conn");
            ServiceDefaults.OwnerOnlyFile.WriteAllText(storeFile, $"Data Source={pan.DatabasePath}\n");
            var (ok, _, problem) = await CliRunner.RunAsync("backup", "--store-file", storeFile, "--out", output);
            Assert.True(ok == 0, problem);
            Assert.True(File.Exists(output));

            if (OperatingSystem.IsWindows())
            {
                return; // file modes are Unix's
            }
            var readable = Path.Combine(folder, "readable.conn");
            await File.WriteAllTextAsync(readable, withPassword);
            File.SetUnixFileMode(readable, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var (refused, _, why) = await CliRunner.RunAsync("backup", "--store-file", readable, "--out", Path.Combine(folder, "other.backup"));
            Assert.Equal(1, refused);
            Assert.Contains("chmod 600", why, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, why, StringComparison.Ordinal);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    internal static long UserVersion(string database)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version";
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task A_corrupt_backup_another_States_backup_and_a_running_nodes_store_are_refused_with_nothing_overwritten()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var pan = await PanamaAsync();
            var backup = Path.Combine(folder, "pan.backup");
            Assert.Equal(0, (await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup)).Code);

            // A backup never overwrites a file.
            var (code, _, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup);
            Assert.Equal(1, code);
            Assert.Contains("exists already", error, StringComparison.Ordinal);

            // The target: another store of PAN's, whose bytes must not change.
            var target = Path.Combine(folder, "target", "node-pan.db");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            pan.CopyStoreTo(target);
            var bytes = await File.ReadAllBytesAsync(target);

            async Task RefusedAsync(string file, string country, string expected)
            {
                var (code, _, error) = await CliRunner.RunAsync(["restore", "--from", file, "--store", target, "--country", country, .. await PanPublishedKeyArgsAsync(folder)]);
                Assert.Equal(1, code);
                Assert.Contains(expected, error, StringComparison.Ordinal);
                Assert.Contains("nothing was restored", error, StringComparison.Ordinal);
                Assert.Equal(bytes, await File.ReadAllBytesAsync(target));
                Assert.Equal(["node-pan.db"], Directory.GetFiles(Path.GetDirectoryName(target)!).Select(Path.GetFileName).Where(f => !f!.EndsWith(".lock", StringComparison.Ordinal)));
            }

            // A corrupt backup: one byte changed inside it.
            var corrupt = Path.Combine(folder, "corrupt.backup");
            var content = await File.ReadAllBytesAsync(backup);
            content[content.Length / 2] ^= 0x5A;
            await File.WriteAllBytesAsync(corrupt, content);
            await RefusedAsync(corrupt, "PAN", "corrupt");

            // Not a backup at all, and a truncated one.
            var text = Path.Combine(folder, "notes.backup");
            await File.WriteAllTextAsync(text, "not a backup");
            await RefusedAsync(text, "PAN", "corrupt or not a node's backup");
            var truncated = Path.Combine(folder, "truncated.backup");
            await File.WriteAllBytesAsync(truncated, (await File.ReadAllBytesAsync(backup))[..(content.Length / 3)]);
            await RefusedAsync(truncated, "PAN", "corrupt");

            // Another State's backup: PAN's restored as CRI's node's store.
            await RefusedAsync(backup, "CRI", "a backup of PAN's node, not CRI's");

            // A running node's store.
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", pan.DatabasePath, "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.Equal(1, code);
            Assert.Contains("a node is running on", error, StringComparison.Ordinal);
            Assert.Equal(4, PanLog(pan.DatabasePath).Count);

            // A node refuses to start on another State's store (restored by hand, without mirps restore).
            await Assert.ThrowsAnyAsync<InvalidOperationException>(() => TestNode.StartOnStoreAsync(target, "CRI", null, ShareWithAll));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile review A: a backup whose store holds a trigger the node's migrations do not create (another party's, or an
    /// altered copy: the trigger sets every row's readers to everyone, so the node would serve its withheld figures) is
    /// refused before anything is overwritten, even with its manifest's SHA-256 made to match.
    /// </summary>
    [Fact]
    public async Task A_backup_whose_store_holds_a_trigger_the_migrations_do_not_make_is_refused_with_nothing_overwritten()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var pan = await PanamaAsync();
            var backup = Path.Combine(folder, "pan.backup");
            Assert.Equal(0, (await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup)).Code);
            var target = Path.Combine(folder, "target", "node-pan.db");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            pan.CopyStoreTo(target);
            var bytes = await File.ReadAllBytesAsync(target);

            // The untouched backup restores (its schema is the migrations').
            var clean = Path.Combine(folder, "clean", "node-pan.db");
            var (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", clean, "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);

            foreach (var (name, sql) in new[]
            {
                ("trigger", "CREATE TRIGGER everyone AFTER INSERT ON observations BEGIN UPDATE observations SET readers = '*'; END"),
                ("view", "CREATE VIEW everything AS SELECT * FROM observations"),
                ("table", "CREATE TABLE notes (x TEXT)"),
            })
            {
                var altered = Path.Combine(folder, $"{name}.backup");
                await RewriteAsync(backup, altered, sql: sql, signWith: await PanKeyAsync(folder)); // by whoever holds PAN's key: the schema check holds even then
                (code, _, error) = await CliRunner.RunAsync(["restore", "--from", altered, "--store", target, "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
                Assert.Equal(1, code);
                Assert.Contains("the node's migrations do not create", error, StringComparison.Ordinal);
                Assert.Contains("nothing was restored", error, StringComparison.Ordinal);
                Assert.Equal(bytes, await File.ReadAllBytesAsync(target));
                Assert.Equal(["node-pan.db"], Directory.GetFiles(Path.GetDirectoryName(target)!).Select(Path.GetFileName).Where(f => !f!.EndsWith(".lock", StringComparison.Ordinal)));
            }
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
