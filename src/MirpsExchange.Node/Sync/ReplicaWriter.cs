using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Mirps.Observation.V1;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// A replica's write path (the origin's is <see cref="SubmitWriter"/>): another node's changes of one
/// origin, applied in one transaction per message. First-revision inserts go in batches through the provider's bulk
/// step (<see cref="FirstRevisionInserts"/>: SQLite's own API, or binary COPY on PostgreSQL), revisions through
/// parameterized SQL, in runs of key order.
/// </summary>
public sealed class ReplicaWriter(
    [FromKeyedServices(NodeDbContext.Writer)] NodeDbContext db, WriteGate gate, ChangeNotifier notifier, ReplicaRules rules, ReceiveStamps stamps,
    MirpsExchange.Catalogue.StandardCatalogue catalogue, SuppressionMethods? methods = null)
{
    /// <summary>A replica applies a message that is at most this many runs in key order as it comes (see <see cref="ApplyChangesAsync"/>).</summary>
    private const int MaxUnsortedRuns = 16;

    /// <summary>
    /// Applies another node's changes of <paramref name="origin"/> (a replica's write path), once their chain
    /// verified against the origin's signed heads (<see cref="ChainVerifier"/>): in sequence order, each
    /// exactly once, under <see cref="ReplicaRules"/>. Changes already held are skipped (a batch applied twice,
    /// or arriving by two paths, changes nothing), except that a complete change replaces the placeholder held
    /// for it, if it is the very change the placeholder's link names; a change that breaks a rule
    /// (<see cref="PeerRefusedException"/>) is refused with nothing written. The origin's own sequence,
    /// revision, recorded time, sharing policy and links are kept, with the time this node received them, and
    /// so are the heads, so this node can relay the log as signed.
    /// </summary>
    public async Task<(int Applied, int Duplicates, long LastSequence)> ApplyChangesAsync(
        string origin, VerifiedChanges verified, CancellationToken cancellationToken)
    {
        var changes = verified.Changes;
        using var _ = await gate.EnterAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var connection = transaction.GetDbTransaction().Connection!;
        var dbTransaction = transaction.GetDbTransaction();
        // When this node received the changes: an answer "as of now" meanwhile reads as of before it (ReceiveStamps).
        using var received = stamps.Receive();
        var now = received.Time;
        var removed = false;
        if (changes.Count > 0 && changes[0].OriginSequence == 1)
        {
            // The origin's log from its start: a copy held from before logs were signed gives way to it.
            removed = await DropUnattestedAsync(connection, dbTransaction, origin, cancellationToken);
        }
        var (last, _) = await OriginLog.LastChangeAsync(connection, dbTransaction, origin, cancellationToken);
        var held = changes.Count > 0 && changes[0].OriginSequence <= last
            ? await PlaceholdersAsync(connection, dbTransaction, origin, changes[0].OriginSequence, last, cancellationToken)
            : [];
        var pending = held.ToDictionary(p => p.Key, p => p.Value.Reason);

        // First the log's rules (ReplicaRules), in sequence order; then the writes, in runs of key order that walk the
        // unique index in order (several times faster than random order) and keep each key's revisions in order.
        // Changes, not their rows: 10,000 rows of large structs took a 1.3 MB array per batch, a large-object
        // allocation each time that drove full garbage collections while a replica caught up.
        var admitted = rules.Admit(origin, changes, last, pending, verified.ContentChecked);
        var (accepted, placeholders, replacing) = (admitted.Accepted, admitted.Placeholders, admitted.Replacing);
        // The complementary-suppression method in force for the origin: the highest its signed heads held here and arriving name. One
        // this node does not implement stops the pull (FAILED_PRECONDITION naming it), before anything is written: it could not serve
        // the figures withholding what other nodes withhold, nor tell the origin's complements from forged ones.
        var method = SuppressionMethods.ToCheck(origin, "the serving node", verified.SuppressionMethod,
            SuppressionMethods.InForce([.. verified.Heads.Select(h => h.SuppressionMethod), .. await SuppressionMethods.LogInForceAsync(db, origin, cancellationToken) is { } heldInForce ? [heldInForce] : Array.Empty<uint>()]),
            (methods ?? SuppressionMethods.All).Implemented);
        if (accepted.Any(c => c.Withholding == Withholding.Complementary) || replacing.Any(c => c.Withholding == Withholding.Complementary))
        {
            await CheckComplementsAsync(origin, changes, replacing, method, cancellationToken);
        }
        foreach (var change in replacing)
        {
            if (held[change.OriginSequence].Hash is { } link && !link.AsSpan().SequenceEqual(verified.HashOf(change).Span))
            {
                throw new PeerRefusedException(ReplicaRules.ChainBroken,
                    $"{origin}'s change {change.OriginSequence} is not the change whose placeholder is held here: its content was replaced on the way");
            }
        }

        await using var insert = new RevisionInsertCommand(connection, dbTransaction, origin);
        using var firstInserts = FirstRevisionInserts.Create(connection, origin, submit: false);
        await using var supersede = new SupersedeCommand(connection, dbTransaction);
        // An origin assigns sequences in key order within each of its commits, so a message is a few runs
        // in key order (one per commit it spans), and each run walks the index in order as it is: sorting
        // is only worth it when the runs are many. In sequence order a key's revisions stay in order.
        var order = new int[accepted.Count];
        var runs = 1;
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
            if (i > 0 && CompareChanges(accepted, i - 1, i) > 0)
            {
                runs++;
            }
        }
        if (runs > MaxUnsortedRuns)
        {
            Array.Sort(order, (x, y) => CompareChanges(accepted, x, y));
        }
        var rows = new RowMemo();
        foreach (var index in order)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var change = accepted[index];
            var row = ToWriteRow(change, rows);
            var time = rows.Micros(change.RecordedTime);
            var integrity = Integrity(change, verified, now);
            if (change.Revision == 1 && !change.Deleted && !row.ValueWithheld)
            {
                firstInserts.Add(row, change.OriginSequence, time, integrity);
                continue;
            }
            firstInserts.Flush(); // a key's first revision is in before its next one supersedes it
            if (change.Revision > 1)
            {
                // "As of" a time is what this node had received by then: the revision before ends now.
                supersede.SupersededTime = now;
                await supersede.ExecuteAsync(row, change.Revision, cancellationToken);
            }
            insert.RecordedTime = time;
            await insert.ExecuteAsync(row, change.OriginSequence, change.Revision, change.Deleted, integrity, cancellationToken);
        }
        firstInserts.Flush();
        if (placeholders.Count + replacing.Count > 0)
        {
            await WritePlaceholdersAsync(connection, dbTransaction, origin, placeholders, verified, now, cancellationToken);
            await ReplacePlaceholdersAsync(connection, dbTransaction, insert, origin, replacing, verified, now, cancellationToken);
        }
        await using (var heads = new LogHeadInsertCommand(connection, dbTransaction))
        {
            foreach (var head in verified.Heads)
            {
                await heads.ExecuteAsync(head, now, cancellationToken);
            }
        }
        var applied = accepted.Count + placeholders.Count + replacing.Count;
        await transaction.CommitAsync(cancellationToken);
        if (removed)
        {
            Sharing.ComplementaryWithholding.RowsRemoved(); // once committed: no table computed before is carried over
        }
        if (applied > 0)
        {
            notifier.Committed();
        }
        return (applied, admitted.Duplicates, admitted.Last);
    }

    /// <summary>What a change keeps of the signed log: its salt (complete) or value digest (small count), its link, when it arrived.</summary>
    private static ChangeIntegrity Integrity(StoredObservation change, VerifiedChanges verified, long now) =>
        new(change.Salt.Memory, change.ValueDigest.Memory, verified.HashOf(change), now);

    /// <summary>
    /// <see cref="ReplicaRules.CheckComplements"/> with what this node holds of the tables of the message's complementary
    /// withholdings, and the first placeholder of the origin's log it keeps (whose key it does not know) after the message.
    /// </summary>
    private async Task CheckComplementsAsync(string origin, IReadOnlyList<StoredObservation> changes, List<StoredObservation> replacing, uint method, CancellationToken cancellationToken)
    {
        var held = new List<ObservationRow>();
        foreach (var table in changes.Where(c => c.Withholding == Withholding.Complementary)
            .Select(c => ComplementaryWithholding.Table.Of(c.Observation.IndicatorCode, c.Observation.Country, c.Observation.Period)).Distinct())
        {
            var periods = table.Periods();
            held.AddRange(await db.Observations.AsNoTracking()
                .Where(o => o.IndicatorCode == table.IndicatorCode && o.Country == table.Country && periods.Contains(o.Period) && o.Origin == origin)
                .ToListAsync(cancellationToken));
        }
        var replaced = replacing.Select(c => c.OriginSequence).ToList();
        var kept = await db.WithheldChanges.AsNoTracking()
            .Where(w => w.Origin == origin && !replaced.Contains(w.OriginSequence))
            .OrderBy(w => w.OriginSequence).Select(w => (long?)w.OriginSequence).FirstOrDefaultAsync(cancellationToken);
        var arriving = changes.Where(ServedObservations.IsPlaceholder).Select(c => (long?)c.OriginSequence).Min();
        rules.CheckComplements(origin, changes, held, kept is null ? arriving : arriving is null ? kept : Math.Min(kept.Value, arriving.Value), method);
    }

    /// <summary>Removes <paramref name="origin"/>'s changes and placeholders held from before logs were signed (no link).</summary>
    private static async Task<bool> DropUnattestedAsync(DbConnection connection, DbTransaction transaction, string origin, CancellationToken cancellationToken)
    {
        var removed = 0;
        foreach (var table in new[] { ObservationRowConfiguration.Table, WithheldChangeConfiguration.Table })
        {
            await using var drop = PositionalCommand.Create(connection, transaction, $"DELETE FROM {table} WHERE origin = @origin AND change_hash IS NULL", "@origin");
            drop.Parameters[0].Value = origin;
            removed += await drop.ExecuteNonQueryAsync(cancellationToken);
        }
        return removed > 0;
    }

    /// <summary>
    /// The row a change admitted by <see cref="ReplicaRules.Admit"/> writes. A declared catalogue 2.0 dimension left empty
    /// (a v1 origin's change mapped to v2) is stored with its default, as the origin stores it: one spelling per key, and
    /// the same hash (the change log leaves a dimension out when empty or at its default).
    /// </summary>
    private WriteRow ToWriteRow(StoredObservation change, RowMemo? memo = null)
    {
        var o = change.Observation;
        var period = memo is null ? MirpsExchange.Catalogue.Periods.Period.Parse(o.Period) : memo.Period(o.Period);
        var withheld = change.Withholding.IsValueWithheld();
        // A withheld value's status says why, so this node can relay the pattern and check the next complements
        // (ComplementarySuppression): CONFIDENTIAL for a small count, UNSPECIFIED for a complementary withholding.
        var status = !withheld ? o.Status : change.Withholding == Withholding.SmallCount ? ObservationStatus.Confidential : ObservationStatus.Unspecified;
        return new WriteRow(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin,
            memo is null ? catalogue.Normalised(o.IndicatorCode, Mirps.Log.AddedDimensions.Of(o)) : memo.Normalised(catalogue, o.IndicatorCode, Mirps.Log.AddedDimensions.Of(o)),
            period.Start, period.End,
            change.Deleted || withheld ? null : o.Value, status, o.Note, Mirps.Log.ValueAttributes.Of(o),
            RowPolicy.FromMessage(change.Policy), withheld);
    }

    /// <summary>
    /// What the rows of one message repeat from change to change, worked out once per value: a period's dates, an indicator's
    /// rule, a recorded time (a commit's changes share one time, and the feed decoder one instance of it).
    /// </summary>
    private sealed class RowMemo
    {
        private string? _period;
        private MirpsExchange.Catalogue.Periods.Period _parsed;
        private string? _indicator;
        private MirpsExchange.Catalogue.IndicatorRule? _rule;
        private Google.Protobuf.WellKnownTypes.Timestamp? _time;
        private long _micros;

        public MirpsExchange.Catalogue.Periods.Period Period(string period)
        {
            if (!string.Equals(period, _period, StringComparison.Ordinal))
            {
                (_parsed, _period) = (MirpsExchange.Catalogue.Periods.Period.Parse(period), period);
            }
            return _parsed;
        }

        /// <summary><see cref="MirpsExchange.Catalogue.StandardCatalogue.Normalised(string, Mirps.Log.AddedDimensions)"/>, the indicator looked up once while it repeats.</summary>
        public Mirps.Log.AddedDimensions Normalised(MirpsExchange.Catalogue.StandardCatalogue catalogue, string indicator, Mirps.Log.AddedDimensions given)
        {
            if (!string.Equals(indicator, _indicator, StringComparison.Ordinal))
            {
                (_rule, _indicator) = (catalogue.FindIndicator(indicator), indicator);
            }
            return _rule is { } rule ? rule.Normalised(given) : given;
        }

        public long Micros(Google.Protobuf.WellKnownTypes.Timestamp time)
        {
            if (!ReferenceEquals(time, _time))
            {
                (_micros, _time) = (StoreTime.ToMicros(time.ToDateTimeOffset()), time);
            }
            return _micros;
        }
    }

    /// <summary>By key, then revision: the order that walks the unique index and keeps a key's revisions in order.</summary>
    private static int CompareChanges(List<StoredObservation> changes, int x, int y)
    {
        var items = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(changes);
        var (a, b) = (items[x].Observation, items[y].Observation);
        var c = WriteRow.CompareKeys(
            [a.IndicatorCode, a.Country, a.Period, a.Sex, a.Age, a.CountryOfOrigin, a.ApplicationType, a.DecisionLevel, a.ProcedureType, a.CountBasis, a.CountryOfDestination],
            [b.IndicatorCode, b.Country, b.Period, b.Sex, b.Age, b.CountryOfOrigin, b.ApplicationType, b.DecisionLevel, b.ProcedureType, b.CountBasis, b.CountryOfDestination]);
        return c != 0 ? c : items[x].Revision.CompareTo(items[y].Revision);
    }

    /// <summary>The placeholders held for <paramref name="origin"/>'s changes from..to, by sequence: why each was withheld, and its link.</summary>
    private static async Task<Dictionary<long, (Withholding Reason, byte[]? Hash)>> PlaceholdersAsync(
        DbConnection connection, DbTransaction transaction, string origin, long from, long to, CancellationToken cancellationToken)
    {
        await using var command = PositionalCommand.Create(connection, transaction,
            $"SELECT origin_sequence, reason, change_hash FROM {WithheldChangeConfiguration.Table} WHERE origin = @origin AND origin_sequence BETWEEN @from AND @to",
            "@origin", "@from", "@to");
        command.Parameters[0].Value = origin;
        command.Parameters[1].Value = from;
        command.Parameters[2].Value = to;
        var placeholders = new Dictionary<long, (Withholding, byte[]?)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            placeholders[reader.GetInt64(0)] = ((Withholding)reader.GetInt32(1), reader.IsDBNull(2) ? null : (byte[])reader.GetValue(2));
        }
        return placeholders;
    }

    private static async Task WritePlaceholdersAsync(
        DbConnection connection, DbTransaction transaction, string origin, List<StoredObservation> placeholders, VerifiedChanges verified, long now, CancellationToken cancellationToken)
    {
        await using var upsert = new PlaceholderUpsertCommand(connection, transaction, origin);
        foreach (var change in placeholders)
        {
            await upsert.ExecuteAsync(change, verified.HashOf(change), now, cancellationToken);
        }
    }

    /// <summary>
    /// Complete changes in place of their placeholders: each is an older revision of its key arriving late,
    /// received now. If no later revision is held, it is current from now on (the one before ends now);
    /// otherwise it was never what this node held as current, and it ends as it begins.
    /// </summary>
    private async Task ReplacePlaceholdersAsync(
        DbConnection connection, DbTransaction transaction, RevisionInsertCommand insert, string origin,
        List<StoredObservation> replacing, VerifiedChanges verified, long now, CancellationToken cancellationToken)
    {
        await using var remove = new PlaceholderRemoveCommand(connection, transaction, origin);
        await using var endPrevious = new EndPreviousRevisionCommand(connection, transaction);
        await using var endThis = new EndLateRevisionCommand(connection, transaction, origin);
        foreach (var change in replacing)
        {
            var row = ToWriteRow(change);
            var time = StoreTime.ToMicros(change.RecordedTime.ToDateTimeOffset());
            await remove.ExecuteAsync(change.OriginSequence, cancellationToken);
            await endPrevious.ExecuteAsync(row, change.Revision, now, cancellationToken);
            insert.RecordedTime = time;
            await insert.ExecuteAsync(row, change.OriginSequence, change.Revision, change.Deleted, Integrity(change, verified, now), cancellationToken);
            await endThis.ExecuteAsync(row, change.Revision, change.OriginSequence, now, cancellationToken);
        }
    }
}
