using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace MirpsExchange.Node.Store;

/// <summary>Where an origin's change log stands in this store.</summary>
public static class OriginLog
{
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
        await using var command = PositionalCommand.Create(connection, transaction,
            $"SELECT origin_sequence, recorded_time FROM (SELECT origin_sequence, recorded_time FROM {ObservationRowConfiguration.Table} WHERE origin = @origin ORDER BY origin_sequence DESC LIMIT 1) " +
            $"UNION ALL SELECT origin_sequence, recorded_time FROM (SELECT origin_sequence, recorded_time FROM {WithheldChangeConfiguration.Table} WHERE origin = @origin ORDER BY origin_sequence DESC LIMIT 1) " +
            "ORDER BY origin_sequence DESC LIMIT 1",
            "@origin");
        command.Parameters["@origin"].Value = origin;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }
}
