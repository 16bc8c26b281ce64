using System.Data.Common;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Inserts a revision of a key (a value, a deletion, a replica's withheld small count) as one change of
/// the origin; the submit and replica writers both use it for what <see cref="FirstRevisionInserts"/> does not take.
/// </summary>
internal sealed class RevisionInsertCommand : PositionalCommand
{
    private const int Revision = 17, Deleted = 18, Time = 19, Salt = 20, ValueDigest = 21, Hash = 22, Received = 23;

    public RevisionInsertCommand(DbConnection connection, DbTransaction transaction, string origin)
        : base(connection, transaction,
            $"INSERT INTO {ObservationRowConfiguration.Table} (origin, origin_sequence, indicator_code, country, period, sex, age, country_of_origin, period_start, period_end, value, status, note, " +
            "readers, release_time, small_count_threshold, value_withheld, revision, deleted, recorded_time, salt, value_digest, change_hash, received_time) " +
            "VALUES (@origin, @seq, @i, @c, @p, @s, @a, @o, @start, @end, @value, @status, @note, @readers, @release, @threshold, @withheld, @rev, @deleted, @now, @salt, @vdigest, @hash, @received)",
            "@origin", "@seq", "@i", "@c", "@p", "@s", "@a", "@o", "@start", "@end", "@value", "@status", "@note", "@readers", "@release", "@threshold", "@withheld", "@rev", "@deleted", "@now",
            "@salt", "@vdigest", "@hash", "@received")
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
        SetKey(row, at: 2);
        p[8].Value = row.PeriodStart;
        p[9].Value = row.PeriodEnd;
        p[10].Value = row.Value is { } value ? value : DBNull.Value;
        p[11].Value = (int)row.Status;
        p[12].Value = row.Note;
        p[13].Value = row.Policy.Readers;
        p[14].Value = row.Policy.ReleaseTime is { } release ? release : DBNull.Value;
        p[15].Value = row.Policy.SmallCountThreshold;
        p[16].Value = row.ValueWithheld;
        p[Revision].Value = revision;
        p[Deleted].Value = deleted;
        p[Salt].Value = Blob(integrity.Salt);
        p[ValueDigest].Value = Blob(integrity.ValueDigest);
        p[Hash].Value = Blob(integrity.Hash);
        p[Received].Value = integrity.ReceivedTime;
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
    private const int Revision = 6, Time = 7;

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
