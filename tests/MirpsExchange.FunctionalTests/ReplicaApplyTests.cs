using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A replica's write path (second part of the sync issue; the peer worker that drives it comes next):
/// another origin's changes applied in sequence, exactly once, keeping the origin's revisions and times.
/// </summary>
public class ReplicaApplyTests
{
    private static async Task<(int Applied, int Duplicates, long Last)> ApplyAsync(TestNode replica, string origin, IReadOnlyList<StoredObservation> changes)
    {
        await using var scope = replica.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ReplicaWriter>().ApplyChangesAsync(origin, replica.Signed.Link(changes), CancellationToken.None);
    }

    private static async Task<TestNode> OriginWithHistoryAsync()
    {
        var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        // Women and children under 5 are parts of the total; neither breakdown is complete, so the total may be revised alone.
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230), Refugees(sex: "F", value: 120), Refugees(age: "Y0T4", value: 110)));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(period: "2022", value: 200)));
        await origin.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees(age: "Y0T4")) } });
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(age: "Y0T4", value: 111)));
        return origin;
    }

    [Fact]
    public async Task Applied_at_any_cut_points_the_replica_answers_current_and_as_of_queries_exactly_like_the_origin()
    {
        await using var origin = await OriginWithHistoryAsync();
        var feed = await FeedAsync(origin);
        var random = new Random(42);
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await using var replica = await TestNode.StartAsync("PAN");
            // Cut the feed at random points; each piece is applied, some twice (a resumed stream resending).
            var position = 0;
            while (position < feed.Count)
            {
                var length = random.Next(1, 4);
                var piece = feed.Skip(position).Take(length).ToList();
                await ApplyAsync(replica, "BLZ", piece);
                if (random.Next(3) == 0)
                {
                    var again = await ApplyAsync(replica, "BLZ", piece);
                    Assert.Equal((0, piece.Count), (again.Applied, again.Duplicates));
                }
                position += length;
            }

            Assert.Equal(await QueryAsync(origin, null), await QueryAsync(replica, null));
            await NodeQueries.AssertAsOfAgreesAsync(origin, replica, QueryAsync);
            Assert.Equal(feed, await FeedAsync(replica, "BLZ"));
            Assert.Equal(StoredPeriods(origin), StoredPeriods(replica));
        }
    }

    /// <summary>Each change's period and its first and last days as stored (range queries read them; no message carries them).</summary>
    private static List<string> StoredPeriods(TestNode node) =>
        node.Rows("SELECT origin_sequence || ' ' || period || ' ' || period_start || ' ' || period_end FROM observations ORDER BY origin_sequence");

    [Fact]
    public async Task A_message_spanning_many_commits_out_of_key_order_is_applied_with_every_keys_revisions_in_order()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        // 24 commits of one key each, every next key before the last in key order: 23 runs, past the few a replica applies as they come.
        var years = Enumerable.Range(0, 12).Select(i => (2023 - i).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        foreach (var year in years)
        {
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: year, value: 100)));
        }
        foreach (var year in years)
        {
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: year, value: 200)));
        }
        var feed = await FeedAsync(origin);
        Assert.Equal(24, feed.Count);
        await using var replica = await TestNode.StartAsync("PAN");

        Assert.Equal((24, 0, 24L), await ApplyAsync(replica, "BLZ", feed));

        Assert.Equal(await QueryAsync(origin, null), await QueryAsync(replica, null));
        Assert.Equal(StoredPeriods(origin), StoredPeriods(replica));
        Assert.All(await QueryAsync(replica, null), row => Assert.Contains("\"value\": 200", row));
        await NodeQueries.AssertAsOfAgreesAsync(origin, replica, QueryAsync);
        Assert.Equal(feed, await FeedAsync(replica, "BLZ"));
    }

    [Fact]
    public async Task First_revisions_inserted_several_to_a_statement_are_in_before_a_later_revision_of_one_of_them()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        // 40 keys in one commit (two full statements of 16 and 8 rows held), then the last key revised.
        var years = Enumerable.Range(1984, 40).Select(y => y.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        await origin.Observations.SubmitObservationsAsync(Submit([.. years.Select(year => Refugees(period: year, value: 100))]));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: years[^1], value: 101)));
        var feed = await FeedAsync(origin);
        Assert.Equal(41, feed.Count);
        await using var replica = await TestNode.StartAsync("PAN");

        Assert.Equal((41, 0, 41L), await ApplyAsync(replica, "BLZ", feed));

        Assert.Equal(await QueryAsync(origin, null), await QueryAsync(replica, null));
        await NodeQueries.AssertAsOfAgreesAsync(origin, replica, QueryAsync);
        Assert.Equal(StoredPeriods(origin), StoredPeriods(replica));
        Assert.Equal(feed, await FeedAsync(replica, "BLZ"));
        Assert.Equal(["1"], replica.Rows("SELECT COUNT(*) FROM observations WHERE period = '2023' AND superseded_time IS NULL"));

        // A key twice in one message (a forged feed): the second statement of 16 rows fails, and nothing of the message stays.
        await using var another = await TestNode.StartAsync("PAN");
        var forged = feed.Select(c => c.Clone()).ToList();
        forged[20].Observation.Period = forged[5].Observation.Period;
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => ApplyAsync(another, "BLZ", forged));
        Assert.Equal(0, another.CountRows());
    }

    [Fact]
    public async Task Full_statements_kept_prepared_on_the_writers_connection_write_each_origin_as_its_own_and_outlive_a_refused_message()
    {
        // The replica keeps its 128-row insert prepared on the writer's pooled connection from one message to the next
        // (FirstRevisionInserts): each message must bind its own origin, and a statement that failed must be usable again.
        await using var replica = await TestNode.StartAsync("PAN");
        var recorded = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1));
        // Key i: a year of 1900-2023, then the same years for women, then for men (the replica checks each change's content, not totals).
        List<StoredObservation> Changes(string origin, int from, int count) => [.. Enumerable.Range(from, count).Select(sequence => new StoredObservation
        {
            Origin = origin, OriginSequence = sequence, Revision = 1, RecordedTime = recorded,
            Policy = new SharingPolicy { Readers = ReaderScope.AllStates },
            Observation = Refugees(country: origin, period: (1900 + (sequence - 1) % 124).ToString(System.Globalization.CultureInfo.InvariantCulture),
                sex: ((sequence - 1) / 124) switch { 0 => "_T", 1 => "F", _ => "M" }, value: sequence),
        })];

        Assert.Equal((200, 0, 200L), await ApplyAsync(replica, "BLZ", Changes("BLZ", 1, 200)));
        Assert.Equal((200, 0, 200L), await ApplyAsync(replica, "CRI", Changes("CRI", 1, 200)));
        // A key twice in a full statement: the statement fails, nothing of the message stays, and the next message is written whole.
        var forged = Changes("BLZ", 201, 150);
        (forged[100].Observation.Period, forged[100].Observation.Sex) = (forged[10].Observation.Period, forged[10].Observation.Sex);
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => ApplyAsync(replica, "BLZ", forged));
        Assert.Equal((150, 0, 350L), await ApplyAsync(replica, "BLZ", Changes("BLZ", 201, 150)));

        Assert.Equal(["BLZ|350|350|BLZ|BLZ", "CRI|200|200|CRI|CRI"],
            replica.Rows("SELECT origin, COUNT(*), MAX(origin_sequence), MIN(country), MAX(country) FROM observations GROUP BY origin ORDER BY origin"));
        Assert.Equal(["0"], replica.Rows("SELECT COUNT(*) FROM observations WHERE value <> origin_sequence"));
    }

    [Fact]
    public async Task A_change_out_of_sequence_is_refused_and_nothing_of_its_batch_is_written()
    {
        await using var origin = await OriginWithHistoryAsync();
        var feed = await FeedAsync(origin);
        await using var replica = await TestNode.StartAsync("PAN");
        await ApplyAsync(replica, "BLZ", feed.Take(2).ToList());

        var gap = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "BLZ", [feed[2], feed[4]]));
        var forged = feed[2].Clone();
        forged.Observation.Country = "CRI";
        var otherCountry = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "BLZ", [forged]));
        Assert.Equal(ReplicaRules.MalformedChange, otherCountry.Reason);
        Assert.Contains("is an observation of \"CRI\"", otherCountry.Message);
        var untimed = feed[2].Clone();
        untimed.RecordedTime = null;
        var noTime = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "BLZ", [untimed]));
        Assert.Contains("change 3 has no recorded time", noTime.Message);
        var notANumber = feed[2].Clone();
        notANumber.Observation.Value = double.NaN;
        var nan = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "BLZ", [notANumber]));
        Assert.Contains("change 3 has the value NaN", nan.Message);
        // A note the origin would refuse (a NUL in it): forged or written by an origin that skipped its checks.
        var nulNote = feed[2].Clone();
        nulNote.Observation.Note = "source\0hidden";
        var nul = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "BLZ", [nulNote]));
        Assert.Equal(ReplicaRules.InvalidContent, nul.Reason);
        Assert.Contains("change 3 is refused", nul.Message);
        Assert.Contains("observation.note: the note holds the control character U+0000", nul.Message);
        var wrongOrigin = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "CRI", [feed[2]]));

        Assert.Equal(ReplicaRules.OutOfSequence, gap.Reason);
        Assert.Contains("change 4 is missing", gap.Message);
        Assert.Equal(ReplicaRules.WrongOrigin, wrongOrigin.Reason);
        Assert.Equal(2, replica.CountRows());
    }

    /// <summary>Content the origin's own node refuses at submit, forged into the next change of its feed (see <see cref="Forge"/>), and part of the reason.</summary>
    public static TheoryData<string, string> InvalidContent() => new()
    {
        { "negative value", "observation.value: the value must not be negative (-5)" },
        { "unknown code", "observation.sex: 'X' is not a code of the SEX dimension" },
        { "over-long note", "observation.note: the note holds at most 1,000 characters; this one has 1,001" },
        { "undeclared dimension filled", "observation.age: WORK_PERMITS does not declare the AGE dimension" },
        { "undefined status", "observation.status: unknown status 9" },
        { "period not yet started", "observation.period: period 2099 has not started yet" },
    };

    [Theory]
    [MemberData(nameof(InvalidContent))]
    public async Task A_change_whose_content_the_origin_would_refuse_at_submit_is_refused_and_nothing_of_its_batch_is_written(string forgery, string reason)
    {
        await using var origin = await OriginWithHistoryAsync();
        var feed = await FeedAsync(origin);
        await using var replica = await TestNode.StartAsync("PAN");
        await ApplyAsync(replica, "BLZ", feed.Take(2).ToList());
        var forged = feed[2].Clone();
        Forge(forged.Observation, forgery);

        // A valid change ahead of the forged one in the same message is not written either.
        var refused = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "BLZ", [feed[1], forged, feed[3]]));

        Assert.Equal(ReplicaRules.InvalidContent, refused.Reason);
        Assert.Contains("BLZ's change 3 is refused", refused.Message);
        Assert.Contains(reason, refused.Message);
        Assert.Equal(2, replica.CountRows());
        Assert.Equal(0, replica.CountRows("withheld_changes"));
        // The genuine change is applied once the feed is right again.
        Assert.Equal(2, (await ApplyAsync(replica, "BLZ", [feed[2], feed[3]])).Applied);
    }

    [Fact]
    public async Task A_small_count_withheld_is_checked_for_everything_but_its_value()
    {
        await using var origin = await OriginWithHistoryAsync();
        var feed = await FeedAsync(origin);
        await using var replica = await TestNode.StartAsync("PAN");
        await ApplyAsync(replica, "BLZ", feed.Take(2).ToList());
        var withheld = feed[2].Clone();
        withheld.Withholding = Withholding.SmallCount;
        withheld.Observation.Value = -1; // not read: the value is withheld
        withheld.Observation.Status = ObservationStatus.Confidential;
        withheld.Observation.Note = "";
        var badCode = withheld.Clone();
        badCode.Observation.Age = "Y200";

        var refused = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "BLZ", [badCode]));
        Assert.Equal(ReplicaRules.InvalidContent, refused.Reason);
        Assert.Contains("observation.age: 'Y200' is not a code of the AGE dimension", refused.Message);
        Assert.Equal(2, replica.CountRows());

        Assert.Equal(1, (await ApplyAsync(replica, "BLZ", [withheld])).Applied);
        Assert.Equal(["1|null"], replica.Rows("SELECT value_withheld, value FROM observations WHERE origin_sequence = 3"));
    }

    private static void Forge(Observation o, string forgery)
    {
        switch (forgery)
        {
            case "negative value": o.Value = -5; break;
            case "unknown code": o.Sex = "X"; break;
            case "over-long note": o.Note = new string('n', 1_001); break;
            case "undeclared dimension filled": o.IndicatorCode = "WORK_PERMITS"; break; // REFUGEES' age _T stays
            case "undefined status": o.Status = (ObservationStatus)9; break;
            case "period not yet started": o.Period = "2099"; break;
            default: throw new ArgumentOutOfRangeException(nameof(forgery), forgery, null);
        }
    }

    [Fact]
    public async Task A_complete_change_that_replaces_its_placeholder_is_kept_in_the_log_and_never_changes_what_the_replica_had()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        foreach (var value in new[] { 100.0, 200, 300 })
        {
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: value)));
        }
        var feed = await FeedAsync(origin);
        Assert.Equal([1L, 2, 3], feed.Select(c => c.Revision));
        await using var replica = await TestNode.StartAsync("PAN");
        // Revision 2 first arrives as an embargo's placeholder (with the digest of its content), so revision 3 supersedes revision 1.
        var content = new byte[Mirps.Log.ChangeHash.Size];
        Assert.True(Mirps.Log.ChangeHash.TryContentDigest(feed[1], content, out _));
        var placeholder = new StoredObservation
        {
            Origin = "BLZ", OriginSequence = 2, RecordedTime = feed[1].RecordedTime, Policy = feed[1].Policy, Withholding = Withholding.Embargoed,
            ContentDigest = Google.Protobuf.ByteString.CopyFrom(content),
        };
        await ApplyAsync(replica, "BLZ", [feed[0], placeholder, feed[2]]);
        Assert.Equal(["300"], replica.Rows("SELECT value FROM observations WHERE superseded_time IS NULL"));
        var before = await QueryAsync(replica, null);

        // A placeholder with another reason replaces the first (a relay that did not hold it, say); the same again is a duplicate.
        var notHeld = placeholder.Clone();
        notHeld.Withholding = Withholding.NotHeld;
        Assert.Equal((1, 0), ((await ApplyAsync(replica, "BLZ", [notHeld])).Applied, (await ApplyAsync(replica, "BLZ", [notHeld])).Applied));
        Assert.Equal([$"2|{(int)Withholding.NotHeld}"], replica.Rows("SELECT origin_sequence, reason FROM withheld_changes"));

        // Content other than the placeholder's digest names is refused, with nothing written.
        var other = feed[1].Clone();
        other.Observation.Value = 250;
        var refused = await Assert.ThrowsAsync<PeerRefusedException>(() => ApplyAsync(replica, "BLZ", [other]));
        Assert.Equal(ReplicaRules.ChainBroken, refused.Reason);
        Assert.Equal(1, replica.CountRows("withheld_changes"));

        // The complete revision 2 arrives (the embargo ended): the log is whole, but revision 3 was already what the
        // replica held, so revision 2 never was: as of any time, the replica answers what it had then.
        var replaced = await ApplyAsync(replica, "BLZ", [feed[1]]);

        Assert.Equal((1, 0), (replaced.Applied, replaced.Duplicates));
        Assert.Equal(0, replica.CountRows("withheld_changes"));
        Assert.Equal(await QueryAsync(origin, null), await QueryAsync(replica, null));
        Assert.Equal(before, await QueryAsync(replica, null));
        Assert.Equal(["1"], replica.Rows("SELECT COUNT(*) FROM observations WHERE origin_sequence = 2 AND superseded_time = received_time"));
        foreach (var received in replica.Rows("SELECT DISTINCT received_time FROM observations"))
        {
            Assert.Equal(before, await QueryAsync(replica, Node.Store.StoreTime.ToTimestamp(long.Parse(received, System.Globalization.CultureInfo.InvariantCulture))));
        }
        Assert.Equal(feed, await FeedAsync(replica, "BLZ"));
        Assert.Equal(
            origin.Rows("SELECT origin_sequence, revision, value, recorded_time, change_hash FROM observations ORDER BY origin_sequence"),
            replica.Rows("SELECT origin_sequence, revision, value, recorded_time, change_hash FROM observations ORDER BY origin_sequence"));
    }

    [Fact]
    public async Task A_replica_refuses_a_write_for_an_origin_it_does_not_own()
    {
        await using var replica = await TestNode.StartAsync("PAN");
        var belize = await replica.TokensFor(await SharedIdentity.CredentialAsync("BLZ"), Mirps.Auth.MirpsAuth.SubmitScope).GetTokenAsync();

        await RpcAssert.ReasonAsync(() => replica.ObservationsWith(belize).SubmitObservationsAsync(Submit(Refugees())).ResponseAsync, StatusCode.PermissionDenied, "COUNTRY_MISMATCH");
        await RpcAssert.InvalidArgumentAsync(() => replica.Observations.SubmitObservationsAsync(Submit(Refugees())).ResponseAsync, "observations[0].country");

        Assert.Equal(0, replica.CountRows());
    }

    private static async Task<List<string>> QueryAsync(TestNode node, Timestamp? asOf) =>
        [.. (await node.QueryAsync(new StreamObservationsRequest { Countries = { "BLZ" }, AsOfTime = asOf }))
            .Select(s => $"{s.Observation}|{s.Revision}|{s.OriginSequence}|{s.RecordedTime}")];

    private static async Task<List<StoredObservation>> FeedAsync(TestNode node, string? origin = null)
    {
        origin ??= node.Country;
        using var call = new SyncService.SyncServiceClient(node.Channel).StreamChanges(new StreamChangesRequest { Origin = origin }, deadline: DateTime.UtcNow.AddSeconds(30));
        var changes = new List<StoredObservation>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            changes.AddRange(message.Changes.Select(NodeQueries.AsSigned));
        }
        return changes;
    }
}
