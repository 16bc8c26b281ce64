using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.RecoveryFederation;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using static MirpsExchange.FunctionalTests.RecoveryTests;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Hostile-review finding F3: a restored store (or Node:Recover) resumes writing only once a quorum proves the State's log's
/// head: the configured Secretariat among those that answered with a head signed by the State, and a majority of the peers
/// that answered. One peer showing a genuine but stale head must not let it write (it would reuse a sequence the
/// federation holds: a fork). A State whose log no peer holds has an explicit, logged way out (Node:AcceptLocalHead),
/// which is refused when the federation holds more.
/// </summary>
public class RecoveryQuorumTests
{
    /// <summary>PAN's node (log to change 4) backed up, then change 5 written and held by the Secretariat; the node is then lost and the backup restored.</summary>
    private static async Task<(string Restored, TestSecretariat Secretariat, List<Mirps.Observation.V1.LogHead> Heads, int Port)> RestoredBehindTheSecretariatAsync(string folder)
    {
        var port = FreePort();
        var pan = await PanamaAsync($"--Node:Port={port}");
        var (_, heads) = await OwnLogAsync(pan);
        var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
        var backup = Path.Combine(folder, "pan.backup");
        var (code, _, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup);
        Assert.True(code == 0, error);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5
        await SecretariatHoldsAsync(secretariat, 5);
        await pan.DisposeAsync(); // the disk is lost
        var restored = Path.Combine(folder, "restored", "node-pan.db");
        (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", restored, "--country", "PAN", .. await BackupFiles.PanPublishedKeyArgsAsync(folder)]);
        Assert.True(code == 0, error);
        return (restored, secretariat, heads, port);
    }

    /// <summary>
    /// The restored store holds PAN's log up to change 4. CRI's node answers with PAN's genuine head at change 4 (stale: it
    /// has not pulled change 5 yet); the Secretariat, which holds change 5, is out of reach at first. Before the fix the stale
    /// head cleared the mark and the next submit took change 5 again. Now writes stay refused (FAILED_PRECONDITION,
    /// RECOVERY_QUORUM_MISSING, in the health check too) until the Secretariat answers; then the node recovers change 5 and
    /// its next submit is change 6, which the Secretariat verifies on PAN's chain.
    /// </summary>
    [Fact]
    public async Task A_stale_peers_genuine_head_does_not_clear_a_restored_stores_mark_and_the_node_ends_at_the_Secretariats_head()
    {
        var folder = TempFolder.Create();
        try
        {
            var (restored, secretariat, heads, port) = await RestoredBehindTheSecretariatAsync(folder);
            await using var held = secretariat;
            await using var stale = await MaliciousPeer.StartAsync("CRI");
            (stale.Holds, stale.Head) = (4, heads.Single(h => h.Sequence == 4)); // PAN's own signature: genuine, but stale
            await using var gate = new TcpGate(secretariat.Address); // the Secretariat: every connection held until opened

            await using var started = await TestNode.StartOnStoreAsync(restored, "PAN", null,
            [
                ShareWithAll, $"--Node:Port={port}", "--Node:RecoveryCheckTimeout=00:00:02", "--Node:RecoveryRetryInterval=00:00:01",
                .. await PeersArgsAsync(folder, stale.Peer, (gate.Address, "secretariat")),
            ]);
            var refusal = await RefusedForWantOfQuorumAsync(started);
            Assert.Contains("Secretariat", refusal, StringComparison.Ordinal);
            var status = await new Mirps.Sync.V1.SyncService.SyncServiceClient(started.Channel).GetSyncStatusAsync(new Mirps.Sync.V1.GetSyncStatusRequest());
            Assert.StartsWith(OriginRecovery.QuorumMissing, status.WriteRefusal, StringComparison.Ordinal); // PAN's own status says so
            var file = Path.Combine(folder, $"reader-{Guid.NewGuid():N}.json");
            OwnerOnlyFile.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("PAN")));
            var cli = await CliRunner.RunAsync("sync", "status", "--node", started.Address, "--node-country", "PAN", "--identity", started.Identity.Issuer, "--credential", file);
            Assert.Contains($"It refuses PAN's writes: {OriginRecovery.QuorumMissing}", cli.Output, StringComparison.Ordinal); // and so does mirps sync status
            var health = (await started.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["recovery"];
            Assert.Equal(HealthStatus.Degraded, health.Status);
            Assert.Contains(OriginRecovery.QuorumMissing, health.Description, StringComparison.Ordinal);
            Assert.Equal(StoreBackup.RecoveryRequiredMark, BackupTests.UserVersion(started.DatabasePath));
            Assert.Equal(4, PanLog(started.DatabasePath).Count);

            // The Secretariat comes within reach: the next check has its quorum, and the node recovers change 5 from it.
            gate.Open();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (started.Services.GetRequiredService<RecoveryState>().Refusal is not null && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            Assert.Null(started.Services.GetRequiredService<RecoveryState>().Refusal);
            Assert.Empty((await new Mirps.Sync.V1.SyncService.SyncServiceClient(started.Channel).GetSyncStatusAsync(new Mirps.Sync.V1.GetSyncStatusRequest())).WriteRefusal);
            Assert.Equal(0L, BackupTests.UserVersion(started.DatabasePath));
            Assert.Equal(PanLog(secretariat.DatabasePath), PanLog(started.DatabasePath));
            await ContinuesAsync(started, secretariat, 6, "2025", 310); // verified on PAN's chain: no fork
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// The Secretariat proves PAN's head (change 5), but it is one of three peers that answered: the two others say they hold
    /// PAN's log with no head signed by PAN to back it. A majority of the peers that answered must show what they hold, so
    /// writes stay refused (RECOVERY_QUORUM_MISSING, naming them) with nothing recovered.
    /// </summary>
    [Fact]
    public async Task The_Secretariat_alone_is_no_quorum_when_most_peers_that_answered_show_no_signed_head()
    {
        var folder = TempFolder.Create();
        try
        {
            var (restored, secretariat, _, port) = await RestoredBehindTheSecretariatAsync(folder);
            await using var held = secretariat;
            await using var cri = await MaliciousPeer.StartAsync("CRI");
            await using var gtm = await MaliciousPeer.StartAsync("GTM");
            (cri.Holds, gtm.Holds) = (9, 9); // no head: their word alone
            await using var started = await TestNode.StartOnStoreAsync(restored, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", .. await PeersArgsAsync(folder, cri.Peer, gtm.Peer, (secretariat.Address, "secretariat"))]);
            started.Errors.Expect("OriginRecoveryQuorumMissing");
            started.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(started);
            await RpcAssert.ReasonAsync(() => started.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310))).ResponseAsync,
                StatusCode.FailedPrecondition, OriginRecovery.QuorumMissing);
            Assert.Contains("only 1 of the 3 peers", started.Services.GetRequiredService<RecoveryState>().Refusal!, StringComparison.Ordinal);
            Assert.Equal(4, PanLog(started.DatabasePath).Count);
            Assert.Equal(StoreBackup.RecoveryRequiredMark, BackupTests.UserVersion(started.DatabasePath));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile-review finding B, by design: a peer's claim that no head signed with PAN's published key backs is not counted
    /// as a higher head (the node neither recovers towards it nor asks that peer for PAN's log), but the peer did answer, so
    /// its claim counts against the majority of the peers that answered. With the Secretariat alone beside it (1 of 2),
    /// writes stay refused (RECOVERY_QUORUM_MISSING, naming the claim); with one more peer showing a genuine head of PAN's
    /// (2 of 3), the node recovers up to the highest signed head (the Secretariat's change 5) and its next submit is change
    /// 6, not 10 after the claim of change 9.
    /// </summary>
    [Fact]
    public async Task A_peers_claim_no_signed_head_backs_counts_against_the_majority_but_never_as_a_higher_head()
    {
        var folder = TempFolder.Create();
        try
        {
            var (restored, secretariat, heads, port) = await RestoredBehindTheSecretariatAsync(folder);
            await using var held = secretariat;
            await using var cri = await MaliciousPeer.StartAsync("CRI");
            cri.Holds = 9; // no head: its word alone
            await using var gtm = await MaliciousPeer.StartAsync("GTM");
            (gtm.Holds, gtm.Head) = (4, heads.Single(h => h.Sequence == 4)); // PAN's own signature, stale
            string[] args = [ShareWithAll, $"--Node:Port={port}", "--Node:RecoveryRetryInterval=00:01:00"];

            await using (var refused = await TestNode.StartOnStoreAsync(restored, "PAN", null, [.. args, .. await PeersArgsAsync(folder, cri.Peer, (secretariat.Address, "secretariat"))]))
            {
                var refusal = await RefusedForWantOfQuorumAsync(refused);
                Assert.Contains("only 1 of the 2 peers", refusal, StringComparison.Ordinal);
                Assert.Contains($"{cri.Address}: it says it holds PAN's log up to change 9 but shows no head of it signed by PAN", refusal, StringComparison.Ordinal);
                Assert.DoesNotContain(OriginRecovery.BelowHighWater, refusal, StringComparison.Ordinal);
                Assert.Equal(4, PanLog(refused.DatabasePath).Count);
                Assert.Equal(StoreBackup.RecoveryRequiredMark, BackupTests.UserVersion(refused.DatabasePath));
            }

            await using var recovered = await TestNode.StartOnStoreAsync(restored, "PAN", null,
                [.. args, .. await PeersArgsAsync(folder, cri.Peer, gtm.Peer, (secretariat.Address, "secretariat"))]);
            recovered.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(recovered);
            Assert.Null(recovered.Services.GetRequiredService<RecoveryState>().Refusal);
            Assert.DoesNotContain(cri.Streams, s => s.Origin == "PAN"); // never asked for PAN's log: its claim is no head
            Assert.Equal(PanLog(secretariat.DatabasePath), PanLog(recovered.DatabasePath));
            await ContinuesAsync(recovered, secretariat, 6, "2025", 310);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile-review finding F: what a hostile peer says (here the origin it names in the head it shows) ends up in the
    /// refusal PAN's node gives (GetSyncStatus.write_refusal, which mirps sync status and the web page print, and the
    /// health check): it must read as the peer's words, never the node's, so only quoted, on one line, without control
    /// characters or terminal escapes, and capped.
    /// </summary>
    [Fact]
    public async Task A_hostile_peers_claim_reaches_the_write_refusal_only_quoted_and_cleaned()
    {
        var folder = TempFolder.Create();
        try
        {
            var (restored, secretariat, heads, port) = await RestoredBehindTheSecretariatAsync(folder);
            await using var held = secretariat;
            await using var cri = await MaliciousPeer.StartAsync("CRI");
            var head = heads[^1].Clone();
            head.Origin = RecoveryTests.Forged;
            (cri.Holds, cri.Head) = (9, head);
            await using var started = await TestNode.StartOnStoreAsync(restored, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:RecoveryRetryInterval=00:01:00", .. await PeersArgsAsync(folder, cri.Peer, (secretariat.Address, "secretariat"))]);
            await RefusedForWantOfQuorumAsync(started);
            var status = await new Mirps.Sync.V1.SyncService.SyncServiceClient(started.Channel).GetSyncStatusAsync(new Mirps.Sync.V1.GetSyncStatusRequest());
            Assert.StartsWith(OriginRecovery.QuorumMissing, status.WriteRefusal, StringComparison.Ordinal);
            RecoveryTests.AssertQuotedAndCleaned(status.WriteRefusal);
            var health = (await started.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["recovery"];
            RecoveryTests.AssertQuotedAndCleaned(health.Description!);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>PAN's node (log to change 4) that never shared anything (no Secretariat pulls it), backed up and restored.</summary>
    private static async Task<string> RestoredNeverSharedAsync(string folder, int port)
    {
        var pan = await PanamaAsync($"--Node:Port={port}");
        var backup = Path.Combine(folder, "pan.backup");
        var (code, _, error) = await CliRunner.RunAsync("backup", "--store", pan.DatabasePath, "--out", backup);
        Assert.True(code == 0, error);
        await pan.DisposeAsync();
        var restored = Path.Combine(folder, "restored", "node-pan.db");
        (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, "--store", restored, "--country", "PAN", .. await BackupFiles.PanPublishedKeyArgsAsync(folder)]);
        Assert.True(code == 0, error);
        return restored;
    }

    /// <summary>
    /// PAN never shared its log: the Secretariat and CRI's node hold none of it, so nothing signed proves its head and the
    /// restored store stays write-refused (FAILED_PRECONDITION, RECOVERY_NO_SIGNED_HEAD), check after check: it does not serve
    /// its own log to the Secretariat meanwhile, whose copy would otherwise prove the store's head back to it. With
    /// Node:AcceptLocalHead, the quorum (the Secretariat and CRI) answered that none holds a head beyond the store's: the
    /// mark is cleared, it is logged, and the next submit continues the store's sequence (change 5).
    /// </summary>
    [Fact]
    public async Task A_State_whose_log_no_peer_holds_stays_refused_after_a_restore_until_the_operator_accepts_the_local_head()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            var restored = await RestoredNeverSharedAsync(folder, port);
            // The Secretariat pulls PAN from its node's address, but has held none of PAN's log (PAN's node was never up while it ran).
            var address = $"http://127.0.0.1:{port}";
            await using var secretariat = await SecretariatAsync(folder, address);
            await using var cri = await MaliciousPeer.StartAsync("CRI"); // holds none of it either

            string[] args = [ShareWithAll, $"--Node:Port={port}", "--Node:RecoveryRetryInterval=00:00:01", .. await PeersArgsAsync(folder, cri.Peer, (secretariat.Address, "secretariat"))];
            await using (var refused = await TestNode.StartOnStoreAsync(restored, "PAN", null, args))
            {
                refused.Errors.Expect("OriginRecoveryQuorumMissing");
                refused.Errors.Expect("PeerPullFailed");
                await RecoveredAsync(refused);
                await RpcAssert.ReasonAsync(() => refused.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))).ResponseAsync,
                    StatusCode.FailedPrecondition, OriginRecovery.NoSignedHead);
                Assert.Contains("Node:AcceptLocalHead", refused.Services.GetRequiredService<RecoveryState>().Refusal!, StringComparison.Ordinal);

                // The restored node does not serve its own log meanwhile: the Secretariat, had it taken the store's log now, would show
                // its head back as the proof the next check asks for, and the mark would clear with no one's say.
                var pull = await MaliciousPeer.PullAsync(secretariat, address,
                    p => p.LastError.Contains(OriginRecovery.NoSignedHead, StringComparison.Ordinal) || p.AppliedSequence > 0);
                await Task.Delay(TimeSpan.FromSeconds(3)); // three more checks
                Assert.Equal(OriginRecovery.NoSignedHead, refused.Services.GetRequiredService<RecoveryState>().Reason);
                Assert.Empty(PanLog(secretariat.DatabasePath));
                Assert.Contains(OriginRecovery.NoSignedHead, pull.LastError, StringComparison.Ordinal);
                Assert.Equal(StoreBackup.RecoveryRequiredMark, BackupTests.UserVersion(refused.DatabasePath));
            }

            await using var accepted = await TestNode.StartOnStoreAsync(restored, "PAN", null, [.. args, "--Node:AcceptLocalHead=true"]);
            accepted.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(accepted);
            Assert.Null(accepted.Services.GetRequiredService<RecoveryState>().Refusal);
            Assert.Equal(0L, BackupTests.UserVersion(accepted.DatabasePath));
            var next = await accepted.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300)));
            Assert.Equal(5, next.LastOriginSequence);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Node:AcceptLocalHead on a restored store while the Secretariat holds change 5: the local head (change 4) is not
    /// accepted (OriginLocalHeadRefused), and the node recovers change 5 instead; its next submit is change 6.
    /// </summary>
    [Fact]
    public async Task Accepting_the_local_head_is_refused_when_the_Secretariat_holds_a_newer_head()
    {
        var folder = TempFolder.Create();
        try
        {
            var (restored, secretariat, _, port) = await RestoredBehindTheSecretariatAsync(folder);
            await using var held = secretariat;
            await using var started = await TestNode.StartOnStoreAsync(restored, "PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:AcceptLocalHead=true", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            started.Errors.Expect("OriginLocalHeadRefused");
            await RecoveredAsync(started);
            Assert.Null(started.Services.GetRequiredService<RecoveryState>().Refusal);
            Assert.Equal(PanLog(secretariat.DatabasePath), PanLog(started.DatabasePath));
            await ContinuesAsync(started, secretariat, 6, "2025", 310); // not 5: the Secretariat's change 5 is not taken again
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
