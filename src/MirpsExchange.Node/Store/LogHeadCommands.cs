using System.Data.Common;
using Mirps.Observation.V1;

namespace MirpsExchange.Node.Store;

/// <summary>Stores a signed head of an origin's log (the origin's own at a commit, or one a replica verified); a head held already is kept.</summary>
internal sealed class LogHeadInsertCommand(DbConnection connection, DbTransaction transaction) : PositionalCommand(connection, transaction,
    $"INSERT INTO {LogHeadConfiguration.Table} (origin, sequence, kind, hash, key_id, signature, signed_time, next_public_key, received_time, suppression_method) " +
    "VALUES (@origin, @seq, @kind, @hash, @kid, @signature, @signed, @next, @received, @method) ON CONFLICT (origin, sequence, kind) DO NOTHING",
    "@origin", "@seq", "@kind", "@hash", "@kid", "@signature", "@signed", "@next", "@received", "@method")
{
    public ValueTask<int> ExecuteAsync(LogHead head, long receivedMicros, CancellationToken cancellationToken)
    {
        var p = Parameters;
        p[0].Value = head.Origin;
        p[1].Value = head.Sequence;
        p[2].Value = (int)head.Kind;
        p[3].Value = head.Hash.ToByteArray();
        p[4].Value = head.KeyId;
        p[5].Value = head.Signature.ToByteArray();
        p[6].Value = head.SignedTime is { } signed ? Mirps.Log.ChangeHash.Micros(signed) : 0L;
        p[7].Value = head.NextPublicKey.IsEmpty ? DBNull.Value : head.NextPublicKey.ToByteArray();
        p[8].Value = receivedMicros;
        p[9].Value = (int)Mirps.Log.SuppressionMethod.Of(head.SuppressionMethod);
        return ExecuteAsync(cancellationToken);
    }
}
