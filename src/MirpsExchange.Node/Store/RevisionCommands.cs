using System.Data.Common;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Inserts a revision of a key (a value, a deletion, a replica's withheld small count) as one change of
/// the origin; the submit and replica writers both use it for what <see cref="FirstRevisionInserts"/> does not take.
/// </summary>
internal sealed class RevisionInsertCommand : PositionalCommand
{
    private const int Key = 2, Start = Key + KeyCount, End = Start + 1, Value = End + 1, Status = Value + 1, Note = Status + 1, LowerBound = Note + 1,
        Confidentiality = LowerBound + 1, Synthetic = Confidentiality + 1, Readers = Synthetic + 1, Release = Readers + 1, Threshold = Release + 1,
        Withheld = Threshold + 1, Revision = Withheld + 1, Deleted = Revision + 1, Time = Deleted + 1, Salt = Time + 1, ValueDigest = Salt + 1,
        Hash = ValueDigest + 1, Received = Hash + 1, Drafts = Received + 1;

    public RevisionInsertCommand(DbConnection connection, DbTransaction transaction, string origin)
        : base(connection, transaction,
            $"INSERT INTO {ObservationRowConfiguration.Table} (origin, origin_sequence, {KeyColumns}, period_start, period_end, value, status, note, " +
            "lower_bound, confidentiality, synthetic, readers, release_time, small_count_threshold, value_withheld, revision, deleted, recorded_time, salt, value_digest, change_hash, received_time, draft_sharing) " +
            $"VALUES (@origin, @seq, {string.Join(", ", KeyParameters)}, @start, @end, @value, @status, @note, @lower, @conf, @synthetic, @readers, @release, @threshold, @withheld, @rev, @deleted, @now, @salt, @vdigest, @hash, @received, @drafts)",
            ["@origin", "@seq", .. KeyParameters, "@start", "@end", "@value", "@status", "@note", "@lower", "@conf", "@synthetic", "@readers", "@release", "@threshold", "@withheld", "@rev", "@deleted", "@now",
            "@salt", "@vdigest", "@hash", "@received", "@drafts"])
    {
        Parameters[0].Value = origin;
    }

    /// <summary>The recorded time of the next inserts: a submit's commit time, set once; a replica's change's own, set per change.</summary>
    public long RecordedTime
    {
        set => Parameters[Time].Value = value;
    }

    /// <summary>Inserts <paramref name="row"/> as change <paramref name="sequence"/>, revision <paramref name="revision"/> of its key.</summary>
    public ValueTask<int> ExecuteAsync(in WriteRow row, long sequence, long revision, bool deleted, in ChangeIntegrity integrity, CancellationToken cancellationToken)
    {
        var p = Parameters;
        p[1].Value = sequence;
        SetKey(row, at: Key);
        p[Start].Value = row.PeriodStart;
        p[End].Value = row.PeriodEnd;
        p[Value].Value = row.Value is { } value ? value : DBNull.Value;
        p[Status].Value = (int)row.Status;
        p[Note].Value = row.Note;
        p[LowerBound].Value = row.Attributes.LowerBound;
        p[Confidentiality].Value = (int)row.Attributes.Confidentiality;
        p[Synthetic].Value = row.Attributes.Synthetic;
        p[Readers].Value = row.Policy.Readers;
        p[Release].Value = row.Policy.ReleaseTime is { } release ? release : DBNull.Value;
        p[Threshold].Value = row.Policy.SmallCountThreshold;
        p[Withheld].Value = row.ValueWithheld;
        p[Revision].Value = revision;
        p[Deleted].Value = deleted;
        p[Salt].Value = Blob(integrity.Salt);
        p[ValueDigest].Value = Blob(integrity.ValueDigest);
        p[Hash].Value = Blob(integrity.Hash);
        p[Received].Value = integrity.ReceivedTime;
        p[Drafts].Value = (int)row.Policy.Drafts;
        return ExecuteAsync(cancellationToken);
    }
}

/// <summary>
/// Ends the key's current revision when revision <c>revision</c> arrives. The current one is usually the
/// revision before, but a replica may hold an older one when the revisions between were withheld from it.
/// </summary>
internal sealed class SupersedeCommand(DbConnection connection, DbTransaction transaction) : PositionalCommand(connection, transaction,
    $"UPDATE {ObservationRowConfiguration.Table} SET superseded_time = @now WHERE {KeyMatch} AND superseded_time IS NULL AND revision < @rev",
    [.. KeyParameters, "@rev", "@now"])
{
    private const int Revision = KeyCount, Time = KeyCount + 1;

    /// <summary>When the next revisions arrive: a submit's commit time, set once; a replica's change's own, set per change.</summary>
    public long SupersededTime
    {
        set => Parameters[Time].Value = value;
    }

    public ValueTask<int> ExecuteAsync(in WriteRow row, long revision, CancellationToken cancellationToken)
    {
        SetKey(row);
        Parameters[Revision].Value = revision;
        return ExecuteAsync(cancellationToken);
    }
}
