using System.Data.Common;
using Mirps.Observation.V1;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sync;

/// <summary>Holds (or updates the reason and policy of) the placeholder of a change withheld from this node.</summary>
internal sealed class PlaceholderUpsertCommand : PositionalCommand
{
    public PlaceholderUpsertCommand(DbConnection connection, DbTransaction transaction, string origin) : base(connection, transaction,
        $"INSERT INTO {WithheldChangeConfiguration.Table} (origin, origin_sequence, reason, recorded_time, readers, release_time, small_count_threshold, content_digest, change_hash, received_time, draft_sharing) " +
        "VALUES (@origin, @seq, @reason, @time, @readers, @release, @threshold, @content, @hash, @received, @drafts) " +
        "ON CONFLICT (origin, origin_sequence) DO UPDATE SET reason = excluded.reason, readers = excluded.readers, release_time = excluded.release_time, " +
        "small_count_threshold = excluded.small_count_threshold, draft_sharing = excluded.draft_sharing",
        "@origin", "@seq", "@reason", "@time", "@readers", "@release", "@threshold", "@content", "@hash", "@received", "@drafts")
    {
        Parameters[0].Value = origin;
    }

    /// <summary>Holds <paramref name="change"/>'s placeholder with its link <paramref name="hash"/>, received at <paramref name="received"/> (kept when only the reason changes).</summary>
    public ValueTask<int> ExecuteAsync(StoredObservation change, ReadOnlyMemory<byte> hash, long received, CancellationToken cancellationToken)
    {
        var policy = RowPolicy.FromMessage(change.Policy);
        var p = Parameters;
        p[1].Value = change.OriginSequence;
        p[2].Value = (int)change.Withholding;
        p[3].Value = change.RecordedTime is { } time ? StoreTime.ToMicros(time.ToDateTimeOffset()) : 0;
        p[4].Value = policy.Readers;
        p[5].Value = policy.ReleaseTime is { } release ? release : DBNull.Value;
        p[6].Value = policy.SmallCountThreshold;
        p[7].Value = Blob(change.ContentDigest.Memory);
        p[8].Value = Blob(hash);
        p[9].Value = received;
        p[10].Value = (int)policy.Drafts;
        return ExecuteAsync(cancellationToken);
    }
}

/// <summary>Removes the placeholder of a change that has arrived complete.</summary>
internal sealed class PlaceholderRemoveCommand : PositionalCommand
{
    public PlaceholderRemoveCommand(DbConnection connection, DbTransaction transaction, string origin) : base(connection, transaction,
        $"DELETE FROM {WithheldChangeConfiguration.Table} WHERE origin = @origin AND origin_sequence = @seq", "@origin", "@seq")
    {
        Parameters[0].Value = origin;
    }

    public ValueTask<int> ExecuteAsync(long sequence, CancellationToken cancellationToken)
    {
        Parameters[1].Value = sequence;
        return ExecuteAsync(cancellationToken);
    }
}

/// <summary>Ends, at <c>time</c>, the key's revision held just before a late revision <c>revision</c>, if it is still current.</summary>
internal sealed class EndPreviousRevisionCommand(DbConnection connection, DbTransaction transaction) : PositionalCommand(connection, transaction,
    $"UPDATE {ObservationRowConfiguration.Table} SET superseded_time = @now WHERE {KeyMatch} AND superseded_time IS NULL " +
    $"AND revision = (SELECT MAX(revision) FROM {ObservationRowConfiguration.Table} WHERE {KeyMatch} AND revision < @rev)",
    [.. KeyParameters, "@rev", "@now"])
{
    public ValueTask<int> ExecuteAsync(in WriteRow row, long revision, long time, CancellationToken cancellationToken)
    {
        SetKey(row);
        Parameters[KeyCount].Value = revision;
        Parameters[KeyCount + 1].Value = time;
        return ExecuteAsync(cancellationToken);
    }
}

/// <summary>
/// Ends a late revision (change <c>sequence</c>, received at <c>now</c>) at once when a later revision of
/// its key is held (it was never the current one here); leaves it current when there is none.
/// </summary>
internal sealed class EndLateRevisionCommand : PositionalCommand
{
    public EndLateRevisionCommand(DbConnection connection, DbTransaction transaction, string origin) : base(connection, transaction,
        $"UPDATE {ObservationRowConfiguration.Table} SET superseded_time = @now " +
        $"WHERE origin = @origin AND origin_sequence = @seq AND EXISTS (SELECT 1 FROM {ObservationRowConfiguration.Table} WHERE {KeyMatch} AND revision > @rev)",
        [.. KeyParameters, "@rev", "@origin", "@seq", "@now"])
    {
        Parameters[KeyCount + 1].Value = origin;
    }

    public ValueTask<int> ExecuteAsync(in WriteRow row, long revision, long sequence, long now, CancellationToken cancellationToken)
    {
        SetKey(row);
        Parameters[KeyCount].Value = revision;
        Parameters[KeyCount + 2].Value = sequence;
        Parameters[KeyCount + 3].Value = now;
        return ExecuteAsync(cancellationToken);
    }
}
