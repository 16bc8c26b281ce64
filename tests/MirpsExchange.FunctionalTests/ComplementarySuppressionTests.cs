using Microsoft.Extensions.DependencyInjection;
using System.Numerics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Complementary suppression (issue 13, part 3) against real node processes: everything one reader receives (queries,
/// as-of answers, histories and the change feed) is collected, the table's additive constraints (a total _T = the sum
/// of its breakdown, in sex, age and country of origin) and temporal ones (a flow's year = the sum of its quarters, a stock's
/// year = its Q4, as the catalogue's temporal rule says) are written over it as a linear system, and an exact solver
/// (integer elimination, no floating point) checks that no withheld value is determined.
/// </summary>
public class ComplementarySuppressionTests
{
    private const string Threshold = "5";

    private static readonly string[] Sexes = ["F", "M"];
    private static readonly string[] Ages = ["Y0T4", "Y12T17", "Y18T59"];
    private static readonly string[] Origins = ["VEN", "NIC", "HTI"];

    private static Task<TestNode> OriginAsync() => TestNode.StartAsync("BLZ", null,
        SharingPolicyTests.Policy(("Default", "Readers", "all"), ("Default", "SmallCountThreshold", Threshold)));

    [Fact]
    public async Task A_commit_between_deciding_the_withholdings_and_reading_the_rows_is_not_served_against_the_stale_decision()
    {
        await using var origin = await OriginAsync();
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 130)));
        await using var scope = origin.Services.CreateAsyncScope();
        var reads = scope.ServiceProvider.GetRequiredService<MirpsExchange.Node.Grpc.ObservationReads>();

        // The answer decides what Costa Rica may not have (nothing yet), then the breakdown commits before its rows are read.
        var answer = await reads.ServeAsync(new StreamObservationsRequest(), MirpsExchange.Node.Sharing.Reader.State("CRI"),
            MirpsExchange.Node.Grpc.ObservationReads.Revisions.Current, CancellationToken.None);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 127), Refugees(sex: "M", value: 3)));
        var served = await answer.Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}").ToListAsync();

        // One view of the store: the total alone, as it stood; never F = 127 in clear beside the total (M = 130 - 127).
        Assert.Equal(["_T|Unspecified|130"], served);
        Assert.Equal(["F|Complementary|0", "M|SmallCount|0", "_T|Unspecified|130"],
            (await QueryAsync(origin, "CRI")).Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}"));
    }

    [Fact]
    public async Task A_commit_between_deciding_a_feed_batch_s_withholdings_and_reading_its_changes_is_not_served_against_the_stale_decision()
    {
        await using var origin = await OriginAsync();
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 130)));
        // Costa Rica's feed batch decides what it may not have (nothing withheld in the log so far: no complements), then reads its
        // placeholders and its changes; the breakdown commits just before the placeholders are read, so between the decision
        // and the changes.
        using var commit = new BeforeStoreCommand(origin.StoreName, TestStores.Postgres ? "FROM withheld_changes AS w" : "\"withheld_changes\"",
            () => origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 127), Refugees(sex: "M", value: 3))).ResponseAsync);

        var feed = await FeedAsync(origin, "CRI");

        Assert.True(commit.Fired);
        // One view of the store per batch: the total alone as it stood, then the breakdown with its complement in the next
        // batch; never F = 127 in clear beside the total (M = 130 - 127).
        Assert.Equal(["_T|Unspecified|130", "F|Complementary|0", "M|SmallCount|0"], feed.Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}"));
        Assert.Empty(Determined(Collect([], [], [], feed)));
    }

    [Fact]
    public async Task A_following_feed_withholds_the_complement_of_a_small_count_committed_after_it_began()
    {
        await using var origin = await OriginAsync();
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 130)));
        using var tokens = origin.TokensFor(await SharedIdentity.CredentialAsync("CRI"));
        using var channel = origin.ChannelWith(tokens.ToCallCredentials());
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(
            new StreamChangesRequest { Origin = "BLZ", Follow = true }, deadline: DateTime.UtcNow.AddSeconds(30));
        var feed = new List<StoredObservation>();
        Assert.True(await call.ResponseStream.MoveNext());
        feed.AddRange(call.ResponseStream.Current.Changes);

        // Costa Rica's replica follows the log; Belize then commits a breakdown with a small count.
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 127), Refugees(sex: "M", value: 3)));
        while (feed.Count < 3 && await call.ResponseStream.MoveNext())
        {
            feed.AddRange(call.ResponseStream.Current.Changes);
        }

        // The batch that served the total had checked the log for withheld values only as far as it then reached.
        Assert.Equal(["_T|Unspecified|130", "F|Complementary|0", "M|SmallCount|0"], feed.Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}"));
    }

    [Fact]
    public async Task Subtraction_does_not_recover_M_3_from_F_127_and_the_total_130()
    {
        await using var origin = await OriginAsync();
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 127), Refugees(sex: "M", value: 3), Refugees(value: 130)));

        var query = await QueryAsync(origin, "CRI");
        Assert.Equal(["F|Complementary|0", "M|SmallCount|0", "_T|Unspecified|130"], query.Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}"));
        var history = await HistoryAsync(origin, "CRI", KeyOf(Refugees(sex: "F")));
        Assert.Equal([(Withholding.Complementary, 0.0)], history.Select(s => (s.Withholding, s.Observation.Value)));
        // In the feed: the key and the value digest (the chain still verifies), never the salt that would let the value be guessed.
        var feed = await FeedAsync(origin, "CRI");
        var f = Assert.Single(feed, c => c.Observation.Sex == "F");
        Assert.Equal((Withholding.Complementary, 0.0, ObservationStatus.Confidential, 32, 0), (f.Withholding, f.Observation.Value, f.Observation.Status, f.ValueDigest.Length, f.Salt.Length));
        Assert.Empty(Determined(Collect(query, [], history, feed)));

        // The owner and the Secretariat still read everything.
        Assert.Equal([127.0, 3, 130], (await QueryAsync(origin, "BLZ")).Select(s => s.Observation.Value));
        Assert.Equal([127.0, 3, 130], (await QueryAsync(origin, "")).Select(s => s.Observation.Value));
    }

    [Fact]
    public async Task A_feed_read_one_change_at_a_time_withholds_the_complement_that_comes_before_its_small_count()
    {
        await using var origin = await OriginAsync();
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 127), Refugees(sex: "M", value: 3), Refugees(value: 130)));

        // Keys in order within the commit: F (the complement) is change 1, M (the small count) change 2. A feed checked only
        // up to the end of its first batch served F whole before it saw M.
        var feed = await FeedAsync(origin, "CRI", batchSize: 1);

        Assert.Equal(["F|Complementary|0", "M|SmallCount|0", "_T|Unspecified|130"], feed.Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}"));
        Assert.Empty(Determined(Collect([], [], [], feed)));
    }

    [Fact]
    public async Task A_reader_claiming_the_earlier_catalogue_receives_the_same_withholdings()
    {
        // The feed maps changes for a reader on catalogue 1.0.0 after withholding: claiming the older version undoes nothing.
        await using var origin = await OriginAsync();
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 127), Refugees(sex: "M", value: 3), Refugees(value: 130)));

        var feed = await FeedAsync(origin, "CRI", catalogVersion: "1.0.0");

        Assert.Equal(["F|Complementary|0", "M|SmallCount|0", "_T|Unspecified|130"], feed.Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}"));
        Assert.All(feed.Where(c => c.Withholding != Withholding.Unspecified), c => Assert.Equal(0, c.Salt.Length));
    }

    [Fact]
    public async Task An_indicator_not_additive_across_States_still_adds_up_within_one_and_is_protected()
    {
        // PERSONS_ASSISTED is not summed across States (the Darién: two States count the same people), but its breakdown by
        // sex within one State adds up to its total like any other.
        await using var origin = await OriginAsync();
        Observation Assisted(string sex, double value)
        {
            var o = Refugees(sex: sex, value: value);
            o.IndicatorCode = "PERSONS_ASSISTED";
            o.CountryOfOrigin = "";
            return o;
        }
        await origin.Observations.SubmitObservationsAsync(Submit(Assisted("F", 127), Assisted("M", 3), Assisted("_T", 130)));

        var query = await QueryAsync(origin, "CRI");

        Assert.Equal(["F|Complementary|0", "M|SmallCount|0", "_T|Unspecified|130"], query.Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}"));
    }

    [Fact]
    public async Task No_withheld_value_of_random_tables_is_determined_by_everything_one_reader_receives_and_relays_withhold_the_same()
    {
        await using var origin = await OriginAsync();
        var random = new Random(20261206);
        var tables = new[] { ("REFUGEES", "2023"), ("REFUGEES", "2022"), ("ASYLUM_SEEKERS", "2023"), ("OTHERS_IN_NEED", "2023") }
            .Select(t => new GeneratedTable(t.Item1, t.Item2, random)).ToList();
        var asOf = new List<Timestamp>();
        for (var round = 0; round < 4; round++)
        {
            if (round > 0)
            {
                tables.ForEach(t => t.Revise(random));
            }
            // One commit per round, so every state a reader sees is a whole table (README, "Disclosure control": limits).
            await origin.Observations.SubmitObservationsAsync(Submit([.. tables.SelectMany(t => t.Observations())]));
            await Task.Delay(20);
            asOf.Add(Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow));
        }

        // Everything Costa Rica can ask the origin for.
        var current = await QueryAsync(origin, "CRI");
        var snapshots = new List<List<StoredObservation>>();
        foreach (var time in asOf)
        {
            snapshots.Add(await QueryAsync(origin, "CRI", time));
        }
        var histories = new List<StoredObservation>();
        foreach (var key in snapshots.SelectMany(s => s).Select(s => KeyOf(s.Observation)).DistinctBy(k => k.ToString()))
        {
            histories.AddRange(await HistoryAsync(origin, "CRI", key));
        }
        var feed = await FeedAsync(origin, "CRI");
        var received = Collect(current, snapshots, histories, feed);

        Assert.True(received.Withheld.Count(v => v.Reason == Withholding.SmallCount) >= 8, "the generated tables hold few small counts");
        Assert.Contains(received.Withheld, v => v.Reason == Withholding.Complementary);
        Assert.Empty(Determined(received));
        // The test can fail: cell by cell (the complements served in clear), small counts are given away.
        Assert.NotEmpty(Determined(received with { Withheld = [.. received.Withheld.Where(v => v.Reason == Withholding.SmallCount)] }));

        // Deterministic: the Secretariat's node and Costa Rica's, relaying BLZ, withhold the same cells from Guatemala.
        await using var secretariat = await SharingPolicyTests.ReplicaAsync("PAN", "", origin.Folder, origin.Peer);
        await using var costaRica = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        var changes = (int)origin.CountRows();
        await SharingPolicyTests.HoldsAsync(secretariat, changes);
        await SharingPolicyTests.HoldsAsync(costaRica, changes); // the replica's check accepted every complement
        var expected = (await QueryAsync(origin, "GTM")).Select(Show).ToList();
        Assert.Equal(current.Select(Show), expected); // every State but the owner alike
        Assert.Equal(expected, (await QueryAsync(secretariat, "GTM")).Select(Show));
        Assert.Equal(expected, (await QueryAsync(costaRica, "GTM")).Select(Show));
        await NodeQueries.AssertAsOfAgreesAsync(origin, costaRica, async (node, time) => [.. (await QueryAsync(node, "GTM", time)).Select(Show)]);
        // A relay serves a withheld value in the feed as NOT_HELD: only the origin says why.
        var relayed = await FeedAsync(secretariat, "GTM");
        Assert.Equal(feed.Where(c => c.Withholding.IsValueWithheld()).Select(c => c.OriginSequence),
            relayed.Where(c => c.Withholding == Withholding.NotHeld).Select(c => c.OriginSequence));
    }

    /// <summary>ASYLUM_APPLICATIONS, a flow (its year is the sum of its quarters), of <paramref name="period"/>.</summary>
    internal static Observation Applications(string period, double value)
    {
        var o = Refugees(period: period, value: value);
        o.IndicatorCode = "ASYLUM_APPLICATIONS";
        return o;
    }

    [Fact]
    public async Task A_table_decided_for_a_reader_is_decided_again_when_a_later_commit_makes_one_of_its_values_derivable()
    {
        // The node keeps each table's decision per reader and carries it over commits that add nothing to the table (or, in a
        // table where nothing was withheld, only values the reader receives). Each commit below must undo that.
        await using var origin = await OriginAsync();
        string Served(List<StoredObservation> history) => string.Join(",", history.Select(s => $"{s.Withholding}|{s.Observation.Value}"));

        // 2023: nothing withheld yet (the total alone); then F = 127 and M = 3, a small count, in one commit: F = 130 - 3.
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 130)));
        Assert.Equal("Unspecified|130", Served(await HistoryAsync(origin, "CRI", KeyOf(Refugees()))));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 127), Refugees(sex: "M", value: 3)));
        Assert.Equal("Complementary|0", Served(await HistoryAsync(origin, "CRI", KeyOf(Refugees(sex: "F")))));

        // 2022: M = 3 withheld, but no total yet, so nothing derives it and nothing else is withheld; a commit elsewhere
        // changes nothing; then the total arrives, a value the reader would receive, and total - F would give M away: the
        // total (the later commit's revision) is withheld, F stays as it was served.
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", sex: "F", value: 127), Refugees(period: "2022", sex: "M", value: 3)));
        Assert.Equal("Unspecified|127", Served(await HistoryAsync(origin, "CRI", KeyOf(Refugees(period: "2022", sex: "F")))));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2021", value: 40)));
        Assert.Equal("Unspecified|127", Served(await HistoryAsync(origin, "CRI", KeyOf(Refugees(period: "2022", sex: "F")))));
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 130)));
        Assert.Equal("Complementary|0", Served(await HistoryAsync(origin, "CRI", KeyOf(Refugees(period: "2022")))));
        Assert.Equal(["F|Unspecified|127", "M|SmallCount|0", "_T|Complementary|0"],
            (await QueryAsync(origin, "CRI", request: new StreamObservationsRequest { PeriodFrom = "2022", PeriodTo = "2022" }))
                .Select(s => $"{s.Observation.Sex}|{s.Withholding}|{s.Observation.Value}"));
    }

    [Fact]
    public async Task A_small_quarter_of_a_flow_is_not_its_year_minus_the_other_quarters_and_a_replica_of_the_reader_checks_the_complement()
    {
        await using var origin = await OriginAsync();
        // The year = Q1 + Q2 + Q3 + Q4 (submit checks it: TEMPORAL_CONSISTENCY); Q4's 3 is a small count for every other State.
        await origin.Observations.SubmitObservationsAsync(Submit(
            Applications("2023", 130), Applications("2023-Q1", 40), Applications("2023-Q2", 45), Applications("2023-Q3", 42), Applications("2023-Q4", 3)));
        await Task.Delay(20);
        var asOf = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);

        // Q1 (a quarter, not the year) is withheld too, in every answer: the whole year, a query of Q1 alone (Q4 lies outside
        // it), as of a time, a key's history and the change feed, read whole and one change at a time.
        string[] expected = ["2023|Unspecified|130", "2023-Q1|Complementary|0", "2023-Q2|Unspecified|45", "2023-Q3|Unspecified|42", "2023-Q4|SmallCount|0"];
        var query = await QueryAsync(origin, "CRI");
        Assert.Equal(expected, query.Select(s => $"{s.Observation.Period}|{s.Withholding}|{s.Observation.Value}"));
        var firstQuarter = await QueryAsync(origin, "CRI", request: new StreamObservationsRequest { PeriodFrom = "2023-Q1", PeriodTo = "2023-Q1" });
        Assert.Equal(["2023-Q1|Complementary|0"], firstQuarter.Select(s => $"{s.Observation.Period}|{s.Withholding}|{s.Observation.Value}"));
        var snapshot = await QueryAsync(origin, "CRI", asOf);
        var histories = new List<StoredObservation>();
        foreach (var o in query)
        {
            histories.AddRange(await HistoryAsync(origin, "CRI", KeyOf(o.Observation)));
        }
        Assert.Equal((Withholding.Complementary, 0.0), histories.Where(h => h.Observation.Period == "2023-Q1").Select(h => (h.Withholding, h.Observation.Value)).Single());
        var feed = await FeedAsync(origin, "CRI");
        Assert.Equal(expected, feed.Select(s => $"{s.Observation.Period}|{s.Withholding}|{s.Observation.Value}"));
        Assert.Equal(expected, (await FeedAsync(origin, "CRI", batchSize: 1)).Select(s => $"{s.Observation.Period}|{s.Withholding}|{s.Observation.Value}"));
        var received = Collect(query, [snapshot, firstQuarter], histories, feed);
        Assert.Empty(Determined(received));
        // The test can fail: with Q1 served, Q4 = 130 - 40 - 45 - 42.
        Assert.NotEmpty(Determined(received with { Withheld = [.. received.Withheld.Where(v => v.Reason == Withholding.SmallCount)] }));

        // A replica of Costa Rica's accepts the origin's complementary withholding (its check recomputes it over the year) ...
        await using var costaRica = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await SharingPolicyTests.HoldsAsync(costaRica, 5);
        Assert.Equal("", (await PeerAsync(costaRica, origin.Address)).LastError);
        var expectedForGuatemala = (await QueryAsync(origin, "GTM")).Select(Show).ToList();
        Assert.Equal(expectedForGuatemala, (await QueryAsync(costaRica, "GTM")).Select(Show));
        // The Secretariat's node, relaying BLZ, withholds the same cells over the year.
        await using var secretariat = await SharingPolicyTests.ReplicaAsync("PAN", "", origin.Folder, origin.Peer);
        await SharingPolicyTests.HoldsAsync(secretariat, 5);
        Assert.Equal(expectedForGuatemala, (await QueryAsync(secretariat, "GTM")).Select(Show));

        // ... and still refuses one the rule does not produce: Q2 called complementary as well, its value digest kept so the
        // chain verifies, by a peer that says it is the origin's node.
        var log = await LogAsync(origin, "CRI");
        var forged = log.Changes.Single(c => c.Observation.Period == "2023-Q2");
        var digest = new byte[Mirps.Log.ChangeHash.Size];
        Mirps.Log.ChangeHash.ValueDigest(forged.Salt.Span, forged.Observation.Value, forged.Observation.Status, forged.Observation.Note, digest);
        (forged.Salt, forged.ValueDigest, forged.Withholding) = (Google.Protobuf.ByteString.Empty, Google.Protobuf.ByteString.CopyFrom(digest), Withholding.Complementary);
        (forged.Observation.Value, forged.Observation.Status, forged.Observation.Note) = (0, ObservationStatus.Confidential, "");
        await using var hostile = await MaliciousPeer.StartAsync("BLZ");
        hostile.Script = after => log.After(after);
        await using var misled = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, hostile.Peer);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        PeerStatus peer;
        while (!(peer = await PeerAsync(misled, hostile.Address)).LastError.StartsWith("WRONGLY_WITHHELD", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.StartsWith("WRONGLY_WITHHELD: ", peer.LastError);
        Assert.Equal(0, misled.CountRows() + misled.CountRows("withheld_changes"));
    }

    internal static async Task<PeerStatus> PeerAsync(TestNode node, string address) =>
        (await new SyncService.SyncServiceClient(node.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Peers.SingleOrDefault(p => p.Address == address) ?? new PeerStatus();

    /// <summary>BLZ's feed as <paramref name="reader"/> receives it from BLZ's node: changes (without the received time) and heads.</summary>
    internal static async Task<Log> LogAsync(TestNode node, string reader, params uint[] suppressionMethods)
    {
        using var tokens = node.TokensFor(await SharedIdentity.CredentialAsync(reader));
        using var channel = node.ChannelWith(tokens.ToCallCredentials());
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = "BLZ", SuppressionMethods = { suppressionMethods } }, deadline: DateTime.UtcNow.AddSeconds(30));
        var log = new Log([], []);
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            log.Changes.AddRange(message.Changes.Select(NodeQueries.AsSigned));
            log.Heads.AddRange(message.Heads);
        }
        return log;
    }

    /// <summary>One origin's feed: what a node serves a replica resuming after a sequence, in one message.</summary>
    internal sealed record Log(List<StoredObservation> Changes, List<LogHead> Heads)
    {
        public IEnumerable<StreamChangesResponse> After(long after)
        {
            var changes = Changes.Where(c => c.OriginSequence > after).ToList();
            if (changes.Count > 0)
            {
                yield return new StreamChangesResponse { Changes = { changes }, Heads = { Heads.Where(h => h.Sequence > after) }, LastSequence = changes[^1].OriginSequence };
            }
        }
    }

    internal static string Show(StoredObservation s) =>
        $"{s.Observation.IndicatorCode}|{s.Observation.Period}|{s.Observation.Sex}|{s.Observation.Age}|{s.Observation.CountryOfOrigin}|{s.Revision}|{s.Withholding}|{s.Observation.Value}";

    // ---- What one reader receives. ----

    /// <summary>One token per node and reader, as a reader keeps it (the identity server issues ~100 a second).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), string> Tokens = new();

    private static async Task<string> TokenAsync(TestNode node, string reader)
    {
        if (!Tokens.TryGetValue((node.Address, reader), out var token))
        {
            using var tokens = node.TokensFor(await SharedIdentity.CredentialAsync(reader));
            Tokens[(node.Address, reader)] = token = await tokens.GetTokenAsync();
        }
        return token;
    }

    internal static async Task<List<StoredObservation>> QueryAsync(TestNode node, string reader, Timestamp? asOf = null, StreamObservationsRequest? request = null)
    {
        var client = node.ObservationsWith(await TokenAsync(node, reader));
        request ??= new StreamObservationsRequest();
        if (asOf is not null)
        {
            request.AsOfTime = asOf;
        }
        var result = new List<StoredObservation>();
        using var call = client.StreamObservations(request, deadline: DateTime.UtcNow.AddSeconds(30));
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            result.AddRange(message.Observations);
        }
        return result;
    }

    private static async Task<List<StoredObservation>> HistoryAsync(TestNode node, string reader, ObservationKey key)
    {
        var response = await node.ObservationsWith(await TokenAsync(node, reader)).GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = key });
        return [.. response.Revisions];
    }

    internal static async Task<List<StoredObservation>> FeedAsync(TestNode node, string reader, int batchSize = 0, string catalogVersion = "")
    {
        using var tokens = node.TokensFor(await SharedIdentity.CredentialAsync(reader));
        using var channel = node.ChannelWith(tokens.ToCallCredentials());
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(
            new StreamChangesRequest { Origin = "BLZ", BatchSize = batchSize, CatalogVersion = catalogVersion }, deadline: DateTime.UtcNow.AddSeconds(30));
        var changes = new List<StoredObservation>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            changes.AddRange(message.Changes);
        }
        return changes;
    }

    // ---- The linear system. ----

    /// <summary>One revision of one cell: the unknowns and knowns of the system.</summary>
    private sealed record Variable(string Table, string[] Cell, long Revision, Withholding Reason);

    /// <summary>
    /// What a reader knows: the revisions whose value it received in clear somewhere, the ones it received only withheld,
    /// and the states of each table it saw (each a set of (cell, revision) present at once).
    /// </summary>
    private sealed record Received(HashSet<string> Known, List<Variable> Withheld, List<List<(string Table, string[] Cell, long Revision)>> States);

    private static string Id(string table, string[] cell, long revision) => $"{table}|{string.Join('|', cell)}|{revision}";

    /// <summary>A cell of the system: its table (indicator, country, year) and its sex, age, origin and period.</summary>
    private static (string Table, string[] Cell) TableCell(Observation o) => ($"{o.IndicatorCode}|{o.Country}|{o.Period[..4]}", [o.Sex, o.Age, o.CountryOfOrigin, o.Period]);

    private static readonly MirpsExchange.Catalogue.StandardCatalogue Catalogue = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard();

    /// <summary>
    /// The temporal lines among a series' periods (one cell's sex, age and origin), as the indicator's temporal rule in the
    /// catalogue makes them exact once every part is reported: (the longer period, its parts on the line).
    /// </summary>
    private static IEnumerable<(string Whole, string[] Parts)> TemporalLines(string indicator, IEnumerable<string> periods) =>
        MirpsExchange.Catalogue.Validation.Rules.TemporalAggregations.Of(Catalogue.FindIndicator(indicator)!.Indicator) switch
        {
            Mirps.Catalog.V1.TemporalAggregation.Sum => MirpsExchange.TestShared.LinearDisclosure.TemporalLines(periods, stock: false),
            Mirps.Catalog.V1.TemporalAggregation.EndOfPeriod => MirpsExchange.TestShared.LinearDisclosure.TemporalLines(periods, stock: true),
            _ => [],
        };

    private static Received Collect(List<StoredObservation> current, List<List<StoredObservation>> snapshots, List<StoredObservation> histories, List<StoredObservation> feed)
    {
        var everything = current.Concat(snapshots.SelectMany(s => s)).Concat(histories).Concat(feed).Where(s => s.Observation is not null && !s.Deleted).ToList();
        var known = new HashSet<string>();
        var withheld = new Dictionary<string, Variable>();
        foreach (var s in everything)
        {
            var (table, cell) = TableCell(s.Observation);
            var id = Id(table, cell, s.Revision);
            if (s.Withholding == Withholding.Unspecified)
            {
                known.Add(id);
            }
            else
            {
                Assert.True(s.Withholding.IsValueWithheld(), $"a placeholder in a query: {s}");
                withheld.TryAdd(id, new Variable(table, cell, s.Revision, s.Withholding));
            }
        }
        // A revision withheld in one answer and served in another is given away.
        Assert.Empty(withheld.Keys.Intersect(known));

        var states = new List<List<(string, string[], long)>>();
        foreach (var answer in snapshots.Append(current))
        {
            states.Add([.. answer.Select(s => { var (t, c) = TableCell(s.Observation); return (t, c, s.Revision); })]);
        }
        // The feed's own states: each commit (one recorded time) applied in sequence order.
        var state = new Dictionary<string, (string, string[], long)>();
        foreach (var commit in feed.Where(c => c.Observation is not null).GroupBy(c => c.RecordedTime))
        {
            foreach (var change in commit)
            {
                var (table, cell) = TableCell(change.Observation);
                var key = $"{table}|{string.Join('|', cell)}";
                if (change.Deleted)
                {
                    state.Remove(key);
                }
                else
                {
                    state[key] = (table, cell, change.Revision);
                }
            }
            states.Add([.. state.Values]);
        }
        foreach (var (table, cell, revision) in states.SelectMany(s => s))
        {
            var id = Id(table, cell, revision);
            Assert.True(known.Contains(id) || withheld.ContainsKey(id), $"{id} is in a state the reader saw, but neither known nor withheld");
        }
        return new Received(known, [.. withheld.Values], states);
    }

    /// <summary>
    /// The withheld revisions whose value the constraints of every state determine from the known ones: x is determined
    /// exactly when the unit vector of x lies in the row space of the constraints restricted to the unknowns, that is when
    /// dropping x's column lowers their rank. Ranks by fraction-free elimination over BigInteger.
    /// </summary>
    private static List<Variable> Determined(Received received)
    {
        var determined = new List<Variable>();
        foreach (var table in received.Withheld.GroupBy(v => v.Table))
        {
            var unknowns = table.ToList();
            var column = unknowns.Select((v, i) => (Id(v.Table, v.Cell, v.Revision), i)).ToDictionary(p => p.Item1, p => p.i);
            var rows = new List<BigInteger[]>();
            foreach (var state in received.States)
            {
                var cells = state.Where(c => c.Table == table.Key).ToList();
                // A year against its quarters and months (cell[3] is the period), every other dimension fixed.
                foreach (var series in cells.GroupBy(c => string.Join('|', c.Cell[..3])))
                {
                    var byPeriod = series.ToDictionary(c => c.Cell[3]);
                    foreach (var (whole, parts) in TemporalLines(table.Key.Split('|')[0], byPeriod.Keys))
                    {
                        if (!byPeriod.ContainsKey(whole) || !parts.All(byPeriod.ContainsKey))
                        {
                            continue;
                        }
                        var row = new BigInteger[unknowns.Count];
                        foreach (var (c, sign) in parts.Select(p => (byPeriod[p], -1)).Append((byPeriod[whole], 1)))
                        {
                            if (column.TryGetValue(Id(c.Table, c.Cell, c.Revision), out var k))
                            {
                                row[k] += sign;
                            }
                        }
                        if (row.Any(v => !v.IsZero))
                        {
                            rows.Add(row);
                        }
                    }
                }
                for (var d = 0; d < 3; d++)
                {
                    foreach (var line in cells.GroupBy(c => string.Join('|', c.Cell.Select((code, i) => i == d ? "*" : code))))
                    {
                        var total = line.Where(c => c.Cell[d] == "_T").ToList();
                        if (total.Count != 1 || line.Count() < 2)
                        {
                            continue;
                        }
                        var row = new BigInteger[unknowns.Count];
                        var any = false;
                        foreach (var c in line)
                        {
                            var id = Id(c.Table, c.Cell, c.Revision);
                            if (column.TryGetValue(id, out var k))
                            {
                                row[k] += c.Cell[d] == "_T" ? 1 : -1;
                                any = true;
                            }
                        }
                        if (any)
                        {
                            rows.Add(row);
                        }
                    }
                }
            }
            determined.AddRange(MirpsExchange.TestShared.LinearDisclosure.Determined(rows, unknowns.Count).Select(k => unknowns[k]));
        }
        return determined;
    }


    // ---- Generated tables. ----

    /// <summary>
    /// A table of one indicator and period: counts for every sex, age band and origin, and every total over them, so
    /// that each total is the sum of its breakdown in every dimension. About a third of the counts are small.
    /// </summary>
    private sealed class GeneratedTable
    {
        private readonly string _indicator;
        private readonly string _period;
        private readonly Dictionary<(string Sex, string Age, string Origin), double> _leaves = [];

        public GeneratedTable(string indicator, string period, Random random)
        {
            (_indicator, _period) = (indicator, period);
            foreach (var sex in Sexes)
            {
                foreach (var age in Ages)
                {
                    foreach (var origin in Origins)
                    {
                        _leaves[(sex, age, origin)] = Count(random);
                    }
                }
            }
        }

        private static double Count(Random random) => random.Next(3) == 0 ? random.Next(1, 5) : random.Next(5, 300);

        /// <summary>A few counts change: small ones appear and go, and the totals over them follow.</summary>
        public void Revise(Random random)
        {
            var keys = _leaves.Keys.Order().ToList();
            for (var i = 0; i < 3; i++)
            {
                _leaves[keys[random.Next(keys.Count)]] = Count(random);
            }
        }

        public IEnumerable<Observation> Observations()
        {
            foreach (var sex in Sexes.Append("_T"))
            {
                foreach (var age in Ages.Append("_T"))
                {
                    foreach (var origin in Origins.Append("_T"))
                    {
                        var parts = _leaves.Where(l => (sex == "_T" || l.Key.Sex == sex) && (age == "_T" || l.Key.Age == age) && (origin == "_T" || l.Key.Origin == origin)).ToList();
                        if (parts.Count > 0)
                        {
                            yield return Refugees(_indicator, sex, age, origin, parts.Sum(p => p.Value));
                        }
                    }
                }
            }
        }

        private Observation Refugees(string indicator, string sex, string age, string origin, double value)
        {
            var o = Samples.Refugees(period: _period, value: value, sex: sex, age: age, origin: origin);
            o.IndicatorCode = indicator;
            return o;
        }
    }
}
