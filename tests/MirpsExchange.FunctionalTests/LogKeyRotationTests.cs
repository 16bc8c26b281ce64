using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.ChangeLog;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A State rotates its log-signing key without stopping its replicas: `mirps node rotate-log-key` leaves the
/// next key beside the current one, the node's next commit ends with a KEY_ROTATION head signed with the
/// current key that names the next one, and replicas accept the next key from that head on, before and after
/// the identity server publishes it. A rotation head not signed with the origin's key is refused.
/// </summary>
public class LogKeyRotationTests
{
    private static string KeyFile(TestNode node) => Path.Combine(node.Folder, "data", $"log-signing-key-{node.Country.ToLowerInvariant()}.pem");

    private static Task<TestNode> ReplicaAsync(TestNode origin, ClientCredential puller, TestIdentity? identity) =>
        PeerSyncTests.ReplicaAsync("PAN", origin.Folder, puller, identity, origin.Peer);

    private static List<string> Heads(TestNode node, string origin = "BLZ") =>
        node.Rows($"SELECT sequence, kind, key_id FROM log_heads WHERE origin = '{origin}' ORDER BY sequence, kind");

    private static byte[] Spki(string pemFile)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(pemFile));
        return key.ExportSubjectPublicKeyInfo();
    }

    private static string KeyIdOfPem(string pemFile) => LogKeys.KeyId(Spki(pemFile));

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_rotated_key_signs_from_the_next_commit_on_and_replicas_verify_across_the_rotation_before_and_after_the_admin_registers_it()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var origin = await TestNode.StartAsync("BLZ", identity, ShareWithAll);
        var puller = await identity.IssueAsync(Role.Secretariat);
        var keyFile = KeyFile(origin);
        var old = origin.Services.GetRequiredService<OriginSigning>().Signer.KeyId;
        Assert.Equal(old, KeyIdOfPem(keyFile));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        await using var follower = await ReplicaAsync(origin, puller, identity);
        await PeerSyncTests.ConvergesAsync(origin, follower);

        var rotate = await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", keyFile);

        Assert.True(rotate.Code == CliApp.Ok, rotate.Error + rotate.Output);
        var nextFile = LogSigner.NextKeyFile(keyFile);
        var next = KeyIdOfPem(nextFile);
        Assert.Contains($"Next log-signing key {next} is in {nextFile}", rotate.Output);
        Assert.Contains($"--public-key {LogSigner.PublicKeyFile(nextFile)}", rotate.Output);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(nextFile));
        Assert.Equal(["1|1|" + old], Heads(origin)); // nothing in the log until the next commit
        var again = await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", keyFile);
        Assert.Equal(CliApp.Refused, again.Code);
        Assert.Contains($"to key {next} ({nextFile}) is waiting already", again.Error);

        // The next commit: its head and the rotation head, both signed with the old key; then the new key signs.
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 120)));
        Assert.Equal(["1|1|" + old, "2|1|" + old, "2|3|" + old], Heads(origin));
        Assert.Equal(next, LogKeys.KeyId(Convert.FromHexString(Assert.Single(origin.Rows("SELECT next_public_key FROM log_heads WHERE kind = 3")))));
        Assert.Equal(next, origin.Services.GetRequiredService<OriginSigning>().Signer.KeyId);
        Assert.Equal(next, KeyIdOfPem(keyFile));
        Assert.Equal(next, KeyIdOfPem(LogSigner.PublicKeyFile(keyFile)));
        var retired = LogSigner.RetiredKeyFile(keyFile, old);
        Assert.Equal(old, KeyIdOfPem(retired));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(retired));
        Assert.False(File.Exists(nextFile));
        Assert.False(File.Exists(LogSigner.PublicKeyFile(nextFile)));

        // Signed with the new key, which the identity server does not publish yet: replicas take it from the rotation head.
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "M", value: 110)));
        Assert.Equal("3|1|" + next, Heads(origin)[^1]);
        await PeerSyncTests.ConvergesAsync(origin, follower);
        await using (var fresh = await ReplicaAsync(origin, puller, identity))
        {
            await PeerSyncTests.ConvergesAsync(origin, fresh);
            Assert.Equal(Heads(origin), Heads(fresh)); // the rotation head kept, to relay the log as signed
        }

        // The admin registers the new key and retires the old one: heads the old key signed before stay valid.
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // retirement is published to the second
        await identity.Credentials.RegisterLogKeyAsync(new RegisterLogKeyRequest { Country = "BLZ", PublicKey = ByteString.CopyFrom(Spki(keyFile)) });
        await identity.Credentials.RetireLogKeyAsync(new RetireLogKeyRequest { KeyId = old, Reason = "rotated" });
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 90)));
        await PeerSyncTests.ConvergesAsync(origin, follower);
        await using var late = await ReplicaAsync(origin, puller, identity);
        await PeerSyncTests.ConvergesAsync(origin, late);
        var status = await new SyncService.SyncServiceClient(follower.Channel).GetSyncStatusAsync(new GetSyncStatusRequest());
        Assert.Equal((PeerState.Connected, 4L), (Assert.Single(status.Peers).State, status.Peers[0].AppliedSequence));
    }

    [Fact]
    public async Task A_rotation_started_before_the_first_commit_hangs_on_the_first_commit()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        var keyFile = KeyFile(origin);
        var old = origin.Services.GetRequiredService<OriginSigning>().Signer.KeyId;

        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", keyFile)).Code);
        Assert.Empty(Heads(origin)); // an empty log has no head to hang the rotation on
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        var next = origin.Services.GetRequiredService<OriginSigning>().Signer.KeyId;
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 231)));

        Assert.NotEqual(old, next);
        Assert.Equal(["1|1|" + old, "1|3|" + old, "2|1|" + next], Heads(origin));
        await using var replica = await ReplicaAsync(origin, await SharedIdentity.CredentialAsync(""), null);
        await PeerSyncTests.ConvergesAsync(origin, replica);
    }

    /// <summary>Stores <paramref name="head"/> in <paramref name="node"/>'s log behind its back (replacing the head of that sequence and kind).</summary>
    private static void WriteHead(TestNode node, LogHead head)
    {
        using var connection = TestStores.Open(node.Store, node.DatabasePath);
        TestLogKeys.WriteHead(connection, null, head);
    }

    private static LogHead StoredHead(TestNode node, long sequence, LogHeadKind kind)
    {
        var row = Assert.Single(node.Rows($"SELECT hash, key_id, signature, signed_time, next_public_key FROM log_heads WHERE origin = 'BLZ' AND sequence = {sequence} AND kind = {(int)kind}")).Split('|');
        return new LogHead
        {
            Origin = "BLZ", Sequence = sequence, Kind = kind, Hash = ByteString.CopyFrom(Convert.FromHexString(row[0])), KeyId = row[1],
            Signature = ByteString.CopyFrom(Convert.FromHexString(row[2])), SignedTime = MirpsExchange.Node.Store.StoreTime.ToTimestamp(long.Parse(row[3], System.Globalization.CultureInfo.InvariantCulture)),
            NextPublicKey = row[4] == "null" ? ByteString.Empty : ByteString.CopyFrom(Convert.FromHexString(row[4])),
        };
    }

    /// <summary>The replica refuses BLZ's log from its only peer for <paramref name="reason"/>, and holds nothing of it.</summary>
    private static async Task RefusedWithNothingWrittenAsync(TestNode replica, string reason)
    {
        var peer = await PeerSyncTests.PeerInStateAsync(replica, PeerState.Failing);
        Assert.Equal(PeerState.Failing, peer.State);
        Assert.Contains(reason, peer.LastError);
        Assert.Equal(0L, replica.CountRows());
        Assert.Equal(0L, replica.CountRows("log_heads"));
    }

    [Fact]
    public async Task A_rotation_head_a_relay_signs_with_a_key_of_its_own_is_refused_as_UNKNOWN_SIGNING_KEY_and_nothing_is_written()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 231)));
        // What a relay serves (here the origin's store altered behind its node): BLZ's log handed over to the relay's own key.
        using var forger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = forger.ExportSubjectPublicKeyInfo();
        var rotation = StoredHead(origin, 2, LogHeadKind.Commit);
        rotation.Kind = LogHeadKind.KeyRotation;
        rotation.NextPublicKey = ByteString.CopyFrom(spki);
        LogHeadSignature.Sign(rotation, forger, LogKeys.KeyId(spki));
        WriteHead(origin, rotation);

        await using var replica = await ReplicaAsync(origin, await SharedIdentity.CredentialAsync(""), null);

        await RefusedWithNothingWrittenAsync(replica, "UNKNOWN_SIGNING_KEY");
    }

    [Fact]
    public async Task A_genuine_rotation_head_whose_next_key_a_relay_swapped_for_its_own_is_refused_as_SIGNATURE_INVALID_and_nothing_is_written()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", KeyFile(origin))).Code);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 231)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 232)));
        // The relay names its own key in the origin's rotation head, and signs the later head with it.
        using var forger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = forger.ExportSubjectPublicKeyInfo();
        var rotation = StoredHead(origin, 2, LogHeadKind.KeyRotation);
        rotation.NextPublicKey = ByteString.CopyFrom(spki);
        WriteHead(origin, rotation);
        var later = StoredHead(origin, 3, LogHeadKind.Commit);
        LogHeadSignature.Sign(later, forger, LogKeys.KeyId(spki));
        WriteHead(origin, later);

        await using var replica = await ReplicaAsync(origin, await SharedIdentity.CredentialAsync(""), null);

        await RefusedWithNothingWrittenAsync(replica, "SIGNATURE_INVALID");
    }

    [Fact]
    public async Task A_head_after_the_rotation_signed_with_the_old_key_is_refused_by_fresh_and_resuming_replicas_while_the_honest_log_verifies()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        var puller = await SharedIdentity.CredentialAsync("");
        var keyFile = KeyFile(origin);
        var old = origin.Services.GetRequiredService<OriginSigning>().Signer.KeyId;
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", keyFile)).Code);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 231)));
        var folder = TempFolder.Create();
        try
        {
            // A replica that holds the log up to the rotation (its rotation head in its store), stopped there.
            var held = Path.Combine(folder, "held.db");
            await using (var early = await ReplicaAsync(origin, puller, null))
            {
                await PeerSyncTests.ConvergesAsync(origin, early);
                early.CopyStoreTo(held);
            }
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 232)));
            var honest = StoredHead(origin, 3, LogHeadKind.Commit);
            Assert.NotEqual(old, honest.KeyId);

            // A thief of the old key (the origin keeps it as .retired-<kid>.pem; the identity server still publishes it,
            // not retired) signs change 3 with it, as a relay serving BLZ's log.
            using (var thief = ECDsa.Create())
            {
                thief.ImportFromPem(File.ReadAllText(LogSigner.RetiredKeyFile(keyFile, old)));
                var forged = honest.Clone();
                LogHeadSignature.Sign(forged, thief, old);
                WriteHead(origin, forged);
            }
            var refusal = $"signed with key \"{old}\", which was handed over at change 2";

            await using (var fresh = await ReplicaAsync(origin, puller, null))
            {
                await RefusedWithNothingWrittenAsync(fresh, "UNKNOWN_SIGNING_KEY");
                Assert.Contains(refusal, (await PeerSyncTests.PeerInStateAsync(fresh, PeerState.Failing)).LastError);
            }
            File.Copy(held, Path.Combine(folder, "resumed.db"));
            await using (var resumed = await TestNode.StartOnStoreAsync(held, "PAN", null, PeerSyncTests.PullArgs(origin.Folder, puller, origin.Peer)))
            {
                // The rotation is known from its store only: the pull resumes after it.
                var peer = await PeerSyncTests.PeerInStateAsync(resumed, PeerState.Failing);
                Assert.Contains("UNKNOWN_SIGNING_KEY", peer.LastError);
                Assert.Contains(refusal, peer.LastError);
                Assert.Equal(2L, resumed.CountRows());
                Assert.Equal(3L, resumed.CountRows("log_heads"));
            }

            // The honest log verifies across the rotation, from the start and resumed after the rotation.
            WriteHead(origin, honest);
            await using var late = await ReplicaAsync(origin, puller, null);
            await PeerSyncTests.ConvergesAsync(origin, late);
            Assert.Equal(Heads(origin), Heads(late));
            await using var again = await TestNode.StartOnStoreAsync(Path.Combine(folder, "resumed.db"), "PAN", null, PeerSyncTests.PullArgs(origin.Folder, puller, origin.Peer));
            await PeerSyncTests.ConvergesAsync(origin, again);
            Assert.Equal(Heads(origin), Heads(again));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_node_stopped_after_its_rotation_commit_but_before_moving_its_key_files_completes_the_rotation_at_its_next_start()
    {
        var folder = TempFolder.Create();
        try
        {
            var store = Path.Combine(folder, "blz.db");
            string old, next, nextPem;
            await using (var first = await TestNode.StartAsync("BLZ", null, ShareWithAll))
            {
                old = first.Services.GetRequiredService<OriginSigning>().Signer.KeyId;
                await first.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
                Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", KeyFile(first))).Code);
                nextPem = File.ReadAllText(LogSigner.NextKeyFile(KeyFile(first)));
                await first.Observations.SubmitObservationsAsync(Submit(Refugees(value: 231)));
                next = first.Services.GetRequiredService<OriginSigning>().Signer.KeyId;
                first.CopyStoreTo(store);
            }

            // The store holds the rotation head; the key files are as before it: the old key in place, the next one waiting.
            await using var again = await TestNode.StartOnStoreAsync(store,
                data => ServiceDefaults.OwnerOnlyFile.WriteAllText(LogSigner.NextKeyFile(Path.Combine(data, "log-signing-key-blz.pem")), nextPem), "BLZ", null, ShareWithAll);

            Assert.Equal(next, again.Services.GetRequiredService<OriginSigning>().Signer.KeyId);
            Assert.Equal(next, KeyIdOfPem(KeyFile(again)));
            Assert.Equal(old, KeyIdOfPem(LogSigner.RetiredKeyFile(KeyFile(again), old)));
            Assert.False(File.Exists(LogSigner.NextKeyFile(KeyFile(again))));
            await again.Observations.SubmitObservationsAsync(Submit(Refugees(value: 232)));
            Assert.Equal(["1|1|" + old, "2|1|" + old, "2|3|" + old, "3|1|" + next], Heads(again)); // no second rotation head
            await using var replica = await ReplicaAsync(again, await SharedIdentity.CredentialAsync(""), null);
            await PeerSyncTests.ConvergesAsync(again, replica);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_key_a_rotation_handed_over_to_stops_verifying_once_the_admin_retires_it()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var origin = await TestNode.StartAsync("BLZ", identity, ShareWithAll);
        var puller = await identity.IssueAsync(Role.Secretariat);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("node", "rotate-log-key", "--key-file", KeyFile(origin))).Code);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 231)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 232)));
        var next = origin.Services.GetRequiredService<OriginSigning>().Signer.KeyId;
        await using var replica = await TestNode.StartAsync("PAN", identity, [.. PeerSyncTests.PullArgs(origin.Folder, puller, origin.Peer), "--Node:RevocationPollInterval=00:00:01"]);
        await PeerSyncTests.ConvergesAsync(origin, replica);

        // The new key leaked: the admin retires it for BLZ without registering it (which would make it verify heads
        // signed before). Heads it signs from then on are refused, although a verified rotation handed over to it.
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // retirement is published to the second
        await identity.Credentials.RetireLogKeyAsync(new RetireLogKeyRequest { KeyId = next, Country = "BLZ", Reason = "key file copied" });
        var list = replica.Services.GetRequiredService<MirpsExchange.Node.Extensions.RevocationList>();
        for (var wait = 0; !(list.TryGetLogKey("BLZ", next, out var known) && known.RetiredTime is not null); wait++)
        {
            Assert.True(wait < 200, "the replica never learnt that the key is retired");
            await Task.Delay(100);
        }
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 233)));

        var peer = await PeerSyncTests.PeerInStateAsync(replica, PeerState.Failing);
        Assert.Equal(PeerState.Failing, peer.State);
        Assert.Contains("UNKNOWN_SIGNING_KEY", peer.LastError);
        Assert.Contains(next, peer.LastError);
        Assert.Equal(3L, replica.CountRows());
    }
}
