using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace MirpsExchange.Node.Store;

/// <summary>Where an origin's change log stands in this store.</summary>
public static class OriginLog
{
    /// <summary>The origin's latest sequence number and recorded time in the store behind <paramref name="db"/>, in its transaction if it has one (a read snapshot).</summary>
    public static async Task<(long Sequence, long RecordedTime)> LastChangeAsync(NodeDbContext db, string origin, CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            return await LastChangeAsync(db.Database.GetDbConnection(), db.Database.CurrentTransaction?.GetDbTransaction(), origin, cancellationToken);
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
        var last = await LinkAsync(connection, transaction, origin, null, cancellationToken);
        return (last.Sequence, last.RecordedTime);
    }

    /// <summary>
    /// The origin's change at <paramref name="sequence"/> (null: its latest), held or as a placeholder: its
    /// sequence, recorded time and link in the hash chain (null for history not attested yet). (0, 0, empty)
    /// before the first change.
    /// </summary>
    public static async Task<(long Sequence, long RecordedTime, byte[]? Hash)> LinkAsync(
        DbConnection connection, DbTransaction? transaction, string origin, long? sequence, CancellationToken cancellationToken)
    {
        if (sequence == 0)
        {
            return (0, 0, []);
        }
        var where = sequence is null ? "origin = @origin" : "origin = @origin AND origin_sequence = @seq";
        await using var command = PositionalCommand.Create(connection, transaction,
            $"SELECT origin_sequence, recorded_time, change_hash FROM (SELECT origin_sequence, recorded_time, change_hash FROM {ObservationRowConfiguration.Table} WHERE {where} ORDER BY origin_sequence DESC LIMIT 1) AS held " +
            $"UNION ALL SELECT origin_sequence, recorded_time, change_hash FROM (SELECT origin_sequence, recorded_time, change_hash FROM {WithheldChangeConfiguration.Table} WHERE {where} ORDER BY origin_sequence DESC LIMIT 1) AS withheld " +
            "ORDER BY origin_sequence DESC LIMIT 1",
            "@origin", "@seq");
        command.Parameters[0].Value = origin;
        command.Parameters[1].Value = sequence ?? 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return sequence is null ? (0, 0, []) : throw new InvalidOperationException($"{origin}'s change {sequence} is not held here");
        }
        return (reader.GetInt64(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : (byte[])reader.GetValue(2));
    }
}
