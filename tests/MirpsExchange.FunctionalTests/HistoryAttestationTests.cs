using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.ChangeLog;
using MirpsExchange.Node.Store;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Stores from before the signed change log: an origin's node signs its unsigned history once, at the upgrade, with
/// ATTESTATION heads; a replica's unsigned copy of that origin's log gives way to the attested log, and is kept, with
/// the reason, while the peer serves no signed heads for it (an origin not upgraded yet).
/// </summary>
public class HistoryAttestationTests
{
    /// <summary>
    /// A copy of <paramref name="node"/>'s store as the version before the signed change log kept it: its schema taken
    /// back to the migration before (SharingPolicy) with EF Core's migrator, which drops the links, salts, received times
    /// and heads; the rows are what that version wrote (the same submit and apply paths, but for those columns).
    /// </summary>
    private static async Task<string> PreUpgradeCopyAsync(TestNode node, string folder)
    {
        var file = Path.Combine(folder, $"{node.Country}-{Guid.NewGuid():N}.db");
        node.CopyStoreTo(file);
        await using var db = new NodeDbContext(new DbContextOptionsBuilder<NodeDbContext>().UseSqlite($"Data Source={file};Pooling=False").Options);
        await db.GetService<IMigrator>().MigrateAsync("SharingPolicy");
        Assert.DoesNotContain("20261206170936_SignedChangeLog", await db.Database.GetAppliedMigrationsAsync());
        return file;
    }

    private static List<string> Heads(TestNode node) =>
        node.Rows("SELECT sequence, kind FROM log_heads WHERE origin = 'BLZ' ORDER BY sequence, kind");

    private static long Unlinked(TestNode node, string table = "observations") =>
        (long)node.Execute($"SELECT COUNT(*) FROM {table} WHERE origin = 'BLZ' AND change_hash IS NULL")!;

    [Fact]
    public async Task An_upgraded_origin_attests_its_unsigned_history_once_a_head_every_10000_changes_and_a_replica_verifies_it_from_the_first_change()
    {
        var folder = TempFolder.Create();
        try
        {
            string store;
            // More changes than a replica holds waiting for a head: one head over all of them would never verify.
            var count = 70_000;
            await using (var old = await TestNode.StartAsync("BLZ", null, ShareWithAll))
            {
                foreach (var batch in DistinctRefugees(count).Chunk(10_000))
                {
                    await old.Observations.SubmitObservationsAsync(Submit(batch));
                }
                await old.Observations.SubmitObservationsAsync(Submit(Refugees(period: "1990", value: 230))); // a year without a breakdown: revised alone below
                await old.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees(sex: "F")) } });
                store = await PreUpgradeCopyAsync(old, folder);
            }

            await using var origin = await TestNode.StartOnStoreAsync(store, "BLZ", null, ShareWithAll);

            List<string> attested = [.. Enumerable.Range(1, 7).Select(i => $"{i * 10_000}|2"), $"{count + 2}|2"];
            Assert.Equal(attested, Heads(origin));
            Assert.Equal(0L, Unlinked(origin));
            Assert.Equal(0L, (long)origin.Execute("SELECT COUNT(*) FROM observations WHERE salt IS NULL")!);
            await HistoryAttestation.AttestAsync(origin.Services); // once: nothing is left to attest
            Assert.Equal(attested, Heads(origin));
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: "1990", value: 240)));
            Assert.Equal($"{count + 3}|1", Heads(origin)[^1]); // later commits link onto the attested chain

            await using var replica = await PeerSyncTests.ReplicaAsync("PAN", origin.Folder, await SharedIdentity.CredentialAsync(""), null, origin.Peer);
            await PeerSyncTests.ConvergesAsync(origin, replica);
            Assert.Equal(Heads(origin), Heads(replica));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_replica_keeps_its_unsigned_copy_while_the_origin_serves_no_signed_heads_saying_why_then_replaces_it_with_the_attested_log()
    {
        var folder = TempFolder.Create();
        try
        {
            var puller = await SharedIdentity.CredentialAsync("");
            string originStore, replicaStore;
            await using (var old = await TestNode.StartAsync("BLZ", null, ShareWithAll))
            {
                await old.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230), Refugees(sex: "F", value: 120)));
                await old.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
                await old.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees(sex: "F")) } });
                await using (var oldReplica = await PeerSyncTests.ReplicaAsync("PAN", old.Folder, puller, null, old.Peer))
                {
                    await PeerSyncTests.ConvergesAsync(old, oldReplica);
                    replicaStore = await PreUpgradeCopyAsync(oldReplica, folder);
                }
                originStore = await PreUpgradeCopyAsync(old, folder);
            }
            await using var origin = await TestNode.StartOnStoreAsync(originStore, "BLZ", null, ShareWithAll);
            Assert.Equal(["4|2"], Heads(origin));
            // As an origin of the version before serves its log: no heads (and no salts, which change nothing here).
            origin.Execute("CREATE TABLE heads_aside AS SELECT * FROM log_heads; DELETE FROM log_heads");

            await using var replica = await TestNode.StartOnStoreAsync(replicaStore, "PAN", null, PeerSyncTests.PullArgs(folder, puller, origin.Peer));
            Assert.Equal((4L, 4L), (replica.CountRows(), Unlinked(replica)));

            var peer = await PeerSyncTests.PeerInStateAsync(replica, PeerState.Failing);
            Assert.Equal(PeerState.Failing, peer.State);
            Assert.Contains("CHAIN_BROKEN", peer.LastError);
            Assert.Contains("sent no signed head of BLZ's covering changes 1..4", peer.LastError);
            Assert.Equal((4L, 4L), (replica.CountRows(), Unlinked(replica))); // its copy is kept meanwhile

            // The origin upgraded: its attested log replaces the replica's copy, which then follows it.
            origin.Execute("INSERT INTO log_heads SELECT * FROM heads_aside");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (Unlinked(replica) > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            await PeerSyncTests.ConvergesAsync(origin, replica);
            Assert.Equal((4L, 0L), (replica.CountRows(), Unlinked(replica)));
            Assert.Equal(["4|2"], Heads(replica));
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 250)));
            await PeerSyncTests.ConvergesAsync(origin, replica);
            Assert.Equal(PeerState.Connected, (await PeerSyncTests.PeerInStateAsync(replica, PeerState.Connected)).State);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
