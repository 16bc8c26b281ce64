using System.Data.Common;
using Google.Protobuf;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Store;

/// <summary>
/// The origin's write path (a replica's is <see cref="Sync.ReplicaWriter"/>): a validated batch is written
/// in one transaction on EF Core's connection (EF change tracking is ~10x slower here), sorted by the
/// natural key. A key's first revision, nearly every row, goes through the provider's bulk step
/// (<see cref="FirstRevisionInserts"/>: SQLite's own API, or multi-row inserts on PostgreSQL); revisions and
/// deletions through parameterized SQL that is the same on both (ON CONFLICT ... DO NOTHING, LIMIT).
/// </summary>
public sealed partial class SubmitWriter(
    [FromKeyedServices(NodeDbContext.Writer)] NodeDbContext db, WriteGate gate, ChangeNotifier notifier, TimeProvider clock, ReceiveStamps stamps, ChangeLog.OriginSigning signing,
    Sync.RecoveryState recovery, Microsoft.Extensions.Options.IOptions<NodeOptions> node, ILogger<SubmitWriter> logger, Sharing.SuppressionMethods methods)
{
    /// <summary>How long a request_id is remembered: a retry within this time is answered, not applied again.</summary>
    public static readonly TimeSpan RequestRetention = TimeSpan.FromDays(7);

    /// <summary>
    /// Writes the rows of one origin as one transaction: all or nothing. With a ticket, a retried call
    /// returns the stored answer (marked replayed) and a reused id with other content is refused.
    /// <paramref name="judge"/> (the catalogue's validation rules) reads inside the transaction before anything is
    /// written, over the store as this write will find it, and returns the judgement: in memory only, it runs on another
    /// thread while the rows are inserted, and nothing is committed before it has passed; it refuses the write by throwing
    /// (the transaction is then rolled back: the rows inserted meanwhile are not written). What the judgement returns is run
    /// once the transaction is committed, still under the write gate.
    /// </summary>
    /// <remarks>A store with no room for the write refuses it whole with RESOURCE_EXHAUSTED (<see cref="StoreFull"/>).</remarks>
    public async Task<TResponse> WriteAsync<TResponse>(
        string origin,
        WriteRow[] rows,
        RequestTicket? ticket,
        Func<WriteOutcome, TResponse> respond,
        Func<byte[], TResponse> replay,
        CancellationToken cancellationToken,
        Func<DbTransaction, CancellationToken, Task<Func<Action?>>>? judge = null)
        where TResponse : IMessage<TResponse>
    {
        try
        {
            return await WriteOnceAsync(origin, rows, ticket, respond, replay, cancellationToken, judge);
        }
        catch (Exception e) when (StoreFull.Is(e))
        {
            LogStoreFull(logger, origin, rows.Length);
            throw StoreFull.Refusal();
        }
    }

    [LoggerMessage(EventName = "StoreFull", Level = LogLevel.Warning, Message = "A write of {Rows} rows of {Origin} was refused: the store is full (its disk, or Node:StoreMaxPageCount)")]
    private static partial void LogStoreFull(ILogger logger, string origin, int rows);

    private async Task<TResponse> WriteOnceAsync<TResponse>(
        string origin,
        WriteRow[] rows,
        RequestTicket? ticket,
        Func<WriteOutcome, TResponse> respond,
        Func<byte[], TResponse> replay,
        CancellationToken cancellationToken,
        Func<DbTransaction, CancellationToken, Task<Func<Action?>>>? judge)
        where TResponse : IMessage<TResponse>
    {
        // What needs nothing stored is done before the gate, while the write in flight holds it.
        using var prepared = new PreparedRows(rows); // its pooled buffers go back once the write is over (committed, refused or failed)
        using var _ = await gate.EnterAsync(cancellationToken);
        using var __ = new EndStamp(stamps); // ApplyAsync stamps the commit's time; an answer "as of now" reads before it until it is over
        recovery.RequireWritable(); // a node behind what its replicas hold of its log recovers first (Sync/OriginRecovery)
        // The connection is opened under the gate and closed before it is left: back in the writer's pool, it is the one the
        // next writer takes. Kept open to the end of the call (its scope), it made the next submit, already waiting at the
        // gate, open a second one; the two alternated, each dropping its page cache at every batch (the other had written)
        // and finding the tables the rules read last time invalid (WrittenRuleTables: another connection wrote).
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            return await WriteOpenAsync(origin, prepared, ticket, respond, replay, cancellationToken, judge);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private async Task<TResponse> WriteOpenAsync<TResponse>(
        string origin,
        PreparedRows prepared,
        RequestTicket? ticket,
        Func<WriteOutcome, TResponse> respond,
        Func<byte[], TResponse> replay,
        CancellationToken cancellationToken,
        Func<DbTransaction, CancellationToken, Task<Func<Action?>>>? judge)
        where TResponse : IMessage<TResponse>
    {
        // What is acknowledged survives power loss (synchronous=FULL for this commit).
        await using var durable = await SqlitePragmas.DurableCommitAsync(db.Database.GetDbConnection(), node.Value.SubmitSynchronous, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (ticket is not null)
        {
            var expired = StoreTime.ToMicros(clock.GetUtcNow() - RequestRetention);
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

        // The rules read what they compare with first (the store before this batch); their judgement, in memory, then runs
        // on the other core while the rows are inserted on this one (it was about a quarter of the time under the gate), and
        // is awaited before anything is committed: a refused batch is rolled back whole, as when it was judged first.
        Task<Action?>? judgement = null;
        if (judge is not null)
        {
            judgement = Task.Run(await judge(transaction.GetDbTransaction(), cancellationToken), CancellationToken.None);
        }
        WriteOutcome outcome;
        try
        {
            outcome = await ApplyAsync(origin, prepared, transaction.GetDbTransaction(), cancellationToken);
        }
        catch when (judgement is not null)
        {
            await ((Task)judgement).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // nothing of this write runs on once it has failed
            throw;
        }
        var committed = judgement is null ? null : await judgement;
        var response = respond(outcome);
        if (ticket is not null)
        {
            db.Requests.Add(new RequestRecord
            {
                RequestId = ticket.RequestId,
                Operation = ticket.Operation,
                RequestDigest = ticket.Digest,
                Response = response.ToByteArray(),
                RecordedTime = StoreTime.ToMicros(clock.GetUtcNow()),
            });
            await db.SaveChangesAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        committed?.Invoke();
        if (_rotation is not null)
        {
            signing.CompleteRotation(_rotation); // still under the gate: no later head is signed with the old key
        }
        if (outcome.Inserted + outcome.Revised + outcome.Deleted > 0)
        {
            signing.HighWater?.SignedChanges(outcome.LastOriginSequence); // kept outside the store: a store put back below it is found at the next start
            notifier.Committed();
        }
        return response;
    }

    /// <summary>The key this commit's KEY_ROTATION head hands over to, once the commit is in (a commit that fails leaves the rotation waiting).</summary>
    private ChangeLog.LogSigner? _rotation;

    /// <summary>
    /// A batch as far as it is made before the write gate: its rows in natural key order (inserts then walk the unique
    /// index in order, 3-4x faster than random order), a salt per row, and the content digest (value digest inside) of
    /// each row as its key's first revision, which is what nearly every row turns out to be (ChangeHash, ChainLinker).
    /// </summary>
    /// <remarks>
    /// Its salts, contents and links (about 800 KB for 10,000 rows) are rented from the shared array pool and given back once
    /// the write is over (<see cref="Dispose"/>; SQLite copies what is bound): allocated per batch, they were large objects,
    /// whose allocation budget drives full (generation 2) collections of the whole heap.
    /// </remarks>
    internal sealed class PreparedRows : IDisposable
    {
        public readonly WriteRow[] Rows;
        public readonly int[] Order;
        public readonly byte[] Salts;
        public readonly byte[] FirstContents;

        /// <summary>Each row's link, once <see cref="ApplyAsync"/> has computed it.</summary>
        public readonly byte[] Hashes;

        public PreparedRows(WriteRow[] rows)
        {
            Rows = rows;
            Order = KeyOrder(rows);
            Salts = System.Buffers.ArrayPool<byte>.Shared.Rent(rows.Length * Mirps.Log.ChangeHash.SaltSize);
            System.Security.Cryptography.RandomNumberGenerator.Fill(Salts.AsSpan(0, rows.Length * Mirps.Log.ChangeHash.SaltSize));
            FirstContents = System.Buffers.ArrayPool<byte>.Shared.Rent(rows.Length * Mirps.Log.ChangeHash.Size);
            Hashes = System.Buffers.ArrayPool<byte>.Shared.Rent(rows.Length * Mirps.Log.ChangeHash.Size);
            for (var i = 0; i < rows.Length; i++)
            {
                if (rows[i].Value is not null)
                {
                    ChangeLog.ChainLinker.Content(rows[i], revision: 1, deleted: false, Salt(i).Span, FirstContents.AsSpan(i * Mirps.Log.ChangeHash.Size, Mirps.Log.ChangeHash.Size));
                }
            }
        }

        /// <summary>
        /// The rows' places in natural key order. Each key field's distinct values in the batch are ranked (ordinal order),
        /// the ranks packed into one number per row, most significant field first, and the numbers sorted: comparing the
        /// strings field by field for each pair cost several times more. A batch whose ranks need more than 63 bits is
        /// sorted by comparison.
        /// </summary>
        /// <remarks>
        /// One pass over the rows per field, least significant field first: each row gets its value's place among the
        /// field's distinct values (in order of appearance), then the distinct values are sorted and each row's place
        /// becomes its rank. A value equal to the row before's is neither compared nor looked up again: rows come grouped
        /// (a table's rows share all but a field or two), so most fields repeat (the earlier two passes over the strings,
        /// one to rank and one to pack, were most of this method's time).
        /// </remarks>
        internal static int[] KeyOrder(WriteRow[] rows)
        {
            var order = new int[rows.Length];
            for (var i = 0; i < order.Length; i++)
            {
                order[i] = i;
            }
            const int fields = 6 + Mirps.Log.AddedDimensions.Count;
            var keys = new long[rows.Length];
            var places = new int[rows.Length];
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            var distinct = new List<string>();
            var bits = 0;
            for (var f = fields - 1; f >= 0; f--)
            {
                seen.Clear();
                distinct.Clear();
                string? last = null;
                var place = -1;
                for (var i = 0; i < rows.Length; i++)
                {
                    var value = Field(in rows[i], f);
                    if (!ReferenceEquals(value, last) && !string.Equals(value, last, StringComparison.Ordinal))
                    {
                        if (!seen.TryGetValue(value, out place))
                        {
                            place = distinct.Count;
                            seen.Add(value, place);
                            distinct.Add(value);
                        }
                        last = value;
                    }
                    places[i] = place;
                }
                var shift = bits;
                bits += 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(distinct.Count - 1));
                if (bits > 63)
                {
                    Array.Sort(order, (x, y) => WriteRow.CompareKeys(in rows[x], in rows[y]));
                    return order;
                }
                if (distinct.Count < 2)
                {
                    continue; // one value: rank 0 for every row
                }
                // Place (order of appearance) to rank (ordinal order).
                var sorted = new int[distinct.Count];
                for (var r = 0; r < sorted.Length; r++)
                {
                    sorted[r] = r;
                }
                var values = distinct.ToArray();
                Array.Sort(values, sorted, StringComparer.Ordinal);
                var rank = new long[sorted.Length];
                for (var r = 0; r < sorted.Length; r++)
                {
                    rank[sorted[r]] = (long)r << shift;
                }
                for (var i = 0; i < rows.Length; i++)
                {
                    keys[i] |= rank[places[i]];
                }
            }
            Array.Sort(keys, order);
            return order;
        }

        /// <summary>The <paramref name="f"/>th field of the natural key, in <see cref="WriteRow.CompareKeys(in WriteRow, in WriteRow)"/>'s order.</summary>
        private static string Field(in WriteRow row, int f) => f switch
        {
            0 => row.IndicatorCode,
            1 => row.Country,
            2 => row.Period,
            3 => row.Sex,
            4 => row.Age,
            5 => row.CountryOfOrigin,
            _ => row.Added[f - 6],
        };

        public ReadOnlyMemory<byte> Salt(int index) => Salts.AsMemory(index * Mirps.Log.ChangeHash.SaltSize, Mirps.Log.ChangeHash.SaltSize);

        /// <summary>Whether the <paramref name="count"/> rows from place <paramref name="at"/> of <see cref="Order"/> all store a value (none is a deletion).</summary>
        public bool AllValued(int at, int count)
        {
            if (at + count > Order.Length)
            {
                return false;
            }
            for (var k = at; k < at + count; k++)
            {
                if (Rows[Order[k]].Value is null)
                {
                    return false;
                }
            }
            return true;
        }

        public ReadOnlySpan<byte> FirstContent(int index) => FirstContents.AsSpan(index * Mirps.Log.ChangeHash.Size, Mirps.Log.ChangeHash.Size);

        /// <summary>Row <paramref name="index"/>'s link.</summary>
        public Memory<byte> Hash(int index) => Hashes.AsMemory(index * Mirps.Log.ChangeHash.Size, Mirps.Log.ChangeHash.Size);

        public void Dispose()
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(Salts, clearArray: true); // a salt is what keeps a withheld value from being guessed from its hash: not left in a shared pool
            System.Buffers.ArrayPool<byte>.Shared.Return(FirstContents);
            System.Buffers.ArrayPool<byte>.Shared.Return(Hashes);
        }
    }

    private async Task<WriteOutcome> ApplyAsync(string origin, PreparedRows prepared, DbTransaction transaction, CancellationToken cancellationToken)
    {
        var rows = prepared.Rows;
        var connection = transaction.Connection!;
        var signer = signing.Signer;
        var (sequence, lastTime, lastHash) = await OriginLog.LinkAsync(connection, transaction, origin, null, cancellationToken);
        // Every change links onto the origin's hash chain, and the commit ends with the head signed (ChangeLog/).
        var chain = new ChangeLog.ChainLinker(origin, lastHash ?? throw new InvalidOperationException($"{origin}'s change {sequence} has no hash: its history was not attested"));
        // Recorded times strictly increase per origin, so "as of" a commit's time sees exactly that commit.
        var now = stamps.Begin(atLeast: lastTime + 1); // ended by WriteAsync once the transaction is over

        // The first revision of a key; an existing key is a no-op the caller sees as 0 rows.
        using var firstInserts = FirstRevisionInserts.Create(connection, origin, submit: true);
        await using var insertNext = new RevisionInsertCommand(connection, transaction, origin) { RecordedTime = now };
        await using var latest = new LatestRevisionQuery(connection, transaction);
        await using var supersede = new SupersedeCommand(connection, transaction) { SupersededTime = now };

        await using var undo = PositionalCommand.Create(connection, transaction,
            $"DELETE FROM {ObservationRowConfiguration.Table} WHERE origin = @o AND origin_sequence > @s", "@o", "@s");
        undo.Parameters[0].Value = origin;

        const int batch = FirstRevisionInserts.BatchRows;
        var order = prepared.Order;
        var oneByOne = 0; // rows before this place go one by one: a statement just before met a key that exists
        int inserted = 0, revised = 0, unchanged = 0, deleted = 0, absent = 0;
        for (var at = 0; at < order.Length; at++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (at >= oneByOne && prepared.AllValued(at, batch))
            {
                // The next rows as their keys' first revisions, in one statement.
                var mark = chain.Mark();
                for (var k = 0; k < batch; k++)
                {
                    var i = order[at + k];
                    var h = prepared.Hash(i);
                    chain.Link(rows[i], sequence + 1 + k, now, prepared.FirstContent(i), h.Span);
                    chain.Advance(h.Span);
                    firstInserts.Stage(k, rows[i], sequence + 1 + k, now, new ChangeIntegrity(prepared.Salt(i), default, h, now));
                }
                if (firstInserts.TryInsertStaged())
                {
                    sequence += batch;
                    inserted += batch;
                    at += batch - 1;
                    continue;
                }
                // A key among them exists (a revision, or the same value again): the statement's rows come out, and they
                // and the next few statements' rows go one by one (a batch of revisions does not pay for each statement twice).
                undo.Parameters[1].Value = sequence;
                await undo.ExecuteNonQueryAsync(cancellationToken);
                chain.Restore(mark);
                oneByOne = at + 4 * batch;
            }

            var index = order[at];
            var row = rows[index];
            var salt = prepared.Salt(index);
            var hash = prepared.Hash(index);
            var integrity = new ChangeIntegrity(salt, default, hash, now);
            if (row.Value is not null)
            {
                chain.Link(row, sequence + 1, now, prepared.FirstContent(index), hash.Span);
                if (firstInserts.Insert(row, sequence + 1, now, integrity))
                {
                    chain.Advance(hash.Span);
                    sequence++;
                    inserted++;
                    continue;
                }
            }

            if (await latest.FindAsync(row, cancellationToken) is not { } current)
            {
                absent++; // only a deletion gets here without a stored revision
                continue;
            }
            if (row.Value is null && current.Deleted)
            {
                absent++;
                continue;
            }
            if (current.Same)
            {
                unchanged++;
                continue;
            }

            await supersede.ExecuteAsync(row, current.Revision + 1, cancellationToken);
            chain.Link(row, ++sequence, now, current.Revision + 1, deleted: row.Value is null, salt.Span, hash.Span);
            await insertNext.ExecuteAsync(row, sequence, current.Revision + 1, deleted: row.Value is null, integrity, cancellationToken);
            chain.Advance(hash.Span);
            if (row.Value is null)
            {
                deleted++;
            }
            else if (current.Deleted)
            {
                inserted++;
            }
            else
            {
                revised++;
            }
        }
        if (inserted + revised + deleted > 0)
        {
            await using var heads = new LogHeadInsertCommand(connection, transaction);
            // The complementary-suppression method in force for this State's figures from this commit on: the one it declares, never
            // lower than its log holds in force already (Sharing/SuppressionMethods).
            var method = Sharing.SuppressionMethods.ToSign(methods.Declared, await Sharing.SuppressionMethods.LogInForceAsync(db, origin, cancellationToken));
            await heads.ExecuteAsync(signer.Sign(sequence, chain.Previous, now, suppressionMethod: method), now, cancellationToken);
            // A rotation waiting (`mirps node rotate-log-key`) hangs on the first commit after it: a second head at
            // this commit, signed with the current key, names the next key, which signs every later head.
            if (signing.PendingRotation() is { } next)
            {
                await heads.ExecuteAsync(signer.Sign(sequence, chain.Previous, now, Mirps.Observation.V1.LogHeadKind.KeyRotation, next.PublicKey, method), now, cancellationToken);
                _rotation = next;
            }
        }
        return new WriteOutcome(inserted, revised, unchanged, deleted, absent, sequence);
    }

    private sealed class EndStamp(ReceiveStamps stamps) : IDisposable
    {
        public void Dispose() => stamps.End();
    }

    /// <summary>A key's current revision: its number, whether it is a deletion, and whether the row would store the same value, status, note and attributes again.</summary>
    private readonly record struct CurrentRevision(long Revision, bool Deleted, bool Same);

    /// <summary>Reads a key's current revision (<see cref="CurrentRevision"/>), or null when the key has none.</summary>
    private sealed class LatestRevisionQuery(DbConnection connection, DbTransaction transaction) : PositionalCommand(connection, transaction,
        $"SELECT revision, value, status, note, deleted, lower_bound, confidentiality, synthetic FROM {ObservationRowConfiguration.Table} WHERE {KeyMatch} AND superseded_time IS NULL",
        KeyParameters)
    {
        public async ValueTask<CurrentRevision?> FindAsync(WriteRow row, CancellationToken cancellationToken)
        {
            SetKey(row);
            await using var reader = await Command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }
            var deleted = reader.GetBoolean(4);
            // The note is read only when the rest is the same: most revisions change the value.
            var same = row.Value is { } value && !deleted && reader.GetDouble(1) == value
                && reader.GetInt32(2) == (int)row.Status && reader.GetString(3) == row.Note
                && reader.GetBoolean(5) == row.Attributes.LowerBound && reader.GetInt32(6) == (int)row.Attributes.Confidentiality
                && reader.GetBoolean(7) == row.Attributes.Synthetic;
            return new CurrentRevision(reader.GetInt64(0), deleted, same);
        }
    }
}
