using System.Data.Common;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Inserts of a key's first revision (not a deletion, nothing withheld), the commonest write: the bulk step of the one
/// submit writer and the one replica writer, which is all that differs per provider (<see cref="Create"/>). SQLite's
/// runs through SQLite's own API (<see cref="SqliteFirstRevisionInserts"/>); PostgreSQL's through binary COPY for a
/// replica and multi-row INSERT ... ON CONFLICT DO NOTHING for a submit (<see cref="PostgresFirstRevisionInserts"/>).
/// </summary>
internal abstract class FirstRevisionInserts : IDisposable
{
    /// <summary>A submit's rows per statement (<see cref="Stage"/>, <see cref="TryInsertStaged"/>).</summary>
    public const int BatchRows = SqliteFirstRevisionInserts.BatchRows;

    /// <summary>The columns every first revision fills, in the order the inserts give them (the others keep their defaults: NULL).</summary>
    protected const string Columns = $"origin, origin_sequence, {PositionalCommand.KeyColumns}, " +
        "period_start, period_end, value, status, note, lower_bound, confidentiality, synthetic, readers, release_time, small_count_threshold, value_withheld, revision, deleted, recorded_time, " +
        "salt, change_hash, received_time, draft_sharing";

    /// <summary>What a submit's insert adds: a key that exists is not inserted (0 rows), where a replica's is an error.</summary>
    protected const string DoNothingOnConflict = $" ON CONFLICT ({PositionalCommand.KeyColumns}, revision) DO NOTHING";

    /// <summary>The bulk step for <paramref name="connection"/>'s provider, in the transaction open on it.</summary>
    public static FirstRevisionInserts Create(DbConnection connection, string origin, bool submit) => connection is Npgsql.NpgsqlConnection postgres
        ? new PostgresFirstRevisionInserts(postgres, origin, submit)
        : new SqliteFirstRevisionInserts(connection, origin, submit);

    /// <summary>Inserts <paramref name="row"/> at once, as change <paramref name="sequence"/> recorded at <paramref name="time"/>; false when a submit's key exists.</summary>
    public abstract bool Insert(in WriteRow row, long sequence, long time, in ChangeIntegrity integrity);

    /// <summary>A submit's row, the <paramref name="at"/>th of the next statement of <see cref="BatchRows"/> (<see cref="TryInsertStaged"/>).</summary>
    public abstract void Stage(int at, in WriteRow row, long sequence, long time, in ChangeIntegrity integrity);

    /// <summary>
    /// Inserts the <see cref="BatchRows"/> rows staged in one statement; false when a key existed (that row was not
    /// inserted, the others were: the caller removes them and takes the rows one by one).
    /// </summary>
    public abstract bool TryInsertStaged();

    /// <summary>A replica's row, inserted with the next ones (<see cref="Flush"/> before any other write and at the end).</summary>
    public abstract void Add(in WriteRow row, long sequence, long time, in ChangeIntegrity integrity);

    /// <summary>Inserts the rows <see cref="Add"/> holds.</summary>
    public abstract void Flush();

    public abstract void Dispose();
}

/// <summary>
/// SQLite's first-revision inserts, through SQLite's own API (<see cref="SqliteStatement"/>). A submit's insert carries its commit time and does
/// nothing for a key that exists (0 rows): <see cref="BatchRows"/> rows to a statement (<see cref="Stage"/>,
/// <see cref="TryInsertStaged"/>), which tells only how many were inserted, so a statement that met an existing
/// key is undone and its rows taken one by one (<see cref="Insert"/>). A replica's carries the change's own
/// recorded time, an existing key is an error, and its rows go <see cref="BatchRows"/> to a statement
/// (<see cref="Add"/>, <see cref="Flush"/>): SQLite opens and closes the table's and indexes' cursors once per
/// statement, which was a good part of a one-row insert.
/// </summary>
internal sealed class SqliteFirstRevisionInserts : FirstRevisionInserts
{
    /// <summary>
    /// A replica's rows per statement (28 parameters each, beside the origin's): as many as the raw baseline's
    /// writer. The replica's apply alone of a verified log (benchmark `apply`, 1 M changes, medians of 3):
    /// 16 rows 329,080 and 331,702 changes/s; 64 342,698; 128 377,642.
    /// </summary>
    public new const int BatchRows = 128;

