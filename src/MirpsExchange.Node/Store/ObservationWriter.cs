using System.Data.Common;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Sharing;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Store;

/// <summary>
/// One key to write: a value to store, or (with <see cref="Value"/> null) a deletion, under the sharing
/// policy the change carries. <see cref="ValueWithheld"/>: a replica's copy of a small count it may not read.
/// </summary>
public readonly record struct WriteRow(
    string IndicatorCode, string Country, string Period, string Sex, string Age, string CountryOfOrigin,
    DateOnly PeriodStart, DateOnly PeriodEnd, double? Value, ObservationStatus Status, string Note,
    RowPolicy Policy, bool ValueWithheld = false);

/// <summary>What a write did, key by key.</summary>
public sealed record WriteOutcome(int Inserted, int Revised, int Unchanged, int Deleted, int Absent, long LastOriginSequence);

/// <summary>Identifies a mutating call for idempotent retries (AIP-155).</summary>
public sealed record RequestTicket(string RequestId, string Operation, byte[] Digest);

/// <summary>
/// The bulk write path: a validated batch is written in one transaction on EF Core's connection (EF
/// change tracking is ~10x slower here), sorted by the natural key. A key's first revision, nearly every
/// row, goes through SQLite's own API (<see cref="FirstRevisionInserts"/>); revisions and deletions through
/// parameterized SQL. The SQL is portable (ON CONFLICT ... DO NOTHING, LIMIT), but another provider
/// (PostgreSQL later) needs its own first-revision insert (COPY): this one runs on SQLite only.
/// </summary>
public sealed class ObservationWriter([FromKeyedServices(NodeDbContext.Writer)] NodeDbContext db, WriteGate gate, ChangeNotifier notifier, TimeProvider clock)
{
    /// <summary>
    /// Microsoft.Data.Sqlite runs its async methods synchronously and only adds a Task per call (15-20%
    /// of the bulk path measured here); other providers do real asynchronous I/O.
    /// </summary>
    private readonly bool _synchronous = db.Database.IsSqlite();

    /// <summary>A replica applies a message that is at most this many runs in key order as it comes (see <see cref="ApplyChangesAsync"/>).</summary>
    private const int MaxUnsortedRuns = 16;

    /// <summary>How long a request_id is remembered: a retry within this time is answered, not applied again.</summary>
    public static readonly TimeSpan RequestRetention = TimeSpan.FromDays(7);

    private const string KeyColumns = "indicator_code, country, period, sex, age, country_of_origin";
    private const string KeyMatch = "indicator_code = @i AND country = @c AND period = @p AND sex = @s AND age = @a AND country_of_origin = @o";

    private const string InsertInto =
        $"INSERT INTO {ObservationRowConfiguration.Table} (origin, origin_sequence, {KeyColumns}, period_start, period_end, value, status, note, " +
        "readers, release_time, small_count_threshold, value_withheld, revision, deleted, recorded_time) " +
        "VALUES (@origin, @seq, @i, @c, @p, @s, @a, @o, @start, @end, @value, @status, @note, @readers, @release, @threshold, @withheld";

    /// <summary>The parameters of a revision's insert, in the positions <see cref="SetRow"/> fills.</summary>
    private static readonly string[] RowParameters =
        ["@origin", "@seq", "@i", "@c", "@p", "@s", "@a", "@o", "@start", "@end", "@value", "@status", "@note", "@readers", "@release", "@threshold", "@withheld"];

    /// <summary>Positions of an insert's own parameters after <see cref="RowParameters"/>.</summary>
    private const int RevisionParameter = 17, DeletedParameter = 18, TimeParameter = 19;

