using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.OriginFeeds;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using Log = MirpsExchange.FunctionalTests.Infrastructure.OriginFeed;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A hostile relay (issue 12, "Tests"): the Secretariat pulls PAN from a <see cref="MaliciousPeer"/> that says
/// it is CRI's node and serves PAN's true log (read from PAN's node, heads included) with one thing forged, and
/// from PAN's node itself behind a <see cref="TcpGate"/> that the test opens only once the hostile peer has been
/// judged. For each forgery the Secretariat writes nothing, reports the peer Failing with the reason, and then
/// converges on PAN's own log from PAN.
/// </summary>
public class MaliciousPeerTests
{
    private const string ChainBroken = "CHAIN_BROKEN", SignatureInvalid = "SIGNATURE_INVALID", UnknownKey = "UNKNOWN_SIGNING_KEY",
        Backdated = "BACKDATED", InvalidContent = "INVALID_CONTENT", WronglyWithheld = "WRONGLY_WITHHELD", PeerStalled = "PEER_STALLED", Malformed = "MALFORMED_CHANGE",
        NotAllowedToRelay = "NOT_ALLOWED_TO_RELAY";

    /// <summary>A time a Timestamp cannot hold (after 9999-12-31) and a log time in microseconds cannot either.</summary>
    private static readonly Timestamp Beyond = new() { Seconds = 400_000_000_000_000 };

    /// <summary>Shared with every State but ASYLUM_APPLICATIONS, which only the Secretariat reads.</summary>
    private static readonly string[] PanamaPolicy = [ShareWithAll, "--Node:Sharing:Indicators:ASYLUM_APPLICATIONS:Readers=secretariat"];

