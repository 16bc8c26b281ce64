using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.ChangeLog;

/// <summary>
/// At the upgrade to the signed change log, a State's node signs the history it wrote before, once: each
/// change gets its salt and link in order, and one head of kind ATTESTATION signs the lot, saying in the log
/// that these changes were hashed at the upgrade rather than as they were committed (one head every
/// <see cref="HeadEvery"/> changes, so that a replica verifies a long history as it arrives: it holds at most
/// <see cref="Sync.ChainVerifier.MaxUnsigned"/> changes waiting for their head). Replicas hold no
/// attestation of their own: their unsigned copies of other origins' logs are replaced by the origins'
/// attested logs when they pull them again (<see cref="Sync.ReplicaWriter"/>).
/// </summary>
public static partial class HistoryAttestation
{
    /// <summary>Changes signed by one ATTESTATION head at most.</summary>
    public const int HeadEvery = 10_000;

    public static async Task AttestAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var signing = services.GetRequiredService<OriginSigning>();
        if (!signing.HasLog)
        {
            return;
        }
        var signer = signing.Signer;
        var origin = signer.Origin;
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredKeyedService<NodeDbContext>(NodeDbContext.Writer);
        using var _ = await services.GetRequiredService<WriteGate>().EnterAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var connection = db.Database.GetDbConnection();
        var dbTransaction = transaction.GetDbTransaction();

        var unsigned = await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.ChangeHash == null)
            .OrderBy(o => o.OriginSequence)
            .ToListAsync(cancellationToken);
        if (unsigned.Count == 0)
        {
            return;
        }
        var (_, _, previous) = await OriginLog.LinkAsync(connection, dbTransaction, origin, unsigned[0].OriginSequence - 1, cancellationToken);
        var chain = new ChainLinker(origin, previous ?? []);
        await using var update = PositionalCommand.Create(connection, dbTransaction,
            $"UPDATE {ObservationRowConfiguration.Table} SET salt = @salt, change_hash = @hash WHERE origin = @origin AND origin_sequence = @seq",
            "@salt", "@hash", "@origin", "@seq");
        update.Parameters[2].Value = origin;
        var hash = new byte[ChangeHash.Size];
        var now = StoreTime.ToMicros(services.GetRequiredService<TimeProvider>().GetUtcNow());
        await using var heads = new LogHeadInsertCommand(connection, dbTransaction);
        var signed = 0;
        foreach (var row in unsigned)
        {
            var salt = ChangeHash.NewSalts(1);
            var write = new WriteRow(row.IndicatorCode, row.Country, row.Period, row.Sex, row.Age, row.CountryOfOrigin, row.PeriodStart, row.PeriodEnd,
                row.Value, row.Status, row.Note, new RowPolicy(row.Readers, row.ReleaseTime, row.SmallCountThreshold));
            chain.Link(write, row.OriginSequence, row.RecordedTime, row.Revision, row.Deleted, salt, hash);
            chain.Advance(hash);
            update.Parameters[0].Value = salt;
            update.Parameters[1].Value = hash.ToArray();
            update.Parameters[3].Value = row.OriginSequence;
            await update.ExecuteNonQueryAsync(cancellationToken);
            if (++signed % HeadEvery == 0 || signed == unsigned.Count)
            {
                await heads.ExecuteAsync(signer.Sign(row.OriginSequence, chain.Previous, now, LogHeadKind.Attestation), now, cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
        var last = unsigned[^1].OriginSequence;
        LogAttested(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HistoryAttestation).FullName!), origin, unsigned.Count, unsigned[0].OriginSequence, last,
            (unsigned.Count + HeadEvery - 1) / HeadEvery, signer.KeyId);
    }

    [LoggerMessage(EventName = "HistoryAttested", Level = LogLevel.Warning,
        Message = "{Origin}'s {Count} changes {First}..{Last}, written before the change log was signed, are now hashed and attested by key {KeyId} ({Heads} ATTESTATION heads in the log)")]
    private static partial void LogAttested(ILogger logger, string origin, int count, long first, long last, int heads, string keyId);
}