    /// <summary>
    /// Writes the rows of one origin as one transaction: all or nothing. With a ticket, a retried call
    /// returns the stored answer (marked replayed) and a reused id with other content is refused.
    /// </summary>
    public async Task<TResponse> WriteAsync<TResponse>(
        string origin,
        WriteRow[] rows,
        RequestTicket? ticket,
        Func<WriteOutcome, TResponse> respond,
        Func<byte[], TResponse> replay,
        CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        using var _ = await gate.EnterAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (ticket is not null)
        {
            var expired = ToMicros(clock.GetUtcNow() - RequestRetention);
            await db.Requests.Where(r => r.RecordedTime < expired).ExecuteDeleteAsync(cancellationToken);
        }
        if (ticket is not null && await db.Requests.AsNoTracking().FirstOrDefaultAsync(r => r.RequestId == ticket.RequestId, cancellationToken) is { } earlier)
        {
            if (earlier.Operation != ticket.Operation || !earlier.RequestDigest.AsSpan().SequenceEqual(ticket.Digest))
            {
                throw RpcErrors.WithReason(Google.Rpc.Code.AlreadyExists, "REQUEST_ID_REUSED",
                    $"request_id '{ticket.RequestId}' was already used for a different {earlier.Operation} call; use a new request_id for new content",
                    new Dictionary<string, string> { ["request_id"] = ticket.RequestId });
            }
            return replay(earlier.Response);
        }

        var outcome = await ApplyAsync(origin, rows, transaction.GetDbTransaction(), cancellationToken);
        var response = respond(outcome);
        if (ticket is not null)
        {
            db.Requests.Add(new RequestRecord
            {
                RequestId = ticket.RequestId,
                Operation = ticket.Operation,
                RequestDigest = ticket.Digest,
                Response = response.ToByteArray(),
                RecordedTime = ToMicros(clock.GetUtcNow()),
            });
            await db.SaveChangesAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        if (outcome.Inserted + outcome.Revised + outcome.Deleted > 0)
        {
            notifier.Committed();
        }
        return response;
    }

    private async Task<WriteOutcome> ApplyAsync(string origin, WriteRow[] rows, DbTransaction transaction, CancellationToken cancellationToken)
    {
        var connection = transaction.Connection!;
        var (sequence, lastTime) = await LastChangeAsync(connection, transaction, origin, cancellationToken);
        // Recorded times strictly increase per origin, so "as of" a commit's time sees exactly that commit.
        var now = Math.Max(ToMicros(clock.GetUtcNow()), lastTime + 1);

        // Sorted by the natural key, inserts walk the unique index in order (3-4x faster than random order).
        var order = new int[rows.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
        Array.Sort(order, (x, y) => CompareKeys(in rows[x], in rows[y]));

        // The first revision of a key; an existing key is a no-op the caller sees as 0 rows.
        using var firstInserts = new FirstRevisionInserts(connection, origin, submit: true);
        await using var insertNext = InsertRevisionCommand(connection, transaction);
        await using var latest = Command(connection, transaction,
            $"SELECT revision, value, status, note, deleted FROM {ObservationRowConfiguration.Table} WHERE {KeyMatch} AND superseded_time IS NULL",
            "@i", "@c", "@p", "@s", "@a", "@o");
        await using var supersede = SupersedeCommand(connection, transaction);
        insertNext.Parameters[0].Value = origin;
        insertNext.Parameters[TimeParameter].Value = now;
        supersede.Parameters[7].Value = now;

        int inserted = 0, revised = 0, unchanged = 0, deleted = 0, absent = 0;
        foreach (var index in order)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var row = rows[index];
            if (row.Value is not null)
            {
                if (firstInserts.Insert(row, sequence + 1, now))
                {
                    sequence++;
                    inserted++;
                    continue;
                }
            }

            SetKey(latest, row);
            long revision;
            bool wasDeleted;
            await using (var reader = await latest.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken))
                {
                    absent++; // only a deletion gets here without a stored revision
                    continue;
                }
                revision = reader.GetInt64(0);
                wasDeleted = reader.GetBoolean(4);
                if (row.Value is null && wasDeleted)
                {
                    absent++;
                    continue;
                }
                if (row.Value is { } value && !wasDeleted && reader.GetDouble(1) == value
                    && reader.GetInt32(2) == (int)row.Status && reader.GetString(3) == row.Note)
                {
                    unchanged++;
                    continue;
                }
            }

            SetKey(supersede, row);
            supersede.Parameters[6].Value = revision + 1;
            await ExecuteAsync(supersede, cancellationToken);
            SetRow(insertNext, row, ++sequence);
            insertNext.Parameters[RevisionParameter].Value = revision + 1;
            insertNext.Parameters[DeletedParameter].Value = row.Value is null;
            await ExecuteAsync(insertNext, cancellationToken);
            if (row.Value is null)
            {
                deleted++;
            }
            else if (wasDeleted)
            {
                inserted++;
            }
            else
            {
                revised++;
            }
        }
        return new WriteOutcome(inserted, revised, unchanged, deleted, absent, sequence);
    }

    /// <summary>
    /// Applies another node's changes of <paramref name="origin"/> (a replica's write path): in sequence
    /// order, each exactly once. Changes already held are skipped (a batch applied twice, or arriving by
    /// two paths, changes nothing), except that a complete change replaces the placeholder held for it
    /// (an embargo ended, or a relay had less than this node may hold); a change that is not the next of
    /// the origin's log is refused with nothing written. The origin's own sequence, revision, recorded time
    /// and sharing policy are kept.
    /// </summary>
    public async Task<(int Applied, int Duplicates, long LastSequence)> ApplyChangesAsync(
        string origin, IReadOnlyList<StoredObservation> changes, CancellationToken cancellationToken)
    {
        using var _ = await gate.EnterAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var connection = transaction.GetDbTransaction().Connection!;
        var dbTransaction = transaction.GetDbTransaction();
        var (last, _) = await LastChangeAsync(connection, dbTransaction, origin, cancellationToken);
        var pending = changes.Count > 0 && changes[0].OriginSequence <= last
            ? await PlaceholdersAsync(connection, dbTransaction, origin, changes[0].OriginSequence, last, cancellationToken)
            : [];

        // First the log's rules, in sequence order; then the writes, in runs of key order that walk the
        // unique index in order (several times faster than random order) and keep each key's revisions in order.
        // Changes, not their rows: 10,000 rows of large structs took a 1.3 MB array per batch, a large-object
        // allocation each time that drove full garbage collections while a replica caught up.
        var accepted = new List<StoredObservation>(changes.Count);
        var placeholders = new List<StoredObservation>();
        var replacing = new List<(WriteRow Row, StoredObservation Change)>();
        var duplicates = 0;
        foreach (var change in changes)
        {
            if (change.Origin != origin)
            {
                throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, "WRONG_ORIGIN", $"a change of {change.Origin} arrived in {origin}'s feed");
            }
            var isPlaceholder = change.Withholding is not (Withholding.Unspecified or Withholding.SmallCount);
            if (change.OriginSequence <= last)
            {
                if (pending.TryGetValue(change.OriginSequence, out var reason) && (!isPlaceholder || change.Withholding != reason))
                {
                    if (isPlaceholder)
                    {
                        placeholders.Add(change); // the reason changed: an embargo became "not shared", say
                    }
                    else
                    {
                        CheckChange(origin, change);
                        replacing.Add((ToWriteRow(change), change));
                    }
                    pending.Remove(change.OriginSequence);
                    continue;
                }
                duplicates++;
                continue;
            }
            if (change.OriginSequence != last + 1)
            {
                throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, "OUT_OF_SEQUENCE",
                    $"{origin}'s change {change.OriginSequence} arrived after {last}: " +
                    (change.OriginSequence == last + 2 ? $"change {last + 1} is missing" : $"changes {last + 1}..{change.OriginSequence - 1} are missing"));
            }
            if (isPlaceholder)
            {
                placeholders.Add(change);
            }
            else
            {
                CheckChange(origin, change);
                accepted.Add(change);
            }
            last = change.OriginSequence;
        }

        await using var insert = InsertRevisionCommand(connection, dbTransaction);
        using var firstInserts = new FirstRevisionInserts(connection, origin, submit: false);
        await using var supersede = SupersedeCommand(connection, dbTransaction);
        insert.Parameters[0].Value = origin;
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
            var time = ToMicros(change.RecordedTime.ToDateTimeOffset());
            if (change.Revision == 1 && !change.Deleted && !row.ValueWithheld)
            {
                firstInserts.Add(row, change.OriginSequence, time);
                continue;
            }
            firstInserts.Flush(); // a key's first revision is in before its next one supersedes it
            if (change.Revision > 1)
            {
                SetKey(supersede, row);
                supersede.Parameters[6].Value = change.Revision;
                supersede.Parameters[7].Value = time;
                await ExecuteAsync(supersede, cancellationToken);
            }
            SetInsert(insert, row, change, time);
            await ExecuteAsync(insert, cancellationToken);
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
        return (applied, duplicates, last);
    }

    /// <summary>
    /// Refuses a change no node should have sent: no observation or recorded time, a period that is not one, a
    /// value that is not a number (SQLite would store NaN as NULL), a note the origin itself would refuse
    /// (<see cref="ObservationValidator.NoteProblem"/>), or another country's observation.
    /// </summary>
    private static void CheckChange(string origin, StoredObservation change)
    {
        var o = change.Observation;
        if (o is null || change.RecordedTime is null || !MirpsExchange.Catalogue.Periods.Period.TryParse(o.Period, out _) || !double.IsFinite(o.Value))
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, "MALFORMED_CHANGE",
                $"{origin}'s change {change.OriginSequence} has " +
                (o is null ? "no observation" : change.RecordedTime is null ? "no recorded time"
                    : !double.IsFinite(o.Value) ? $"the value {o.Value}" : $"the period '{o.Period}'"));
        }
        if (o.Country != origin)
        {
            // Only a State's own node writes its country's observations: a change of another country in this log is forged or broken.
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, "MALFORMED_CHANGE",
                $"{origin}'s change {change.OriginSequence} is an observation of {o.Country}: an origin writes only its own country's data");
        }
        if (ObservationValidator.NoteProblem(o.Note) is { } note)
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, "MALFORMED_CHANGE", $"{origin}'s change {change.OriginSequence}: {note}");
        }
    }

    /// <summary>The row a checked change (<see cref="CheckChange"/>) writes.</summary>
    private static WriteRow ToWriteRow(StoredObservation change)
    {
        var o = change.Observation;
        var period = MirpsExchange.Catalogue.Periods.Period.Parse(o.Period);
        var withheld = change.Withholding == Withholding.SmallCount;
        return new WriteRow(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, period.Start, period.End,
            change.Deleted || withheld ? null : o.Value, withheld ? ObservationStatus.Confidential : o.Status, o.Note,
            RowPolicy.FromMessage(change.Policy), withheld);
    }

    private static void SetInsert(DbCommand insert, in WriteRow row, StoredObservation change, long time)
    {
        SetRow(insert, row, change.OriginSequence);
        insert.Parameters[RevisionParameter].Value = change.Revision;
        insert.Parameters[DeletedParameter].Value = change.Deleted;
        insert.Parameters[TimeParameter].Value = time;
    }

    /// <summary>The placeholders held for <paramref name="origin"/>'s changes from..to, by sequence.</summary>
    private static async Task<Dictionary<long, Withholding>> PlaceholdersAsync(
        DbConnection connection, DbTransaction transaction, string origin, long from, long to, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
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
        await using var upsert = Command(connection, transaction,
            $"INSERT INTO {WithheldChangeConfiguration.Table} (origin, origin_sequence, reason, recorded_time, readers, release_time, small_count_threshold) " +
            "VALUES (@origin, @seq, @reason, @time, @readers, @release, @threshold) " +
            "ON CONFLICT (origin, origin_sequence) DO UPDATE SET reason = excluded.reason, readers = excluded.readers, release_time = excluded.release_time, small_count_threshold = excluded.small_count_threshold",
            "@origin", "@seq", "@reason", "@time", "@readers", "@release", "@threshold");
        upsert.Parameters[0].Value = origin;
        foreach (var change in placeholders)
        {
            var policy = RowPolicy.FromMessage(change.Policy);
            upsert.Parameters[1].Value = change.OriginSequence;
            upsert.Parameters[2].Value = (int)change.Withholding;
            upsert.Parameters[3].Value = change.RecordedTime is { } time ? ToMicros(time.ToDateTimeOffset()) : 0;
            upsert.Parameters[4].Value = policy.Readers;
            upsert.Parameters[5].Value = policy.ReleaseTime is { } release ? release : DBNull.Value;
            upsert.Parameters[6].Value = policy.SmallCountThreshold;
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Complete changes in place of their placeholders: each is an older revision of its key arriving
    /// late, so it is fitted into the key's history by time (the revision before it ends when it was
    /// recorded; it ends when the next held revision was recorded, or is current).
    /// </summary>
    private static async Task ReplacePlaceholdersAsync(
        DbConnection connection, DbTransaction transaction, DbCommand insert, string origin,
        List<(WriteRow Row, StoredObservation Change)> replacing, CancellationToken cancellationToken)
    {
        const string Table = ObservationRowConfiguration.Table;
        await using var remove = Command(connection, transaction,
            $"DELETE FROM {WithheldChangeConfiguration.Table} WHERE origin = @origin AND origin_sequence = @seq", "@origin", "@seq");
        await using var endPrevious = Command(connection, transaction,
            $"UPDATE {Table} SET superseded_time = @now WHERE {KeyMatch} AND revision = (SELECT MAX(revision) FROM {Table} WHERE {KeyMatch} AND revision < @rev)",
            "@i", "@c", "@p", "@s", "@a", "@o", "@rev", "@now");
        await using var endThis = Command(connection, transaction,
            $"UPDATE {Table} SET superseded_time = (SELECT MIN(recorded_time) FROM {Table} WHERE {KeyMatch} AND revision > @rev) " +
            "WHERE origin = @origin AND origin_sequence = @seq",
            "@i", "@c", "@p", "@s", "@a", "@o", "@rev", "@origin", "@seq");
        remove.Parameters[0].Value = origin;
        endThis.Parameters[7].Value = origin;
        foreach (var (row, change) in replacing)
        {
            var time = ToMicros(change.RecordedTime.ToDateTimeOffset());
            remove.Parameters[1].Value = change.OriginSequence;
            await remove.ExecuteNonQueryAsync(cancellationToken);
            SetKey(endPrevious, row);
            endPrevious.Parameters[6].Value = change.Revision;
            endPrevious.Parameters[7].Value = time;
            await endPrevious.ExecuteNonQueryAsync(cancellationToken);
            SetInsert(insert, row, change, time);
            await insert.ExecuteNonQueryAsync(cancellationToken);
            SetKey(endThis, row);
            endThis.Parameters[6].Value = change.Revision;
            endThis.Parameters[8].Value = change.OriginSequence;
            await endThis.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static DbCommand InsertRevisionCommand(DbConnection connection, DbTransaction transaction) =>
        Command(connection, transaction, $"{InsertInto}, @rev, @deleted, @now)", [.. RowParameters, "@rev", "@deleted", "@now"]);

    /// <summary>
    /// Ends the key's current revision when revision @rev arrives. The current one is usually @rev - 1, but
    /// a replica may hold an older one when the revisions between were withheld from it.
    /// </summary>
    private static DbCommand SupersedeCommand(DbConnection connection, DbTransaction transaction) =>
        Command(connection, transaction,
            $"UPDATE {ObservationRowConfiguration.Table} SET superseded_time = @now WHERE {KeyMatch} AND superseded_time IS NULL AND revision < @rev",
            "@i", "@c", "@p", "@s", "@a", "@o", "@rev", "@now");

    /// <summary>The origin's latest sequence number and recorded time in the store behind <paramref name="db"/>, outside any transaction.</summary>
    public static async Task<(long Sequence, long RecordedTime)> LastChangeAsync(NodeDbContext db, string origin, CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            return await LastChangeAsync(db.Database.GetDbConnection(), null, origin, cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>
    /// The origin's latest sequence number and recorded time (0, 0 for an empty log), among the changes
    /// held and the placeholders of changes withheld from this node: a replica's cursor.
    /// </summary>
    public static async Task<(long Sequence, long RecordedTime)> LastChangeAsync(DbConnection connection, DbTransaction? transaction, string origin, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            $"SELECT origin_sequence, recorded_time FROM (SELECT origin_sequence, recorded_time FROM {ObservationRowConfiguration.Table} WHERE origin = @origin ORDER BY origin_sequence DESC LIMIT 1) " +
            $"UNION ALL SELECT origin_sequence, recorded_time FROM (SELECT origin_sequence, recorded_time FROM {WithheldChangeConfiguration.Table} WHERE origin = @origin ORDER BY origin_sequence DESC LIMIT 1) " +
            "ORDER BY origin_sequence DESC LIMIT 1",
            "@origin");
        command.Parameters["@origin"].Value = origin;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    private ValueTask<int> ExecuteAsync(DbCommand command, CancellationToken cancellationToken) =>
        _synchronous ? new(command.ExecuteNonQuery()) : new(command.ExecuteNonQueryAsync(cancellationToken));

    public static long ToMicros(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    /// <summary>A stored time (microseconds since the Unix epoch) as a protobuf Timestamp.</summary>
    public static Google.Protobuf.WellKnownTypes.Timestamp ToTimestamp(long micros) =>
        new() { Seconds = micros / 1_000_000, Nanos = (int)(micros % 1_000_000) * 1_000 };

    /// <summary>Sets the six key parameters, which start at <paramref name="at"/> (parameters are set by position: by name is a linear search).</summary>
    private static void SetKey(DbCommand command, in WriteRow row, int at = 0)
    {
        var p = command.Parameters;
        p[at].Value = row.IndicatorCode;
        p[at + 1].Value = row.Country;
        p[at + 2].Value = row.Period;
        p[at + 3].Value = row.Sex;
        p[at + 4].Value = row.Age;
        p[at + 5].Value = row.CountryOfOrigin;
    }

    /// <summary>By key, then revision: the order that walks the unique index and keeps a key's revisions in order.</summary>
    private static int CompareChanges(List<StoredObservation> changes, int x, int y)
    {
        var items = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(changes);
        var (a, b) = (items[x].Observation, items[y].Observation);
        var c = CompareKeys([a.IndicatorCode, a.Country, a.Period, a.Sex, a.Age, a.CountryOfOrigin], [b.IndicatorCode, b.Country, b.Period, b.Sex, b.Age, b.CountryOfOrigin]);
        return c != 0 ? c : items[x].Revision.CompareTo(items[y].Revision);
    }

    /// <summary>Sets an insert's <see cref="RowParameters"/> but the origin.</summary>
    private static void SetRow(DbCommand command, in WriteRow row, long sequence)
    {
        var p = command.Parameters;
        p[1].Value = sequence;
        SetKey(command, row, at: 2);
        p[8].Value = row.PeriodStart;
        p[9].Value = row.PeriodEnd;
        p[10].Value = row.Value is { } value ? value : DBNull.Value;
        p[11].Value = (int)row.Status;
        p[12].Value = row.Note;
        p[13].Value = row.Policy.Readers;
        p[14].Value = row.Policy.ReleaseTime is { } release ? release : DBNull.Value;
        p[15].Value = row.Policy.SmallCountThreshold;
        p[16].Value = row.ValueWithheld;
    }

    private static int CompareKeys(in WriteRow x, in WriteRow y) =>
        CompareKeys([x.IndicatorCode, x.Country, x.Period, x.Sex, x.Age, x.CountryOfOrigin], [y.IndicatorCode, y.Country, y.Period, y.Sex, y.Age, y.CountryOfOrigin]);

    /// <summary>Natural keys (indicator, country, period, sex, age, origin) in the unique index's order.</summary>
    private static int CompareKeys(ReadOnlySpan<string> x, ReadOnlySpan<string> y)
    {
        for (var i = 0; i < x.Length; i++)
        {
            var c = string.CompareOrdinal(x[i], y[i]);
            if (c != 0)
            {
                return c;
            }
        }
        return 0;
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            command.Parameters.Add(parameter);
        }
        return command;
    }
}

/// <summary>
/// Inserts of a key's first revision (not a deletion, nothing withheld), the commonest write, through
/// SQLite's own API (<see cref="SqliteStatement"/>). A submit's insert carries its commit time and does
/// nothing for a key that exists (0 rows), row by row (<see cref="Insert"/>); a replica's carries the
/// change's own recorded time, an existing key is an error, and its rows go <see cref="BatchRows"/> to a
/// statement (<see cref="Add"/>, <see cref="Flush"/>): SQLite opens and closes the table's and indexes'
/// cursors once per statement, which was a good part of a one-row insert.
/// </summary>
internal sealed class FirstRevisionInserts : IDisposable
{
    /// <summary>A replica's rows per statement (16 parameters each, beside the origin's).</summary>
    public const int BatchRows = 16;

    private const int ParametersPerRow = 16;

    private readonly DbConnection _connection;
    private readonly string _origin;
    private readonly SqliteStatement _insert;
    /// <summary>The statement of <see cref="BatchRows"/> rows, prepared when a replica's first batch is full.</summary>
    private SqliteStatement? _batch;
    private readonly (WriteRow Row, long Sequence, long Time)[] _pending = [];
    private int _count;

    public FirstRevisionInserts(DbConnection connection, string origin, bool submit)
    {
        (_connection, _origin) = (connection, origin);
        _insert = new SqliteStatement(connection, Sql(1) + (submit ? " ON CONFLICT (indicator_code, country, period, sex, age, country_of_origin, revision) DO NOTHING" : ""));
        _insert.Bind(1, origin);
        if (!submit)
        {
            _pending = new (WriteRow, long, long)[BatchRows];
        }
    }

    /// <summary>The insert of <paramref name="rows"/> rows: ?1 the origin, then 16 parameters per row.</summary>
    private static string Sql(int rows)
    {
        var values = Enumerable.Range(0, rows).Select(row =>
        {
            var p = Enumerable.Range(2 + row * ParametersPerRow, ParametersPerRow).Select(i => $"?{i}").ToArray();
            return $"(?1, {string.Join(", ", p[..15])}, FALSE, 1, FALSE, {p[15]})";
        });
        return $"INSERT INTO {ObservationRowConfiguration.Table} (origin, origin_sequence, indicator_code, country, period, sex, age, country_of_origin, " +
            "period_start, period_end, value, status, note, readers, release_time, small_count_threshold, value_withheld, revision, deleted, recorded_time) " +
            $"VALUES {string.Join(", ", values)}";
    }

    /// <summary>Inserts <paramref name="row"/> at once, as change <paramref name="sequence"/> recorded at <paramref name="time"/>; false when a submit's key exists.</summary>
    public bool Insert(in WriteRow row, long sequence, long time)
    {
        BindRow(_insert, 0, row, sequence, time);
        return _insert.Execute() == 1;
    }

    /// <summary>A replica's row, inserted with the next ones (<see cref="Flush"/> before any other write and at the end).</summary>
    public void Add(in WriteRow row, long sequence, long time)
    {
        _pending[_count++] = (row, sequence, time);
        if (_count < BatchRows)
        {
            return;
        }
        if (_batch is null)
        {
            _batch = new SqliteStatement(_connection, Sql(BatchRows));
            _batch.Bind(1, _origin);
        }
        try
        {
            for (var i = 0; i < BatchRows; i++)
            {
                ref var pending = ref _pending[i];
                BindRow(_batch, i * ParametersPerRow, pending.Row, pending.Sequence, pending.Time);
            }
            _batch.Execute();
        }
        finally
        {
            _count = 0; // inserted, or the caller's transaction is rolled back with the error
        }
    }

    /// <summary>Inserts the rows <see cref="Add"/> holds.</summary>
    public void Flush()
    {
        try
        {
            for (var i = 0; i < _count; i++)
            {
                ref var pending = ref _pending[i];
                BindRow(_insert, 0, pending.Row, pending.Sequence, pending.Time);
                _insert.Execute();
            }
        }
        finally
        {
            _count = 0;
        }
    }

    private static void BindRow(SqliteStatement insert, int offset, in WriteRow row, long sequence, long time)
    {
        insert.Bind(offset + 2, sequence);
        insert.BindIfChanged(offset + 3, row.IndicatorCode);
        insert.BindIfChanged(offset + 4, row.Country);
        if (insert.BindIfChanged(offset + 5, row.Period))
        {
            // A period's first and last days change only with it.
            insert.Bind(offset + 9, row.PeriodStart);
            insert.Bind(offset + 10, row.PeriodEnd);
        }
        insert.BindIfChanged(offset + 6, row.Sex);
        insert.BindIfChanged(offset + 7, row.Age);
        insert.BindIfChanged(offset + 8, row.CountryOfOrigin);
        insert.Bind(offset + 11, row.Value);
        insert.Bind(offset + 12, (long)row.Status);
        insert.BindIfChanged(offset + 13, row.Note);
        insert.BindIfChanged(offset + 14, row.Policy.Readers);
        insert.Bind(offset + 15, row.Policy.ReleaseTime);
        insert.Bind(offset + 16, row.Policy.SmallCountThreshold);
        insert.Bind(offset + 17, time);
    }

    public void Dispose()
    {
        _insert.Dispose();
        _batch?.Dispose();
    }
}

/// <summary>
/// One writer at a time per node: sequence numbers and recorded times are assigned inside the
/// transaction, and SQLite has a single writer anyway.
/// </summary>
public sealed class WriteGate
{
    private readonly SemaphoreSlim _semaphore = new(1, 1);

    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await _semaphore.WaitAsync(cancellationToken);
        return new Release(_semaphore);
    }

    private sealed class Release(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}