    /// <summary>
    /// PAN's node and its log, three commits: 1 REFUGEES F 120 and 2 REFUGEES _T 230; 3 ASYLUM_APPLICATIONS 100;
    /// 4 REFUGEES _T 240 (revision 2). Heads at 2, 3 and 4.
    /// </summary>
    private static async Task<TestNode> PanamaAsync(params string[] policy)
    {
        var pan = await TestNode.StartAsync("PAN", null, policy);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", sex: "F", value: 120)));
        await pan.Observations.SubmitObservationsAsync(Submit(Applications(100)));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240)));
        return pan;
    }

    private static Observation Applications(double value)
    {
        var o = Refugees("PAN", value: value);
        o.IndicatorCode = "ASYLUM_APPLICATIONS";
        return o;
    }

    /// <summary>The Secretariat pulling PAN from each peer with its own credential (the file goes in <paramref name="folder"/>).</summary>
    private static Task<TestSecretariat> SecretariatAsync(string folder, params (string Address, string Country)[] peers) => SecretariatAsync(folder, [], peers);

    private static async Task<TestSecretariat> SecretariatAsync(string folder, string[] extraArgs, params (string Address, string Country)[] peers)
    {
        var file = Path.Combine(folder, $"secretariat-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        return await TestSecretariat.StartAsync(
        [
            $"--Node:Credential={file}",
            .. peers.SelectMany((peer, i) => new[] { $"--Node:Peers:{i}:Address={peer.Address}", $"--Node:Peers:{i}:Country={peer.Country}", $"--Node:Peers:{i}:Origins:0=PAN" }),
            .. extraArgs,
        ]);
    }

    /// <summary>What the Secretariat holds of PAN's log: rows, placeholders and heads, straight from its store.</summary>
    private static (long Rows, long Placeholders, long Heads) Held(TestSecretariat secretariat)
    {
        using var connection = TestStores.Open(secretariat.Store, secretariat.DatabasePath);
        long Count(string table)
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT COUNT(*) FROM {table} WHERE origin = 'PAN'";
            return (long)command.ExecuteScalar()!;
        }
        return (Count("observations"), Count("withheld_changes"), Count("log_heads"));
    }

    /// <summary>Waits until the Secretariat serves PAN's log exactly as PAN's node serves it to the Secretariat, heads included.</summary>
    private static async Task ConvergesAsync(TestSecretariat secretariat, Func<Task<Log>> truth)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var (expected, actual) = (await truth(), await ReadLogAsync(secretariat.Channel));
            if (expected.Changes.SequenceEqual(actual.Changes) && expected.Heads.SequenceEqual(actual.Heads) || DateTime.UtcNow > deadline)
            {
                Assert.Equal(expected.Changes, actual.Changes);
                Assert.Equal(expected.Heads, actual.Heads);
                return;
            }
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// Links <paramref name="changes"/> from the origin's first change and signs a head at each of <paramref name="at"/>
    /// with <paramref name="key"/>: what a State signing whatever it likes (or a thief of its key) produces.
    /// </summary>
    private static List<LogHead> Sign(IReadOnlyList<StoredObservation> changes, ECDsa key, params long[] at) => Sign(changes, key, null, at);

    private static List<LogHead> Sign(IReadOnlyList<StoredObservation> changes, ECDsa key, DateTimeOffset? signedTime, params long[] at)
    {
        var heads = new List<LogHead>();
        var previous = Array.Empty<byte>();
        Span<byte> content = stackalloc byte[ChangeHash.Size];
        foreach (var change in changes)
        {
            Assert.True(ChangeHash.TryContentDigest(change, content, out var problem), problem);
            var link = new byte[ChangeHash.Size];
            ChangeHash.Link(previous, change.Origin, change.OriginSequence, ChangeHash.Micros(change.RecordedTime), ChangeHash.PolicyFields(change.Policy), content, ChangeHash.DraftSharingOf(change.Policy), link);
            previous = link;
            if (at.Contains(change.OriginSequence))
            {
                var head = new LogHead
                {
                    Origin = change.Origin, Sequence = change.OriginSequence, Hash = ByteString.CopyFrom(link), Kind = LogHeadKind.Commit,
                    SignedTime = Timestamp.FromDateTimeOffset(signedTime ?? DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())),
                };
                LogHeadSignature.Sign(head, key, Mirps.Auth.LogKeys.KeyId(key.ExportSubjectPublicKeyInfo()));
                heads.Add(head);
            }
        }
        return heads;
    }

    /// <summary>PAN's own log-signing key, as its node keeps it (the test's stand-in for a State that signs anything).</summary>
    private static ECDsa KeyOf(TestNode pan)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(Path.Combine(pan.Folder, "data", "log-signing-key-pan.pem")));
        return key;
    }

    public static TheoryData<string, string> Forgeries => new()
    {
        { "a fabricated change", ChainBroken },
        { "a real change with its value changed", ChainBroken },
        { "a real change with its policy widened", ChainBroken },
        { "the next sequence ahead of the origin", SignatureInvalid },
        { "a change with a backdated recorded time", Backdated },
        { "a change with a negative value", ChainBroken },
        { "a negative value the origin signed", InvalidContent },
        { "a truncated chain", ChainBroken },
        { "a head with a bad signature", SignatureInvalid },
        { "heads signed by an unregistered key", UnknownKey },
        { "PAN's changes altered and signed with CRI's own registered key", UnknownKey },
        { "a NOT_SHARED placeholder for a change the Secretariat may read", WronglyWithheld }, // it would never ask for it again
        { "a Secretariat-only change PAN signed, relayed complete", NotAllowedToRelay },
        // Times no node writes: refused, where they stopped the Secretariat's node (an exception its pull did not expect).
        { "a recorded time out of range", Malformed },
        { "a release time out of range", Malformed },
        { "a head signed at a time out of range", Malformed },
        { "a placeholder with a withholding reason that does not exist", WronglyWithheld },
        { "an EMBARGOED placeholder for a change whose signed policy has no embargo", WronglyWithheld }, // asked for again at every reconnect
        { "nothing forged", "" },
        { "PAN's heads in reverse order", ChainBroken }, // all genuine, but a later head read first was kept above the changes applied // the control: the hostile peer's honest copy is accepted
    };

    /// <summary>
    /// PAN's log as a CRI relay holds it (<paramref name="relay"/>: the Secretariat-only change a NOT_SHARED placeholder,
    /// served to the Secretariat as NOT_HELD, as an honest relay does), with <paramref name="forgery"/> applied.
    /// </summary>
    private static Log Forge(string forgery, Log relay, Log secretariat, TestNode pan, ECDsa? relayKey = null)
    {
        var log = relay.Copy();
        foreach (var change in log.Changes.Where(c => c.Withholding == Withholding.NotShared && !forgery.StartsWith("a NOT_SHARED", StringComparison.Ordinal)))
        {
            change.Withholding = Withholding.NotHeld;
        }
        var (first, second, third, fourth) = (log.Changes[0], log.Changes[1], log.Changes[2], log.Changes[3]);
        switch (forgery)
        {
            case "a fabricated change":
                log.Changes[1] = new StoredObservation
                {
                    Observation = Refugees("PAN", sex: "M", value: 999), Revision = 1, Origin = "PAN", OriginSequence = 2,
                    RecordedTime = second.RecordedTime, Policy = second.Policy, Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1)),
                };
                break;
            case "a real change with its value changed":
                first.Observation.Value = 12;
                break;
            case "a real change with its policy widened":
                log.Changes[2] = secretariat.Changes[2].Clone();
                Assert.Equal(ReaderScope.SecretariatOnly, log.Changes[2].Policy.Readers);
                log.Changes[2].Policy.Readers = ReaderScope.AllStates; // now a CRI relay looks allowed to hold it
                break;
            case "the next sequence ahead of the origin":
                // Change 5 before PAN commits it, with a head at 5 (PAN's head at 4, relabelled: no other signature is at hand).
                log.Changes.Add(new StoredObservation
                {
                    Observation = Refugees("PAN", value: 999), Revision = 3, Origin = "PAN", OriginSequence = 5,
                    RecordedTime = fourth.RecordedTime, Policy = fourth.Policy, Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1)),
                });
                var ahead = log.Heads[^1].Clone();
                ahead.Sequence = 5;
                log.Heads.Add(ahead);
                break;
            case "a change with a backdated recorded time":
                fourth.RecordedTime = Timestamp.FromDateTimeOffset(third.RecordedTime.ToDateTimeOffset().AddHours(-1));
                break;
            case "a change with a negative value":
                first.Observation.Value = -120;
                break;
            case "a negative value the origin signed":
                first.Observation.Value = -120;
                using (var key = KeyOf(pan))
                {
                    log = log with { Heads = Sign(log.Changes, key, 4) };
                }
                break;
            case "a Secretariat-only change PAN signed, relayed complete":
                log.Changes[2] = secretariat.Changes[2].Clone(); // genuine: it verifies, but CRI may not hold it
                break;
            case "a placeholder with a withholding reason that does not exist":
                third.Withholding = (Withholding)99; // neither asked for again nor ever released
                break;
            case "an EMBARGOED placeholder for a change whose signed policy has no embargo":
                third.Withholding = Withholding.Embargoed; // every pull of PAN would start again before it
                break;
            case "a recorded time out of range":
                fourth.RecordedTime = Beyond;
                break;
            case "a release time out of range":
                first.Policy = first.Policy.Clone();
                first.Policy.ReleaseTime = Beyond;
                break;
            case "a head signed at a time out of range":
                log.Heads[0].SignedTime = Beyond;
                break;
            case "PAN's heads in reverse order":
                log.Heads.Reverse();
                break;
            case "a truncated chain":
                log.Heads.Clear(); // and the stream ends (HoldOpen false)
                break;
            case "a head with a bad signature":
                var signature = log.Heads[0].Signature.ToByteArray();
                signature[10] ^= 1;
                log.Heads[0].Signature = ByteString.CopyFrom(signature);
                break;
            case "PAN's changes altered and signed with CRI's own registered key":
                second.Observation.Value += 1;
                log = log with { Heads = Sign(log.Changes, relayKey ?? throw new ArgumentNullException(nameof(relayKey)), 2, 3, 4) }; // published, but for CRI: it never verifies PAN's log
                break;
            case "heads signed by an unregistered key":
                using (var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256))
                {
                    log = log with { Heads = Sign(log.Changes, stranger, 2, 3, 4) };
                }
                break;
        }
        return log;
    }

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_relay_serving_a_forgery_is_refused_with_nothing_written_and_the_Secretariat_converges_from_the_origin(string forgery, string reason)
    {
        await using var pan = await PanamaAsync(PanamaPolicy);
        // CRI's own log-signing key, registered for CRI: a State with valid credentials and a key of its own.
        using var criKey = await TestLogKeys.KeyAsync(pan.Identity, "CRI");
        var forged = Forge(forgery, await ReadLogAsync(pan, "CRI"), await ReadLogAsync(pan, ""), pan, criKey);
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.Script = forged.After;
        hostile.HoldOpen = forgery != "a truncated chain";
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer, (gate.Address, "PAN"));

        if (reason.Length == 0)
        {
            var followed = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Connected && p.AppliedSequence == 4);
            Assert.Equal((PeerState.Connected, 4L, ""), (followed.State, followed.AppliedSequence, followed.LastError));
            Assert.Equal((3L, 1L, 3L), Held(secretariat)); // the Secretariat-only change as a NOT_HELD placeholder, to ask for again
        }
        else
        {
            var refused = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Failing && p.LastError.StartsWith(reason + ":", StringComparison.Ordinal));
            Assert.Equal(PeerState.Failing, refused.State);
            Assert.StartsWith(reason + ":", refused.LastError);
            Assert.Equal(0, refused.AppliedSequence);
            Assert.Equal((0L, 0L, 0L), Held(secretariat));
        }

        // PAN commits on; once it is reachable the Secretariat holds PAN's own log, change 5 PAN's own.
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 250)));
        gate.Open();
        await ConvergesAsync(secretariat, () => ReadLogAsync(pan, ""));
        Assert.Equal(5, (await MaliciousPeer.PullAsync(secretariat, gate.Address, p => p.AppliedSequence == 5)).AppliedSequence);
        Assert.Equal((5L, 0L, 4L), Held(secretariat));
    }

    /// <summary>
    /// PAN holds its REFUGEES drafts back from States and shows them to the Secretariat, a hold it signs with each change. A relay
    /// that drops the hold from a draft (the Secretariat's node would then relay the draft to States as approved) or adds one to
    /// a change PAN signed without it (keeping an approved change from States) breaks PAN's chain: refused, nothing written, and
    /// the Secretariat converges from PAN.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_relay_that_strips_or_adds_a_draft_hold_is_refused_with_nothing_written(bool strip)
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll,
            "--Node:Sharing:Indicators:REFUGEES:HoldDrafts=true", "--Node:Sharing:Indicators:REFUGEES:ShowDraftsToSecretariat=true");
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Applications(100)));
        var relayed = await ReadLogAsync(pan, "");
        Assert.Equal([DraftSharing.Secretariat, DraftSharing.Unspecified], relayed.Changes.OrderBy(c => c.Observation.IndicatorCode == "REFUGEES" ? 0 : 1).Select(c => c.Policy.DraftSharing));
        Assert.All(relayed.Changes, c => Assert.Equal(Withholding.Unspecified, c.Withholding)); // the draft shown to the Secretariat whole
        var forged = relayed.Changes.First(c => c.Policy.DraftSharing == (strip ? DraftSharing.Secretariat : DraftSharing.Unspecified));
        forged.Policy = new SharingPolicy(forged.Policy) { DraftSharing = strip ? DraftSharing.Unspecified : DraftSharing.Secretariat };
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.Script = relayed.After;
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer, (gate.Address, "PAN"));

        var refused = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Failing && p.LastError.StartsWith(ChainBroken + ":", StringComparison.Ordinal));
        Assert.StartsWith(ChainBroken + ":", refused.LastError);
        Assert.Equal((0L, 0L, 0L), Held(secretariat));

        gate.Open();
        await ConvergesAsync(secretariat, () => ReadLogAsync(pan, ""));
        Assert.Equal((2L, 0L), (Held(secretariat).Rows, Held(secretariat).Placeholders));
    }

    [Fact]
    public async Task A_relay_withholding_a_small_count_from_the_Secretariat_is_refused_and_the_value_comes_from_the_origin()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll, "--Node:Sharing:Default:SmallCountThreshold=5");
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", sex: "F", value: 3)));
        // What CRI's node receives (the small count's value withheld), served to the Secretariat, which may read every
        // value: held as it came, the value would never be asked for again.
        var relayed = await ReadLogAsync(pan, "CRI");
        Assert.Equal(Withholding.SmallCount, relayed.Changes[0].Withholding);
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.Script = relayed.After;
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer, (gate.Address, "PAN"));

        var refused = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Failing && p.LastError.StartsWith(WronglyWithheld + ":", StringComparison.Ordinal));
        Assert.StartsWith(WronglyWithheld + ":", refused.LastError);
        Assert.Equal((0L, 0L, 0L), Held(secretariat));

        gate.Open();
        await ConvergesAsync(secretariat, () => ReadLogAsync(pan, ""));
        Assert.Equal(3, (await ReadLogAsync(secretariat.Channel)).Changes[0].Observation.Value);
    }

    [Fact]
    public async Task A_relay_on_the_same_catalogue_that_says_a_change_is_not_in_the_readers_catalogue_is_retried_not_followed_for_good()
    {
        // Only a peer on a later catalogue can honestly refuse a change this node's catalogue cannot hold (and stop the pull until
        // the node upgrades). A relay on the same catalogue saying so once must not stop the Secretariat's pull of PAN for good.
        await using var pan = await PanamaAsync(PanamaPolicy);
        // What CRI's node holds and serves honestly as a relay: the change not shared with CRI as NOT_HELD.
        var log = Forge("", await ReadLogAsync(pan, "CRI"), await ReadLogAsync(pan, ""), pan);
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        var refusals = 0;
        hostile.Script = after => Interlocked.Increment(ref refusals) == 1
            ? throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, MirpsExchange.Node.Sync.EarlierCatalogueFeed.Reason,
                "PAN's change 1 has APPLICATION_TYPE = REPEAT, which catalogue 1.0.0 cannot hold", new Dictionary<string, string>())
            : log.After(after);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer);

        var followed = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Connected && p.AppliedSequence == 4);

        Assert.Equal((PeerState.Connected, 4L), (followed.State, followed.AppliedSequence));
        Assert.True(refusals >= 2, "the pull was asked again after the refusal");
    }

    [Fact]
    public async Task A_relay_streaming_unsigned_changes_is_refused_before_they_fill_the_replicas_memory()
    {
        await using var pan = await PanamaAsync(PanamaPolicy);
        // One change per message, each with a note of almost 4 MB (the largest message a node reads), never a head.
        var note = new string('x', 3_900_000);
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        StreamChangesResponse Unsigned(int sequence)
        {
            var o = Refugees("PAN", value: sequence);
            o.Note = note;
            return new StreamChangesResponse
            {
                Changes = { new StoredObservation { Observation = o, Revision = sequence, Origin = "PAN", OriginSequence = sequence, RecordedTime = now,
                    Policy = new SharingPolicy { Readers = ReaderScope.AllStates }, Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1)) } },
                LastSequence = sequence,
            };
        }
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.Script = _ => Enumerable.Range(1, 100).Select(Unsigned); // 390 MB
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer, (gate.Address, "PAN"));

        var refused = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Failing && p.LastError.StartsWith(ChainBroken + ":", StringComparison.Ordinal));
        Assert.StartsWith(ChainBroken + ":", refused.LastError);
        Assert.InRange(hostile.Written, 1, 40); // it stopped reading at about 64 MiB held waiting for a head
        Assert.Equal((0L, 0L, 0L), Held(secretariat));
    }

    [Fact]
    public async Task A_relay_streaming_more_unsigned_changes_than_two_commits_hold_is_refused()
    {
        await using var pan = await PanamaAsync(PanamaPolicy);
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var policy = new SharingPolicy { Readers = ReaderScope.AllStates };
        var changes = DistinctRefugees(60_000, "PAN").Select((o, i) => new StoredObservation
        {
            Observation = o, Revision = 1, Origin = "PAN", OriginSequence = i + 1, RecordedTime = now, Policy = policy,
            Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1)),
        }).ToList();
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.Script = _ => changes.Chunk(8_192).Select(chunk => new StreamChangesResponse { Changes = { chunk }, LastSequence = chunk[^1].OriginSequence });
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer, (gate.Address, "PAN"));

        var refused = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Failing && p.LastError.StartsWith(ChainBroken + ":", StringComparison.Ordinal));
        Assert.StartsWith(ChainBroken + ":", refused.LastError);
        Assert.Contains($"1..{ChainVerifierLimit + 1} arrived without a signed head", refused.LastError);
        Assert.Equal((0L, 0L, 0L), Held(secretariat));
    }

    private const int ChainVerifierLimit = MirpsExchange.Node.Sync.ChainVerifier.MaxUnsigned;

    public static TheoryData<string> Garbage => new()
    {
        "0AFFFFFFFF0F", // changes: a length of 4 GiB
        "0A80808080808080808001", // changes: a length varint of ten bytes
        "0A050A030A", // a change whose observation runs past its end
        "0A0C22FFFFFFFFFFFFFFFF7F", // a change whose origin is 2^63 bytes long
        "1A04" + "0A02414243", // a head running past the message
        "FFFFFFFFFFFFFFFFFFFF01", // a tag varint too long
    };

    /// <summary>Bytes no node writes, where the replica decodes the feed with its own parser (ChangeFeedDecoder).</summary>
    [Theory]
    [MemberData(nameof(Garbage))]
    public async Task A_relay_sending_bytes_no_encoder_writes_fails_the_pull_not_the_Secretariat(string hex)
    {
        await using var pan = await PanamaAsync(PanamaPolicy);
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.RawMessage = Convert.FromHexString(hex);
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer, (gate.Address, "PAN"));

        var failing = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Failing && p.LastError.Length > 0);
        Assert.Equal(PeerState.Failing, failing.State);
        Assert.Equal((0L, 0L, 0L), Held(secretariat));
        gate.Open();
        await ConvergesAsync(secretariat, () => ReadLogAsync(pan, "")); // the node runs on
    }

    [Fact]
    public async Task A_thief_of_a_retired_key_cannot_append_to_the_log_by_dating_its_head_before_the_retirement()
    {
        await using var pan = await PanamaAsync(PanamaPolicy);
        // A second log key of PAN's, stolen, then retired; PAN commits on after the retirement (change 5).
        using var stolen = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var identity = await SharedIdentity.GetAsync();
        var registered = await identity.Credentials.RegisterLogKeyAsync(new Mirps.Identity.V1.RegisterLogKeyRequest { Country = "PAN", PublicKey = ByteString.CopyFrom(stolen.ExportSubjectPublicKeyInfo()) });
        var retired = (await identity.Credentials.RetireLogKeyAsync(new Mirps.Identity.V1.RetireLogKeyRequest { KeyId = registered.KeyId, Reason = "stolen" })).LogKey.RetireTime.ToDateTimeOffset();
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 250)));

        // PAN's log as a relay holds it, then change 6, made up, under a head the stolen key dates before its retirement.
        var log = Forge("nothing forged", await ReadLogAsync(pan, "CRI"), await ReadLogAsync(pan, ""), pan);
        var fifth = log.Changes[^1];
        Assert.True(fifth.RecordedTime.ToDateTimeOffset() > retired);
        log.Changes.Add(new StoredObservation
        {
            Observation = Refugees("PAN", value: 999), Revision = fifth.Revision + 1, Origin = "PAN", OriginSequence = 6,
            RecordedTime = fifth.RecordedTime, Policy = fifth.Policy, Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1)),
        });
        log.Heads.AddRange(Sign(log.Changes, stolen, retired.AddMinutes(-1), 6));
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.Script = log.After;
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer, (gate.Address, "PAN"));

        var refused = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Failing && p.LastError.StartsWith(Backdated + ":", StringComparison.Ordinal));
        Assert.StartsWith(Backdated + ":", refused.LastError);
        Assert.Equal((0L, 0L, 0L), Held(secretariat));
        gate.Open();
        await ConvergesAsync(secretariat, () => ReadLogAsync(pan, ""));
    }

    /// <summary>
    /// A node fetches the published log keys while its store is made, before its hosted services start (the first pulls wait
    /// for them). A key retired after that first fetch and before the first message must still verify nothing signed after
    /// its retirement: the fetch at start does not stand in for the polls that follow it.
    /// </summary>
    [Fact]
    public async Task A_log_key_retired_after_the_fetch_at_start_and_before_the_first_message_verifies_nothing_signed_after_it()
    {
        await using var pan = await PanamaAsync(PanamaPolicy);
        using var stolen = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var identity = await SharedIdentity.GetAsync();
        var registered = await identity.Credentials.RegisterLogKeyAsync(new Mirps.Identity.V1.RegisterLogKeyRequest { Country = "PAN", PublicKey = ByteString.CopyFrom(stolen.ExportSubjectPublicKeyInfo()) });
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        await using var hostileGate = new TcpGate(hostile.Address);
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, ["--Node:RevocationPollInterval=00:00:01"], (hostileGate.Address, "CRI"), (gate.Address, "PAN"));
        var list = secretariat.Services.GetRequiredService<MirpsExchange.Node.Extensions.RevocationList>();
        bool Published(bool retired) => list.TryGetLogKey("PAN", registered.KeyId, out var key) && key.RetiredTime is not null == retired;
        for (var wait = 0; !Published(retired: false); wait++)
        {
            Assert.True(wait < 100, "the Secretariat's first fetch publishes the key");
            await Task.Delay(100);
        }

        var retiredAt = (await identity.Credentials.RetireLogKeyAsync(new Mirps.Identity.V1.RetireLogKeyRequest { KeyId = registered.KeyId, Reason = "stolen" })).LogKey.RetireTime.ToDateTimeOffset();
        for (var wait = 0; !Published(retired: true); wait++)
        {
            Assert.True(wait < 100, "the retirement reaches the Secretariat at its next poll, one interval after the fetch at start");
            await Task.Delay(100);
        }
        // PAN's log as a relay holds it, then change 5, made up, under a head the stolen key signs after its retirement.
        var log = Forge("nothing forged", await ReadLogAsync(pan, "CRI"), await ReadLogAsync(pan, ""), pan);
        var fourth = log.Changes[^1];
        log.Changes.Add(new StoredObservation
        {
            Observation = Refugees("PAN", value: 999), Revision = fourth.Revision + 1, Origin = "PAN", OriginSequence = 5,
            RecordedTime = fourth.RecordedTime, Policy = fourth.Policy, Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1)),
        });
        var signedAt = DateTimeOffset.UtcNow;
        Assert.True(signedAt > retiredAt);
        log.Heads.AddRange(Sign(log.Changes, stolen, signedAt, 5));
        hostile.Script = log.After;
        hostileGate.Open();

        var refused = await MaliciousPeer.PullAsync(secretariat, hostileGate.Address, p => p.State == PeerState.Failing && p.LastError.StartsWith(UnknownKey + ":", StringComparison.Ordinal));
        Assert.Contains(registered.KeyId, refused.LastError);
        Assert.Equal((0L, 0L, 0L), Held(secretariat));
        gate.Open();
        await ConvergesAsync(secretariat, () => ReadLogAsync(pan, ""));
    }

    [Fact]
    public async Task A_relay_holding_unsigned_history_sends_no_digest_a_reader_could_guess_a_withheld_value_or_key_from()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, [.. PanamaPolicy, "--Node:Sharing:Default:SmallCountThreshold=5"]);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", sex: "F", value: 3), Applications(100)));
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        await ConvergesAsync(secretariat, () => ReadLogAsync(pan, ""));
        // The Secretariat's copy as one held from before logs were signed: no salts, no links.
        using (var connection = TestStores.Open(secretariat.Store, secretariat.DatabasePath))
        {
            using var legacy = connection.CreateCommand();
            legacy.CommandText = "UPDATE observations SET salt = NULL, change_hash = NULL WHERE origin = 'PAN'";
            Assert.Equal(2, legacy.ExecuteNonQuery());
        }

        // GTM reads PAN's log from the Secretariat: ASYLUM_APPLICATIONS is not shared with it, the count of 3 is small.
        using var tokens = new Mirps.Auth.TokenClient(secretariat.Identity.Http, secretariat.Identity.TokenEndpoint, await SharedIdentity.CredentialAsync("GTM"),
            Mirps.Auth.MirpsAuth.ReadScope, Mirps.Auth.MirpsAuth.NodeAudience(Mirps.Auth.MirpsAuth.Secretariat));
        using var channel = MirpsExchange.Cli.Federation.AuthenticatedChannel.Create(new Uri(secretariat.Address), tokens);
        var read = await ReadLogAsync(channel);
        // (A relay serves a small count as NOT_HELD: only the origin's node serves SMALL_COUNT in the feed.)
        var (notShared, small) = (Assert.Single(read.Changes, c => c.Withholding == Withholding.NotShared), Assert.Single(read.Changes, c => c.Withholding == Withholding.NotHeld));

        // Without a salt a digest is a guess away: the few small values, the catalogue's few keys.
        byte[] Unsalted(double value)
        {
            var digest = new byte[ChangeHash.Size];
            ChangeHash.ValueDigest([], value, ObservationStatus.Normal, "", digest);
            return digest;
        }
        var refugees = Refugees("PAN", sex: "F", value: 3);
        Assert.DoesNotContain(small.ContentDigest.ToByteArray(), Enumerable.Range(1, 4).Select(v =>
        {
            var digest = new byte[ChangeHash.Size];
            ChangeHash.ContentDigest(refugees.IndicatorCode, refugees.Country, refugees.Period, refugees.Sex, refugees.Age, refugees.CountryOfOrigin, 1, false, Unsalted(v), digest);
            return digest;
        }));
        var guess = new byte[ChangeHash.Size];
        var o = Applications(100);
        ChangeHash.ContentDigest(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, 1, false, Unsalted(100), guess);
        Assert.NotEqual(guess, notShared.ContentDigest.ToByteArray());
        var keyOnly = new byte[ChangeHash.Size];
        ChangeHash.ContentDigest(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, 1, false, [], keyOnly);
        Assert.NotEqual(keyOnly, notShared.ContentDigest.ToByteArray());
    }

    [Fact]
    public async Task A_peer_that_says_it_holds_more_but_sends_nothing_is_reported_stalled_not_connected()
    {
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.Holds = 3; // "I hold PAN's log up to 3", then an open stream with nothing on it
        var folder = TempFolder.Create();
        var file = Path.Combine(folder, "secretariat.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        try
        {
            await using var secretariat = await TestSecretariat.StartAsync(
                $"--Node:Credential={file}", "--Node:PeerStallTimeout=00:00:02",
                $"--Node:Peers:0:Address={hostile.Address}", "--Node:Peers:0:Country=CRI", "--Node:Peers:0:Origins:0=PAN");

            var peer = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.LastError.StartsWith(PeerStalled, StringComparison.Ordinal));

            Assert.StartsWith($"{PeerStalled}: the peer says it holds PAN's log further than this node", peer.LastError);
            Assert.True(hostile.Requests.Count >= 1);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public Task A_relay_calling_a_value_a_small_count_is_refused_by_a_State_replica_which_gets_small_counts_from_the_origin_only() =>
        WithheldLieIsRefusedAsync(Withholding.SmallCount, "CRI");

    /// <summary>
    /// A value called COMPLEMENTARY (withheld so that no subtraction gives a small count away) is refused from a relay, as a
    /// small count is, and from the origin's own node when the suppression rule, recomputed by the replica, does not produce
    /// it: here PAN's table has no small count at all, so nothing in it is complementary.
    /// </summary>
    [Theory]
    [InlineData("CRI")]
    [InlineData("PAN")]
    public Task A_value_called_complementary_by_a_relay_or_against_the_rule_is_refused_as_wrongly_withheld(string servedAs) =>
        WithheldLieIsRefusedAsync(Withholding.Complementary, servedAs);

    private static async Task WithheldLieIsRefusedAsync(Withholding withholding, string servedAs)
    {
        // PAN shares REFUGEES with every State and withholds counts of 1-4: 100 is not small.
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll, "--Node:Sharing:Default:SmallCountThreshold=5");
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 100)));
        var genuine = await ReadLogAsync(pan, "GTM");
        Assert.Equal(Withholding.Unspecified, Assert.Single(genuine.Changes).Withholding);
        // CRI tells GTM it is a small count: the value digest from the salt keeps PAN's chain whole, so only the
        // withholding is a lie, and GTM, who cannot see the value, would never ask for it again.
        var lie = genuine.Copy();
        var change = lie.Changes[0];
        var digest = new byte[ChangeHash.Size];
        ChangeHash.ValueDigest(change.Salt.Span, change.Observation.Value, change.Observation.Status, change.Observation.Note, digest);
        (change.Salt, change.ValueDigest, change.Withholding) = (ByteString.Empty, ByteString.CopyFrom(digest), withholding);
        (change.Observation.Value, change.Observation.Status, change.Observation.Note) = (0, ObservationStatus.Confidential, "");
        await using var hostile = await MaliciousPeer.StartAsync(servedAs);
        hostile.Script = lie.After;

        var file = Path.Combine(pan.Folder, $"gtm-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("GTM")));
        await using var guatemala = await TestNode.StartAsync("GTM", null,
            $"--Node:Credential={file}", $"--Node:Peers:0:Address={hostile.Address}", $"--Node:Peers:0:Country={servedAs}", "--Node:Peers:0:Origins:0=PAN");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        PeerStatus peer;
        do
        {
            await Task.Delay(100);
            peer = Assert.Single((await new SyncService.SyncServiceClient(guatemala.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Peers);
        }
        while (!peer.LastError.StartsWith(WronglyWithheld, StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.StartsWith($"{WronglyWithheld}: ", peer.LastError);
        Assert.Equal(0, guatemala.CountRows() + guatemala.CountRows("withheld_changes"));
    }

    [Fact]
    public async Task A_relay_replacing_an_embargoed_placeholder_with_made_up_content_is_refused_and_the_real_content_comes_from_the_origin()
    {
        var release = DateTimeOffset.UtcNow.AddSeconds(10);
        await using var pan = await PanamaAsync(ShareWithAll, $"--Node:Sharing:Indicators:ASYLUM_APPLICATIONS:ReleaseTime={release:O}");
        var before = await ReadLogAsync(pan, "");
        Assert.Equal(Withholding.Embargoed, before.Changes[2].Withholding);
        // Before the release: PAN's log as PAN serves it to the Secretariat (change 3 a placeholder). Asked again
        // from before the placeholder once the embargo ends: made-up content for change 3, with PAN's real heads.
        var madeUp = before.Copy();
        madeUp.Changes[2] = new StoredObservation
        {
            Observation = Applications(7), Revision = 1, Origin = "PAN", OriginSequence = 3,
            RecordedTime = before.Changes[2].RecordedTime, Policy = before.Changes[2].Policy, Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1)),
        };
        await using var hostile = await MaliciousPeer.StartAsync("CRI");
        hostile.Script = after => after == 0 ? before.After(after) : madeUp.After(after);
        await using var gate = new TcpGate(pan.Address);
        await using var secretariat = await SecretariatAsync(pan.Folder, hostile.Peer, (gate.Address, "PAN"));

        await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.AppliedSequence == 4);
        Assert.True(DateTimeOffset.UtcNow < release, "the test machine was too slow to look before the release time");
        Assert.Equal((3L, 1L, 3L), Held(secretariat));

        var refused = await MaliciousPeer.PullAsync(secretariat, hostile.Address, p => p.State == PeerState.Failing && p.LastError.StartsWith(ChainBroken + ":", StringComparison.Ordinal));
        Assert.StartsWith(ChainBroken + ":", refused.LastError);
        Assert.Contains(2L, hostile.Requests); // it was asked again from before the placeholder
        Assert.Equal((3L, 1L, 3L), Held(secretariat)); // still the placeholder

        gate.Open();
        await ConvergesAsync(secretariat, () => ReadLogAsync(pan, ""));
        Assert.Equal((4L, 0L, 3L), Held(secretariat));
    }

    [Fact]
    public async Task An_honest_relay_serves_the_origins_signed_log_to_the_Secretariat_while_the_origin_is_down()
    {
        var folder = TempFolder.Create();
        try
        {
            var pan = await PanamaAsync(ShareWithAll);
            var truth = await ReadLogAsync(pan, "");
            var file = Path.Combine(folder, "cri.json");
            OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("CRI")));
            await using var relay = await TestNode.StartAsync("CRI", null,
                $"--Node:Credential={file}", $"--Node:Peers:0:Address={pan.Address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN");
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while ((long)relay.Execute("SELECT COUNT(*) FROM log_heads WHERE origin = 'PAN' AND sequence = 4")! == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            var panAddress = pan.Address;
            await pan.DisposeAsync();

            await using var secretariat = await SecretariatAsync(folder, relay.Peer, (panAddress, "PAN"));

            await ConvergesAsync(secretariat, () => Task.FromResult(truth));
            var status = await MaliciousPeer.PullAsync(secretariat, relay.Address, p => p.AppliedSequence == 4);
            Assert.Equal((PeerState.Connected, 4L), (status.State, status.AppliedSequence));
            Assert.Equal((4L, 0L, 3L), Held(secretariat));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
