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

        // Unsigned history is a prefix of the log (written before the upgrade, attested in one transaction): a log
        // whose first change is linked is attested already, found with one seek rather than a scan at every start.
        var firstLinked = await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin)
            .OrderBy(o => o.OriginSequence)
            .Select(o => new { o.ChangeHash })
            .FirstOrDefaultAsync(cancellationToken);
        if (firstLinked is null || firstLinked.ChangeHash is not null)
        {
            return;
        }
        await using var update = PositionalCommand.Create(connection, dbTransaction,
            $"UPDATE {ObservationRowConfiguration.Table} SET salt = @salt, change_hash = @hash WHERE origin = @origin AND origin_sequence = @seq",
            "@salt", "@hash", "@origin", "@seq");
        update.Parameters[2].Value = origin;
        var hash = new byte[ChangeHash.Size];
        var now = StoreTime.ToMicros(services.GetRequiredService<TimeProvider>().GetUtcNow());
        await using var heads = new LogHeadInsertCommand(connection, dbTransaction);
        ChainLinker? chain = null;
        long first = 0, last = 0;
        int count = 0, signed = 0;
        // A head's worth of changes at a time: memory stays bounded however long the history.
        while (await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.OriginSequence > last && o.ChangeHash == null)
            .OrderBy(o => o.OriginSequence)
            .Take(HeadEvery)
            .ToListAsync(cancellationToken) is { Count: > 0 } page)
        {
            if (chain is null)
            {
                first = page[0].OriginSequence;
                var (_, _, previous) = await OriginLog.LinkAsync(connection, dbTransaction, origin, first - 1, cancellationToken);
                chain = new ChainLinker(origin, previous ?? []);
            }
            foreach (var row in page)
            {
                var salt = ChangeHash.NewSalts(1);
                var write = new WriteRow(row.IndicatorCode, row.Country, row.Period, row.Sex, row.Age, row.CountryOfOrigin, row.Added(), row.PeriodStart, row.PeriodEnd,
                    row.Value, row.Status, row.Note, row.Attributes(), row.Policy());
                chain.Link(write, row.OriginSequence, row.RecordedTime, row.Revision, row.Deleted, salt, hash);
                chain.Advance(hash);
                update.Parameters[0].Value = salt;
                update.Parameters[1].Value = hash.ToArray();
                update.Parameters[3].Value = row.OriginSequence;
                await update.ExecuteNonQueryAsync(cancellationToken);
            }
            last = page[^1].OriginSequence;
            count += page.Count;
            await heads.ExecuteAsync(signer.Sign(last, chain.Previous, now, LogHeadKind.Attestation), now, cancellationToken);
            signed++;
        }
        await transaction.CommitAsync(cancellationToken);
        LogAttested(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HistoryAttestation).FullName!), origin, count, first, last, signed, signer.KeyId);
    }

    [LoggerMessage(EventName = "HistoryAttested", Level = LogLevel.Warning,
        Message = "{Origin}'s {Count} changes {First}..{Last}, written before the change log was signed, are now hashed and attested by key {KeyId} ({Heads} ATTESTATION heads in the log)")]
    private static partial void LogAttested(ILogger logger, string origin, int count, long first, long last, int heads, string keyId);
}