    private const int ParametersPerRow = 28;

    private readonly DbConnection _connection;
    private readonly string _origin;
    private readonly SqliteStatement _insert;
    /// <summary>The statement of <see cref="BatchRows"/> rows, prepared when a replica's first batch is full.</summary>
    private SqliteStatement? _batch;
    private readonly (WriteRow Row, long Sequence, long Time, ChangeIntegrity Integrity)[] _pending;
    private int _count;

    /// <summary>A replica's statements, kept prepared on their connection (<see cref="ReplicaStatements"/>); null for a submit's.</summary>
    private readonly ReplicaStatements? _kept;

    public SqliteFirstRevisionInserts(DbConnection connection, string origin, bool submit)
    {
        (_connection, _origin) = (connection, origin);
        if (submit)
        {
            _insert = new SqliteStatement(connection, SubmitSql);
        }
        else
        {
            _kept = ReplicaStatements.Of(connection);
            (_insert, _batch) = (_kept.One, _kept.Batch);
            _batch.Bind(1, origin);
        }
        _insert.Bind(1, origin);
        _pending = new (WriteRow, long, long, ChangeIntegrity)[BatchRows];
    }

    /// <summary>
    /// A replica's inserts, prepared once per connection rather than once per message: SQLite parsed and planned the
    /// 128-row insert (3,585 parameters) for every message (sqlite3_prepare_v2 was about 3% of a catching-up replica's
    /// running samples, docs/performance.md). Kept beside the connection's SQLite handle, so a
    /// pooled connection keeps them from one message to the next; a handle closed since (the pool cleared) gets new ones.
    /// Used only by the one writer that holds the connection (under the write gate), and reset after every run
    /// (<see cref="SqliteStatement.Execute"/>); the values bound stay, which <see cref="SqliteStatement.BindIfChanged"/> relies on.
    /// </summary>
    private sealed class ReplicaStatements
    {
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, ReplicaStatements> Kept = new();

        public required SqliteStatement One { get; init; }

        public required SqliteStatement Batch { get; init; }

        public static ReplicaStatements Of(DbConnection connection)
        {
            var handle = ((Microsoft.Data.Sqlite.SqliteConnection)connection).Handle!;
            if (Kept.TryGetValue(handle, out var kept))
            {
                if (!handle.IsClosed)
                {
                    return kept;
                }
                kept.One.Dispose(); // the connection was closed since: SQLite keeps it until its statements are finalized
                kept.Batch.Dispose();
            }
            var made = new ReplicaStatements { One = new SqliteStatement(connection, OneRowSql), Batch = new SqliteStatement(connection, BatchSql) };
            Kept.AddOrUpdate(handle, made);
            return made;
        }
    }

    /// <summary>The statements' texts, made once: a replica prepares them for every message it applies.</summary>
    private static readonly string OneRowSql = Sql(1), BatchSql = Sql(BatchRows),
        SubmitSql = OneRowSql + DoNothingOnConflict, SubmitBatchSql = BatchSql + DoNothingOnConflict;

    /// <summary>The insert of <paramref name="rows"/> rows: ?1 the origin, then 28 parameters per row.</summary>
    private static string Sql(int rows)
    {
        var values = Enumerable.Range(0, rows).Select(row =>
        {
            var p = Enumerable.Range(2 + row * ParametersPerRow, ParametersPerRow).Select(i => $"?{i}").ToArray();
            return $"(?1, {string.Join(", ", p[..23])}, FALSE, 1, FALSE, {string.Join(", ", p[23..])})";
        });
        return $"INSERT INTO {ObservationRowConfiguration.Table} ({Columns}) VALUES {string.Join(", ", values)}";
    }

