using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Mirps.Observation.V1;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// A replica's write path (the origin's is <see cref="SubmitWriter"/>): another node's changes of one
/// origin, applied in one transaction per message. First-revision inserts go in batches through SQLite's
/// own API (<see cref="FirstRevisionInserts"/>), revisions through parameterized SQL, in runs of key order.
/// </summary>
public sealed class ReplicaWriter([FromKeyedServices(NodeDbContext.Writer)] NodeDbContext db, WriteGate gate, ChangeNotifier notifier, ReplicaRules rules)
{
    /// <summary>A replica applies a message that is at most this many runs in key order as it comes (see <see cref="ApplyChangesAsync"/>).</summary>
    private const int MaxUnsortedRuns = 16;

    /// <summary>
    /// Applies another node's changes of <paramref name="origin"/> (a replica's write path): in sequence
    /// order, each exactly once, under <see cref="ReplicaRules"/>. Changes already held are skipped (a batch
    /// applied twice, or arriving by two paths, changes nothing), except that a complete change replaces
    /// the placeholder held for it; a change that breaks a rule (<see cref="PeerRefusedException"/>) is
    /// refused with nothing written. The origin's own sequence, revision, recorded time and sharing policy are kept.
    /// </summary>
    public async Task<(int Applied, int Duplicates, long LastSequence)> ApplyChangesAsync(
        string origin, IReadOnlyList<StoredObservation> changes, CancellationToken cancellationToken)
    {
        using var _ = await gate.EnterAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var connection = transaction.GetDbTransaction().Connection!;
        var dbTransaction = transaction.GetDbTransaction();
        var (last, _) = await OriginLog.LastChangeAsync(connection, dbTransaction, origin, cancellationToken);
        var pending = changes.Count > 0 && changes[0].OriginSequence <= last
            ? await PlaceholdersAsync(connection, dbTransaction, origin, changes[0].OriginSequence, last, cancellationToken)
            : [];

        // First the log's rules (ReplicaRules), in sequence order; then the writes, in runs of key order that walk the
        // unique index in order (several times faster than random order) and keep each key's revisions in order.
        // Changes, not their rows: 10,000 rows of large structs took a 1.3 MB array per batch, a large-object
        // allocation each time that drove full garbage collections while a replica caught up.
        var admitted = rules.Admit(origin, changes, last, pending);
        var (accepted, placeholders, replacing) = (admitted.Accepted, admitted.Placeholders, admitted.Replacing);

        await using var insert = new RevisionInsertCommand(connection, dbTransaction, origin);
        using var firstInserts = new FirstRevisionInserts(connection, origin, submit: false);
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
        foreach (var index in order)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var change = accepted[index];
            var row = ToWriteRow(change);
            var time = StoreTime.ToMicros(change.RecordedTime.ToDateTimeOffset());
            if (change.Revision == 1 && !change.Deleted && !row.ValueWithheld)
            {
                firstInserts.Add(row, change.OriginSequence, time);
                continue;
            }
            firstInserts.Flush(); // a key's first revision is in before its next one supersedes it
            if (change.Revision > 1)
            {
                supersede.SupersededTime = time;
                await supersede.ExecuteAsync(row, change.Revision, cancellationToken);
            }
            insert.RecordedTime = time;
            await insert.ExecuteAsync(row, change.OriginSequence, change.Revision, change.Deleted, cancellationToken);
        }
        firstInserts.Flush();
        if (placeholders.Count + replacing.Count > 0)
        {
            await WritePlaceholdersAsync(connection, dbTransaction, origin, placeholders, cancellationToken);
            await ReplacePlaceholdersAsync(connection, dbTransaction, insert, origin, replacing, cancellationToken);
        }
        var applied = accepted.Count + placeholders.Count + replacing.Count;
        await transaction.CommitAsync(cancellationToken);
        if (applied > 0)
        {
            notifier.Committed();
        }
        return (applied, admitted.Duplicates, admitted.Last);
    }

    /// <summary>The row a change admitted by <see cref="ReplicaRules.Admit"/> writes.</summary>
    private static WriteRow ToWriteRow(StoredObservation change)
    {
        var o = change.Observation;
        var period = MirpsExchange.Catalogue.Periods.Period.Parse(o.Period);
        var withheld = change.Withholding == Withholding.SmallCount;
        return new WriteRow(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, period.Start, period.End,
            change.Deleted || withheld ? null : o.Value, withheld ? ObservationStatus.Confidential : o.Status, o.Note,
            RowPolicy.FromMessage(change.Policy), withheld);
    }

    /// <summary>By key, then revision: the order that walks the unique index and keeps a key's revisions in order.</summary>
    private static int CompareChanges(List<StoredObservation> changes, int x, int y)
    {
        var items = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(changes);
        var (a, b) = (items[x].Observation, items[y].Observation);
        var c = WriteRow.CompareKeys([a.IndicatorCode, a.Country, a.Period, a.Sex, a.Age, a.CountryOfOrigin], [b.IndicatorCode, b.Country, b.Period, b.Sex, b.Age, b.CountryOfOrigin]);
        return c != 0 ? c : items[x].Revision.CompareTo(items[y].Revision);
    }

    /// <summary>The placeholders held for <paramref name="origin"/>'s changes from..to, by sequence.</summary>
    private static async Task<Dictionary<long, Withholding>> PlaceholdersAsync(
        DbConnection connection, DbTransaction transaction, string origin, long from, long to, CancellationToken cancellationToken)
    {
        await using var command = PositionalCommand.Create(connection, transaction,
            $"SELECT origin_sequence, reason FROM {WithheldChangeConfiguration.Table} WHERE origin = @origin AND origin_sequence BETWEEN @from AND @to",
            "@origin", "@from", "@to");
        command.Parameters[0].Value = origin;
        command.Parameters[1].Value = from;
        command.Parameters[2].Value = to;
        var placeholders = new Dictionary<long, Withholding>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            placeholders[reader.GetInt64(0)] = (Withholding)reader.GetInt32(1);
        }
        return placeholders;
    }

    private static async Task WritePlaceholdersAsync(
        DbConnection connection, DbTransaction transaction, string origin, List<StoredObservation> placeholders, CancellationToken cancellationToken)
    {
        await using var upsert = new PlaceholderUpsertCommand(connection, transaction, origin);
        foreach (var change in placeholders)
        {
            await upsert.ExecuteAsync(change, cancellationToken);
        }
    }

    /// <summary>
    /// Complete changes in place of their placeholders: each is an older revision of its key arriving
    /// late, so it is fitted into the key's history by time (the revision before it ends when it was
    /// recorded; it ends when the next held revision was recorded, or is current).
    /// </summary>
    private static async Task ReplacePlaceholdersAsync(
        DbConnection connection, DbTransaction transaction, RevisionInsertCommand insert, string origin,
        List<StoredObservation> replacing, CancellationToken cancellationToken)
    {
        await using var remove = new PlaceholderRemoveCommand(connection, transaction, origin);
        await using var endPrevious = new EndPreviousRevisionCommand(connection, transaction);
        await using var endThis = new EndLateRevisionCommand(connection, transaction, origin);
        foreach (var change in replacing)
        {
            var row = ToWriteRow(change);
            var time = StoreTime.ToMicros(change.RecordedTime.ToDateTimeOffset());
            await remove.ExecuteAsync(change.OriginSequence, cancellationToken);
            await endPrevious.ExecuteAsync(row, change.Revision, time, cancellationToken);
            insert.RecordedTime = time;
            await insert.ExecuteAsync(row, change.OriginSequence, change.Revision, change.Deleted, cancellationToken);
            await endThis.ExecuteAsync(row, change.Revision, change.OriginSequence, cancellationToken);
        }
    }
}
