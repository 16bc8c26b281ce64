using System.Data.Common;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The sync issue's kill test at the stream level: the real change feed (StreamChanges from an origin
/// node, read with a replica State's token) applied by the replica's write path, cut at many random
/// points — the call cancelled mid-stream after some changes, or a batch failing at COMMIT after its
/// rows were written — and resumed from the replica's cursor each time, ends as an exact copy.
/// </summary>
public class StreamKillTests
{
    /// <summary>How a stream is cut.</summary>
    private enum Cut
    {
        /// <summary>The call is cancelled after the first changes of a message were applied (none: between receive and apply).</summary>
        CancelStream,
        /// <summary>A batch's rows are written, then its transaction fails at COMMIT (between apply and cursor commit); the call is dropped.</summary>
        FailCommit,
    }

    /// <summary>Throws on COMMIT while armed: the batch's rows are written in its transaction, which then rolls back.</summary>
    private sealed class FailingCommit : DbTransactionInterceptor
    {
        public bool Armed { get; set; }
        public int Failed { get; private set; }

        public override InterceptionResult TransactionCommitting(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result)
        {
            Fail();
            return result;
        }

        public override ValueTask<InterceptionResult> TransactionCommittingAsync(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
        {
            Fail();
            return ValueTask.FromResult(result);
        }

        private void Fail()
        {
            if (Armed)
            {
                Armed = false;
                Failed++;
                throw new IOException("the test cut the batch at COMMIT");
            }
        }
    }

    [Fact]
    public async Task A_stream_cut_at_random_points_and_resumed_from_the_cursor_converges_to_an_exact_copy()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await LoadHistoryAsync(origin);
        await using var replica = await TestNode.StartAsync("PAN");
        // The test cuts commits on purpose; EF Core logs each one it sees fail.
        replica.Errors.Expect("TransactionError");
        var expected = await LogAsync(origin);
        Assert.True(expected.Count > 100, $"the data set has {expected.Count} changes");

        // The replica's own store and services, with one addition the test host alone registers: the commit cut.
        var failing = new FailingCommit();
        var newContext = TestStores.Postgres
            ? Contexts<PostgresNodeDbContext>(replica, failing, options => new PostgresNodeDbContext(options))
            : Contexts<NodeDbContext>(replica, failing, options => new NodeDbContext(options));
        var gate = replica.Services.GetRequiredService<WriteGate>();
        var notifier = replica.Services.GetRequiredService<ChangeNotifier>();
        var rules = replica.Services.GetRequiredService<ReplicaRules>();
        // The origin serves PAN as it serves any reader: under the sharing policy (here: everything shared).
        using var tokens = origin.TokensFor(replica.Credential);
        using var channel = origin.ChannelWith(tokens.ToCallCredentials());
        var feed = new SyncService.SyncServiceClient(channel);
        // Verification on: every message goes through the replica's ChainVerifier, with the keys the replica's node has published.
        var keys = replica.Services.GetRequiredService<ILogKeys>();
        var kid = (string)origin.Execute("SELECT key_id FROM log_heads LIMIT 1")!;
        for (var wait = 0; keys.Find("BLZ", kid, DateTimeOffset.UtcNow) is null; wait++)
        {
            Assert.True(wait < 100, "the replica never learnt BLZ's log key");
            keys.RefreshSoon();
            await Task.Delay(100);
        }

        async Task<long> CursorAsync()
        {
            await using var db = newContext();
            return (await OriginLog.LastChangeAsync(db, "BLZ", CancellationToken.None)).Sequence;
        }

        var random = new Random(20261128);
        var cuts = new HashSet<(Cut, long)>();
        var failCommits = 0;
        var sessions = 0;
        var finished = false;
        while (!finished)
        {
            Assert.True(++sessions < 500, "the replica does not converge");
            var cursor = await CursorAsync();
            var verifier = await VerifierAsync(cursor);
            // A cut after 0..7 more changes of this session, of either kind; small messages, so a session spans several.
            var cutAfter = random.Next(0, 8);
            var cut = random.Next(3) == 0 ? Cut.FailCommit : Cut.CancelStream;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var call = feed.StreamChanges(
                new StreamChangesRequest { Origin = "BLZ", AfterSequence = cursor, BatchSize = random.Next(1, 5) }, cancellationToken: stop.Token);
            var applied = 0;
            finished = true;
            await foreach (var message in call.ResponseStream.ReadAllAsync(stop.Token))
            {
                Assert.Equal(message.Changes[^1].OriginSequence, message.LastSequence);
                var verified = verifier.Accept(message);
                if (verified.Changes.Count == 0)
                {
                    continue; // the head that covers them is in a later message
                }
                if (applied + verified.Changes.Count <= cutAfter)
                {
                    await ApplyAsync(verified);
                    applied += verified.Changes.Count;
                    continue;
                }

                // The cut falls inside this message.
                var kept = cutAfter - applied;
                var before = await CursorAsync();
                if (cut == Cut.FailCommit)
                {
                    // The rows up to one past the cut point are written, then COMMIT fails: nothing of the batch stays.
                    var written = verified.Take(kept + 1);
                    failing.Armed = true;
                    await Assert.ThrowsAsync<IOException>(() => ApplyAsync(written));
                    Assert.False(failing.Armed);
                    Assert.Equal(before, await CursorAsync());
                    Assert.Equal(before, replica.CountRows());
                    failCommits++;
                    cuts.Add((Cut.FailCommit, written.Changes[^1].OriginSequence));
                }
                else
                {
                    if (kept > 0)
                    {
                        await ApplyAsync(verified.Take(kept));
                    }
                    cuts.Add((Cut.CancelStream, before + kept));
                }
                stop.Cancel(); // the stream dies with changes still in flight
                finished = false;
                break;
            }
        }

