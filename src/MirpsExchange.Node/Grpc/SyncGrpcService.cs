using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

/// <summary>
/// The change feed: every stored row is a change of its origin's log, identified by (origin, sequence).
/// Every change goes out as the reader may receive it under the policy it carries: complete, with its
/// value withheld, or as a placeholder that keeps the reader's copy of the log free of gaps. This is the
/// serve side of sync; every rule a replica applies to what it is sent is in Sync/ReplicaRules.
/// </summary>
public sealed class SyncGrpcService(
    NodeDbContext db,
    ChangeNotifier notifier,
    StandardCatalogue catalogue,
    MirpsExchange.Node.Sync.PeerStates peers,
    IOptions<NodeOptions> options,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    MirpsExchange.Node.Extensions.RevocationList revocations,
    SharingPolicies policies,
    MirpsExchange.Node.Sync.RecoveryState recovery) : SyncService.SyncServiceBase
{
    /// <summary>How long a following stream sleeps without a commit before it looks at the log again anyway.</summary>
    public static readonly TimeSpan FollowRecheck = TimeSpan.FromSeconds(30);

    public override async Task StreamChanges(StreamChangesRequest request, IServerStreamWriter<StreamChangesResponse> responseStream, ServerCallContext context)
    {
        var reader = NodeAccess.RequireReader(context);
        var violations = new List<(string, string)>();
        if (!catalogue.ReportingCountries.Contains(request.Origin))
        {
            violations.Add(("origin", $"'{request.Origin}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order())})"));
        }
        if (request.AfterSequence < 0)
        {
            violations.Add(("after_sequence", "the sequence to resume after must not be negative (0 reads the whole log)"));
        }
        if (request.BatchSize is < 0 or > ObservationGrpcService.MaxStreamBatchSize)
        {
            violations.Add(("batch_size", $"batch_size must be between 1 and {ObservationGrpcService.MaxStreamBatchSize:N0} (0 for {ObservationGrpcService.DefaultStreamBatchSize:N0})"));
        }
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid change feed request: {violations[0].Item2}", violations);
        }
        if (request.Origin == options.Value.Country && recovery.Reason is Sync.OriginRecovery.QuorumMissing or Sync.OriginRecovery.NoSignedHead)
        {
            // A restored store waiting for a quorum to prove its log's head: a peer (the Secretariat) that took the log from it now
            // would show that head back as the federation's proof. The pull is tried again, and served once the node has recovered.
            throw RpcErrors.WithReason(Google.Rpc.Code.Unavailable, recovery.Reason,
                $"{options.Value.Country}'s node does not serve its own log while its restored store waits for the federation to prove its head ({recovery.Reason}); try again later");
        }
        // A reader on another catalogue version is served only when one catalogue maps the other; an earlier one
        // receives each change as its version expresses it, up to the first it cannot hold (EarlierCatalogueFeed).
        var relation = request.CatalogVersion.Length == 0 ? CatalogueUpgrade.Relation.Same : CatalogueUpgrade.RelationTo(catalogue, request.CatalogVersion, null);
        if (relation == CatalogueUpgrade.Relation.Unrelated)
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, Sync.EarlierCatalogueFeed.CatalogueNotMapped,
                $"this node runs catalogue {catalogue.Version}, which neither maps nor is mapped by the reader's catalogue {request.CatalogVersion}: no change is served",
                new Dictionary<string, string> { ["served_version"] = catalogue.Version, ["reader_version"] = request.CatalogVersion });
        }
        var earlier = relation == CatalogueUpgrade.Relation.ReaderEarlier ? new Sync.EarlierCatalogueFeed(catalogue, request.CatalogVersion) : null;

        var origin = request.Origin;
        var after = request.AfterSequence;
        var readerMethods = SuppressionMethods.ReaderImplements(request.SuppressionMethods);
        var batchSize = request.BatchSize == 0 ? ObservationGrpcService.DefaultStreamBatchSize : request.BatchSize;
        // A follower ends with the call or when the node shuts down (a graceful stop waits for open calls).
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var cancellation = linked.Token;
        // Whether the log up to checkedUpTo holds a value withheld from this reader: until it does, no table needs complements.
        var (withheldSeen, checkedUpTo) = (false, 0L);
        var memo = ComplementaryWithholding.MemoOf(db, reader); // the tables computed for this reader, kept from batch to batch
        try
        {
            while (!cancellation.IsCancellationRequested)
            {
                // A follower's token was checked when the call began; the stream may outlive it (revoked, expired).
                // Checked before every batch and at least every FollowRecheck while idle.
                NodeAccess.RequireStillValid(context, revocations, clock);
                // Taken before reading: a commit after this read wakes the wait below.
                var committed = notifier.Next;
                var sent = false;
                // What is withheld and the rows served come from one read snapshot: a commit in between would be served against a stale decision.
                var snapshot = await ReadSnapshot.BeginAsync(db, cancellation);
                try
                {
                    var now = StoreTime.ToMicros(clock.GetUtcNow());
                    // The complementary-suppression method in force for the origin (its signed heads): a reader that does not
                    // implement it could neither check the withholdings nor serve the figures as every other node does.
                    var method = await SuppressionMethods.ServingAsync(db, origin, cancellation);
                    if (SuppressionMethods.Unmet(origin, method, readerMethods, "the reader") is { } unmet)
                    {
                        throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, SuppressionMethods.NotImplemented, $"{unmet}; no further change is served",
                            new Dictionary<string, string>
                            {
                                ["origin"] = origin, ["suppression_method"] = method.ToString(System.Globalization.CultureInfo.InvariantCulture),
                                ["reader_methods"] = SuppressionMethods.Names(readerMethods),
                            });
                    }
                    if (!reader.IsSecretariat && !reader.Owns(origin) && !withheldSeen)
                    {
                        // Up to the end of the commit the batch ends in: a commit's complements protect its own withheld values, which
                        // may come after the complement in sequence (keys in order: F before M), so a batch ending mid-commit must
                        // not serve F before it sees M.
                        var upTo = await EndOfCommitAsync(origin, after + batchSize, cancellation);
                        withheldSeen = await ComplementaryWithholding.WithheldFrom(
                            db.Observations.AsNoTracking().Where(o => o.Origin == origin && o.OriginSequence > checkedUpTo && o.OriginSequence <= upTo), reader, now)
                            .AnyAsync(cancellation);
                        checkedUpTo = upTo;
                    }
                    var served = new ServedObservations(reader, now, feedOf: options.Value.Country)
                    {
                        Complementary = withheldSeen ? await ComplementsAsync(reader, origin, after, batchSize, now, memo, cancellation) : null,
                        // Drafts held by the origin's signed hold (at the origin and at any relay), or by this origin's configuration.
                        Drafts = await Approval.DraftHold.ForAsync(db, options.Value.Country, policies, catalogue, reader, cancellation, feed: true, origin: origin),
                    };
                    var placeholders = await db.WithheldChanges.AsNoTracking()
                        .Where(w => w.Origin == origin && w.OriginSequence > after)
                        .OrderBy(w => w.OriginSequence)
                        .Take(batchSize)
                        .ToListAsync(cancellation);
                    var rows = ChangeLogReader.ReadAsync(db, origin, after, batchSize, cancellation);
                    var changes = InSequence(rows, placeholders, served, after, batchSize, cancellation);
                    if (earlier is not null)
                    {
                        changes = earlier.Mapped(changes, cancellation);
                    }
                    await foreach (var batch in StoredObservationBatches.ChunkAsync(changes, batchSize, cancellation))
                    {
                        var first = after;
                        after = batch[^1].OriginSequence;
                        var response = new StreamChangesResponse { Changes = { batch }, LastSequence = after, SuppressionMethod = method };
                        // The origin's signed heads for the commits that end in this message: the reader verifies the chain against them.
                        response.Heads.Add(await SignedHeadsAsync(origin, first, after, cancellation));
                        try
                        {
                            await responseStream.WriteAsync(response, cancellation);
                        }
                        catch (InvalidOperationException) when (context.CancellationToken.IsCancellationRequested)
                        {
                            return; // the reader went away mid-message ("the request is complete"): nothing to report, it resumes from its cursor
                        }
                        sent = true;
                    }
                }
                finally
                {
                    if (snapshot is not null)
                    {
                        await snapshot.DisposeAsync();
                    }
                }
                if (earlier?.Refusal is { } refusal)
                {
                    // Everything before the change was sent; the reader learns which change its catalogue cannot hold, and why.
                    throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, Sync.EarlierCatalogueFeed.Reason, refusal,
                        new Dictionary<string, string> { ["served_version"] = catalogue.Version, ["reader_version"] = request.CatalogVersion });
                }
                if (sent)
                {
                    continue; // there may be more right away
                }
                if (!request.Follow)
                {
                    return;
                }
                try
                {
                    await committed.WaitAsync(FollowRecheck, cancellation);
                }
                catch (TimeoutException)
                {
                    // nothing committed for a while: look again anyway
                }
                catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
                {
                    return; // the follower went away, or the node is stopping: the follower resumes elsewhere or later
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The reader went away (or the node is stopping) while a batch was read or its complements computed: it resumes from its cursor.
        }
    }

    public override async Task<GetSyncStatusResponse> GetSyncStatus(GetSyncStatusRequest request, ServerCallContext context)
    {
        var reader = NodeAccess.RequireReader(context);
        var response = new GetSyncStatusResponse { CatalogVersion = catalogue.Version, CatalogDigest = catalogue.Digest, NodeCountry = options.Value.Country };
        // The node's pulls (peer addresses, errors that may quote them) are for its own State and the Secretariat;
        // another State's reader sees what the node holds, as every puller needs, but not where it comes from.
        if (reader.IsSecretariat || reader.Owns(options.Value.Country))
        {
            response.Peers.Add(peers.Snapshot());
            response.WriteRefusal = recovery.WriteRefusal ?? ""; // why its State's writes are refused (store lock lost, restored, recovering), if they are
        }
        else
        {
            response.PeersWithheld = true;
        }
        // Every origin held is a MIRPS State (the feed refuses any other): a seek per State, where a DISTINCT
        // over the store scanned every row on every call (while a peer syncs, its status is polled).
        await db.Database.OpenConnectionAsync(context.CancellationToken); // once for all the seeks (closed with the scope)
        foreach (var origin in catalogue.ReportingCountries.Order(StringComparer.Ordinal))
        {
            var (sequence, time) = await OriginLog.LastChangeAsync(db, origin, context.CancellationToken);
            if (sequence == 0)
            {
                continue;
            }
            var status = new OriginStatus { Origin = origin, LatestSequence = sequence, LastChangeTime = StoreTime.ToTimestamp(time) };
            // The origin's own word for how far its log reached (a recovering origin believes nothing less: OriginRecovery).
            var head = await db.LogHeads.AsNoTracking().Where(h => h.Origin == origin)
                .OrderByDescending(h => h.Sequence).ThenBy(h => h.Kind).FirstOrDefaultAsync(context.CancellationToken);
            if (head is not null)
            {
                status.Head = ChangeLog.LogHeads.ToMessage(head);
            }
            response.Origins.Add(status);
        }
        return response;
    }

    /// <summary>
    /// The last sequence of the commit of <paramref name="origin"/>'s change <paramref name="sequence"/> (a commit's changes share
    /// their recorded time and follow each other); when the log holds no such change, <paramref name="sequence"/> itself, but
    /// never beyond the log's last change: what is checked up to here is never checked again, and a later commit may still
    /// bring a value to withhold (a following feed that counted the log as checked up to its batch size served the
    /// complement of a small count committed after the stream began in clear).
    /// </summary>
    private async Task<long> EndOfCommitAsync(string origin, long sequence, CancellationToken cancellationToken)
    {
        var time = await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.OriginSequence == sequence)
            .Select(o => (long?)o.RecordedTime)
            .FirstOrDefaultAsync(cancellationToken);
        if (time is null)
        {
            return Math.Min(sequence, (await OriginLog.LastChangeAsync(db, origin, cancellationToken)).Sequence);
        }
        var next = await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.OriginSequence > sequence && o.RecordedTime != time)
            .OrderBy(o => o.OriginSequence)
            .Select(o => (long?)o.OriginSequence)
            .FirstOrDefaultAsync(cancellationToken);
        return next is { } first
            ? first - 1
            : Math.Max(sequence, (await OriginLog.LastChangeAsync(db, origin, cancellationToken)).Sequence);
    }

    /// <summary>
    /// The complementary withholdings among <paramref name="origin"/>'s next <paramref name="count"/> changes after
    /// <paramref name="after"/>: the tables (indicator, country, year) they belong to, each read whole (Sharing/ComplementaryWithholding). A relay
    /// serves them NOT_HELD, as it serves small counts.
    /// </summary>
    private async Task<HashSet<(string Origin, long Sequence)>?> ComplementsAsync(
        Reader reader, string origin, long after, int count, long now, ComplementaryWithholding.Memo memo, CancellationToken cancellationToken)
    {
        var tables = await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.OriginSequence > after && o.OriginSequence <= after + count)
            .Select(o => new { o.IndicatorCode, o.Country, o.Period })
            .Distinct()
            .ToListAsync(cancellationToken);
        return await ComplementaryWithholding.ForTablesAsync(db.Observations.AsNoTracking(),
            tables.Select(t => ComplementaryWithholding.Table.Of(t.IndicatorCode, t.Country, t.Period)).Distinct(), reader, catalogue, now, cancellationToken, (memo, db));
    }

    /// <summary>The signed heads of <paramref name="origin"/>'s log held here after <paramref name="after"/> up to <paramref name="last"/>, in sequence order.</summary>
    private async Task<List<Mirps.Observation.V1.LogHead>> SignedHeadsAsync(string origin, long after, long last, CancellationToken cancellationToken)
    {
        var rows = await db.LogHeads.AsNoTracking()
            .Where(h => h.Origin == origin && h.Sequence > after && h.Sequence <= last)
            .OrderBy(h => h.Sequence).ThenBy(h => h.Kind)
            .ToListAsync(cancellationToken);
        return rows.ConvertAll(ChangeLog.LogHeads.ToMessage);
    }

    /// <summary>
    /// The held changes and the placeholders of one origin merged in sequence order, as the reader receives
    /// them, at most <paramref name="count"/>: both lists start after <paramref name="after"/> and are sorted.
    /// A node's copy of a log has no gap (a replica applies nothing out of sequence), so a gap here means a
    /// commit landed between the two reads: the batch stops before it and the next read sees both sides.
    /// </summary>
    private static async IAsyncEnumerable<Mirps.Observation.V1.StoredObservation> InSequence(
        IAsyncEnumerable<ObservationRow> rows, List<WithheldChange> placeholders, ServedObservations served, long after, int count,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var next = 0;
        var expected = after + 1;
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            while (next < placeholders.Count && placeholders[next].OriginSequence < row.OriginSequence)
            {
                if (placeholders[next].OriginSequence != expected || expected - after > count)
                {
                    yield break;
                }
                yield return served.Serve(placeholders[next++]);
                expected++;
            }
            if (row.OriginSequence != expected || expected - after > count)
            {
                yield break;
            }
            yield return served.Serve(row);
            expected++;
        }
        while (next < placeholders.Count && placeholders[next].OriginSequence == expected && expected - after <= count)
        {
            yield return served.Serve(placeholders[next++]);
            expected++;
        }
    }
}