    /// <inheritdoc />
    public override bool Insert(in WriteRow row, long sequence, long time, in ChangeIntegrity integrity)
    {
        BindRow(_insert, 0, row, sequence, time, integrity);
        return _insert.Execute() == 1;
    }

    /// <inheritdoc />
    public override void Stage(int at, in WriteRow row, long sequence, long time, in ChangeIntegrity integrity) =>
        _pending[at] = (row, sequence, time, integrity);

    /// <inheritdoc />
    public override bool TryInsertStaged()
    {
        if (_batch is null)
        {
            _batch = new SqliteStatement(_connection, SubmitBatchSql);
            _batch.Bind(1, _origin);
        }
        for (var i = 0; i < BatchRows; i++)
        {
            ref var pending = ref _pending[i];
            BindRow(_batch, i * ParametersPerRow, pending.Row, pending.Sequence, pending.Time, pending.Integrity);
        }
        return _batch.Execute() == BatchRows;
    }

    /// <inheritdoc />
    public override void Add(in WriteRow row, long sequence, long time, in ChangeIntegrity integrity)
    {
        _pending[_count++] = (row, sequence, time, integrity);
        if (_count < BatchRows)
        {
            return;
        }
        try
        {
            TryInsertStaged();
        }
        finally
        {
            _count = 0; // inserted, or the caller's transaction is rolled back with the error
        }
    }

    /// <inheritdoc />
    public override void Flush()
    {
        try
        {
            for (var i = 0; i < _count; i++)
            {
                ref var pending = ref _pending[i];
                BindRow(_insert, 0, pending.Row, pending.Sequence, pending.Time, pending.Integrity);
                _insert.Execute();
            }
        }
        finally
        {
            _count = 0;
        }
    }

    private static void BindRow(SqliteStatement insert, int offset, in WriteRow row, long sequence, long time, in ChangeIntegrity integrity)
    {
        insert.Bind(offset + 2, sequence);
        insert.BindIfChanged(offset + 3, row.IndicatorCode);
        insert.BindIfChanged(offset + 4, row.Country);
        if (insert.BindIfChanged(offset + 5, row.Period))
        {
            // A period's first and last days change only with it.
            insert.Bind(offset + 14, row.PeriodStart);
            insert.Bind(offset + 15, row.PeriodEnd);
        }
        insert.BindIfChanged(offset + 6, row.Sex);
        insert.BindIfChanged(offset + 7, row.Age);
        insert.BindIfChanged(offset + 8, row.CountryOfOrigin);
        var added = row.Added;
        insert.BindIfChanged(offset + 9, added.ApplicationType);
        insert.BindIfChanged(offset + 10, added.DecisionLevel);
        insert.BindIfChanged(offset + 11, added.ProcedureType);
        insert.BindIfChanged(offset + 12, added.CountBasis);
        insert.BindIfChanged(offset + 13, added.CountryOfDestination);
        insert.Bind(offset + 16, row.Value);
        insert.Bind(offset + 17, (long)row.Status);
        insert.BindIfChanged(offset + 18, row.Note);
        insert.Bind(offset + 19, row.Attributes.LowerBound ? 1L : 0L);
        insert.Bind(offset + 20, (long)row.Attributes.Confidentiality);
        insert.Bind(offset + 21, row.Attributes.Synthetic ? 1L : 0L);
        insert.BindIfChanged(offset + 22, row.Policy.Readers);
        insert.Bind(offset + 23, row.Policy.ReleaseTime);
        insert.Bind(offset + 24, row.Policy.SmallCountThreshold);
        insert.Bind(offset + 25, time);
        insert.Bind(offset + 26, integrity.Salt.Span);
        insert.Bind(offset + 27, integrity.Hash.Span);
        insert.Bind(offset + 28, integrity.ReceivedTime);
        insert.Bind(offset + 29, (long)row.Policy.Drafts);
    }

    public override void Dispose()
    {
        if (_kept is null) // a replica's stay prepared on the connection
        {
            _insert.Dispose();
            _batch?.Dispose();
        }
    }
}