        // At least 20 distinct cut points, several of them at COMMIT.
        Assert.True(cuts.Count >= 20, $"{cuts.Count} distinct cut points");
        Assert.True(cuts.Count(c => c.Item1 == Cut.FailCommit) >= 5, $"{cuts.Count(c => c.Item1 == Cut.FailCommit)} cuts at COMMIT");
        Assert.Equal(failCommits, failing.Failed); // every cut at COMMIT failed it, some at the same point twice

        // An exact copy: the same log, every sequence once, no gap, and the same answers now and as of every change.
        var copy = await LogAsync(replica);
        Assert.Equal(expected, copy);
        Assert.Equal(Enumerable.Range(1, expected.Count).Select(i => (long)i), replica.Rows("SELECT origin_sequence FROM observations WHERE origin = 'BLZ' ORDER BY origin_sequence").Select(long.Parse));
        Assert.Equal(StoredRows(origin), StoredRows(replica));
        Assert.Equal(0, replica.CountRows("withheld_changes"));
        Assert.Equal(await QueryAsync(origin, null), await QueryAsync(replica, null));
        await NodeQueries.AssertAsOfAgreesAsync(origin, replica, QueryAsync);

        async Task<ChainVerifier> VerifierAsync(long cursor)
        {
            await using var db = newContext();
            await db.Database.OpenConnectionAsync();
            var (_, time, hash) = await OriginLog.LinkAsync(db.Database.GetDbConnection(), null, "BLZ", cursor, CancellationToken.None);
            return new ChainVerifier("BLZ", cursor, hash!, time, keys, () => StoreTime.ToMicros(DateTimeOffset.UtcNow));
        }

        async Task ApplyAsync(VerifiedChanges verified)
        {
            var changes = verified.Changes;
            await using var db = newContext();
            var writer = new ReplicaWriter(db, gate, notifier, rules, replica.Services.GetRequiredService<ReceiveStamps>(), replica.Services.GetRequiredService<MirpsExchange.Catalogue.StandardCatalogue>());
            var (applied, duplicates, last) = await writer.ApplyChangesAsync("BLZ", verified, CancellationToken.None);
            // Resumed from the cursor, nothing arrives twice and everything is the next change.
            Assert.Equal((changes.Count, 0, changes[^1].OriginSequence), (applied, duplicates, last));
        }
    }

    /// <summary>Inserts, revisions, deletions and re-insertions over several commits: about 160 changes.</summary>
    private static async Task LoadHistoryAsync(TestNode origin)
    {
        var keys = DistinctRefugees(60);
        await origin.Observations.SubmitObservationsAsync(Submit([.. keys.Take(40)]));
        await origin.Observations.SubmitObservationsAsync(Submit([.. keys.Take(20).Select(o => With(o, 2)), .. keys.Skip(40)]));
        await origin.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { keys.Skip(10).Take(15).Select(KeyOf) } });
        await origin.Observations.SubmitObservationsAsync(Submit([.. keys.Skip(10).Take(5).Select(o => With(o, 3)), .. keys.Take(10).Select(o => With(o, 4))]));
        await origin.Observations.SubmitObservationsAsync(Submit([.. keys.Skip(30).Take(20).Select(o => With(o, 5))]));
        await origin.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { keys.Skip(50).Take(5).Select(KeyOf) } });
    }

    private static Observation With(Observation o, double value)
    {
        var copy = o.Clone();
        copy.Value = value;
        return copy;
    }

    /// <summary>A node's copy of BLZ's log as served to the owner's token.</summary>
    private static async Task<List<StoredObservation>> LogAsync(TestNode node)
    {
        using var call = new SyncService.SyncServiceClient(node.Channel).StreamChanges(new StreamChangesRequest { Origin = "BLZ" }, deadline: DateTime.UtcNow.AddSeconds(30));
        var changes = new List<StoredObservation>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            changes.AddRange(message.Changes.Select(NodeQueries.AsSigned));
        }
        return changes;
    }

    /// <summary>Contexts on <paramref name="node"/>'s own store (its registered options, of the provider's context type <typeparamref name="T"/>) with <paramref name="interceptor"/> added.</summary>
    private static Func<NodeDbContext> Contexts<T>(TestNode node, IInterceptor interceptor, Func<DbContextOptions<T>, NodeDbContext> create) where T : NodeDbContext
    {
        var options = new DbContextOptionsBuilder<T>(node.Services.GetRequiredService<DbContextOptions<T>>()).AddInterceptors(interceptor).Options;
        return () => create(options);
    }

    /// <summary>The stored rows themselves, temporal columns included.</summary>
    private static List<string> StoredRows(TestNode node) => node.Rows(
        "SELECT origin, origin_sequence, indicator_code, country, period, sex, age, country_of_origin, revision, value, status, note, deleted, " +
        "recorded_time, readers, release_time, small_count_threshold, value_withheld, salt, change_hash FROM observations ORDER BY origin, origin_sequence");

    private static async Task<List<string>> QueryAsync(TestNode node, Timestamp? asOf) =>
        [.. (await node.QueryAsync(new StreamObservationsRequest { Countries = { "BLZ" }, AsOfTime = asOf }))
            .Select(s => $"{s.Observation}|{s.Revision}|{s.OriginSequence}|{s.RecordedTime}")];
}
