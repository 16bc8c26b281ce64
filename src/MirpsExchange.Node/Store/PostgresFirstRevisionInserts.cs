using Npgsql;
using NpgsqlTypes;

namespace MirpsExchange.Node.Store;

/// <summary>
/// PostgreSQL's first-revision inserts (<see cref="FirstRevisionInserts"/>). A replica's rows are held and written with
/// binary COPY (<see cref="CopyRows"/> at a time, and at every <see cref="Flush"/>): an existing key fails the COPY, and
/// with it the replica's transaction, as the SQLite insert's error does. A submit's rows go in prepared multi-row INSERTs
/// that do nothing for an existing key (COPY has no ON CONFLICT), <see cref="FirstRevisionInserts.BatchRows"/> to a statement.
/// All run in the transaction open on the connection (PostgreSQL's transactions are the connection's).
/// </summary>
internal sealed class PostgresFirstRevisionInserts : FirstRevisionInserts
{
    /// <summary>A replica's rows per COPY when no <see cref="Flush"/> comes first: a message of changes is ~1,000.</summary>
    public const int CopyRows = 4096;

    private const int ParametersPerRow = 29;

    private static readonly string OneRowSql = Sql(1), BatchSql = Sql(BatchRows);

    private static readonly string CopySql = $"COPY {ObservationRowConfiguration.Table} ({Columns}) FROM STDIN (FORMAT BINARY)";

    private readonly NpgsqlConnection _connection;
    private readonly string _origin;
    private readonly bool _submit;
    private readonly (WriteRow Row, long Sequence, long Time, ChangeIntegrity Integrity)[] _pending;
    private int _count;
    private NpgsqlCommand? _insert, _batch;

    public PostgresFirstRevisionInserts(NpgsqlConnection connection, string origin, bool submit)
    {
        (_connection, _origin, _submit) = (connection, origin, submit);
        _pending = new (WriteRow, long, long, ChangeIntegrity)[submit ? BatchRows : CopyRows];
    }

    /// <summary>The insert of <paramref name="rows"/> rows, 29 parameters each ($1 the first row's origin), FALSE/1/FALSE for withheld, revision and deleted.</summary>
    private static string Sql(int rows)
    {
        var values = Enumerable.Range(0, rows).Select(row =>
        {
            var p = Enumerable.Range(1 + row * ParametersPerRow, ParametersPerRow).Select(i => $"${i}").ToArray();
            return $"({string.Join(", ", p[..24])}, FALSE, 1, FALSE, {string.Join(", ", p[24..])})";
        });
        return $"INSERT INTO {ObservationRowConfiguration.Table} ({Columns}) VALUES {string.Join(", ", values)}";
    }

    public override bool Insert(in WriteRow row, long sequence, long time, in ChangeIntegrity integrity)
    {
        _insert ??= Prepare(OneRowSql + (_submit ? DoNothingOnConflict : ""), 1);
        Bind(_insert.Parameters, 0, row, sequence, time, integrity);
        return _insert.ExecuteNonQuery() == 1;
    }

    public override void Stage(int at, in WriteRow row, long sequence, long time, in ChangeIntegrity integrity) =>
        _pending[at] = (row, sequence, time, integrity);

    public override bool TryInsertStaged()
    {
        _batch ??= Prepare(BatchSql + (_submit ? DoNothingOnConflict : ""), BatchRows);
        for (var i = 0; i < BatchRows; i++)
        {
            ref var pending = ref _pending[i];
            Bind(_batch.Parameters, i * ParametersPerRow, pending.Row, pending.Sequence, pending.Time, pending.Integrity);
        }
        return _batch.ExecuteNonQuery() == BatchRows;
    }

    public override void Add(in WriteRow row, long sequence, long time, in ChangeIntegrity integrity)
    {
        _pending[_count++] = (row, sequence, time, integrity);
        if (_count == _pending.Length)
        {
            Flush();
        }
    }

    public override void Flush()
    {
        if (_count == 0)
        {
            return;
        }
        try
        {
            using var copy = _connection.BeginBinaryImport(CopySql);
            for (var i = 0; i < _count; i++)
            {
                ref var pending = ref _pending[i];
                Write(copy, pending.Row, pending.Sequence, pending.Time, pending.Integrity);
            }
            copy.Complete();
        }
        finally
        {
            _count = 0; // inserted, or the caller's transaction is rolled back with the error
        }
    }

    /// <summary>One row of the COPY, in <see cref="FirstRevisionInserts"/>' column order, each value of its column's type.</summary>
    private void Write(NpgsqlBinaryImporter copy, in WriteRow row, long sequence, long time, in ChangeIntegrity integrity)
    {
        copy.StartRow();
        copy.Write(_origin, NpgsqlDbType.Varchar);
        copy.Write(sequence, NpgsqlDbType.Bigint);
        copy.Write(row.IndicatorCode, NpgsqlDbType.Varchar);
        copy.Write(row.Country, NpgsqlDbType.Varchar);
        copy.Write(row.Period, NpgsqlDbType.Varchar);
        copy.Write(row.Sex, NpgsqlDbType.Varchar);
        copy.Write(row.Age, NpgsqlDbType.Varchar);
        copy.Write(row.CountryOfOrigin, NpgsqlDbType.Varchar);
        var added = row.Added;
        copy.Write(added.ApplicationType, NpgsqlDbType.Varchar);
        copy.Write(added.DecisionLevel, NpgsqlDbType.Varchar);
        copy.Write(added.ProcedureType, NpgsqlDbType.Varchar);
        copy.Write(added.CountBasis, NpgsqlDbType.Varchar);
        copy.Write(added.CountryOfDestination, NpgsqlDbType.Varchar);
        copy.Write(row.PeriodStart, NpgsqlDbType.Date);
        copy.Write(row.PeriodEnd, NpgsqlDbType.Date);
        if (row.Value is { } value)
        {
            copy.Write(value, NpgsqlDbType.Double);
        }
        else
        {
            copy.WriteNull();
        }
        copy.Write((int)row.Status, NpgsqlDbType.Integer);
        copy.Write(row.Note, NpgsqlDbType.Varchar);
        copy.Write(row.Attributes.LowerBound, NpgsqlDbType.Boolean);
        copy.Write((int)row.Attributes.Confidentiality, NpgsqlDbType.Integer);
        copy.Write(row.Attributes.Synthetic, NpgsqlDbType.Boolean);
        copy.Write(row.Policy.Readers, NpgsqlDbType.Varchar);
        if (row.Policy.ReleaseTime is { } release)
        {
            copy.Write(release, NpgsqlDbType.Bigint);
        }
        else
        {
            copy.WriteNull();
        }
        copy.Write(row.Policy.SmallCountThreshold, NpgsqlDbType.Integer);
        copy.Write(false, NpgsqlDbType.Boolean); // value_withheld
        copy.Write(1L, NpgsqlDbType.Bigint); // revision
        copy.Write(false, NpgsqlDbType.Boolean); // deleted
        copy.Write(time, NpgsqlDbType.Bigint);
        WriteBytes(copy, integrity.Salt);
        WriteBytes(copy, integrity.Hash);
        copy.Write(integrity.ReceivedTime, NpgsqlDbType.Bigint);
        copy.Write((int)row.Policy.Drafts, NpgsqlDbType.Integer);
    }

    /// <summary>A bytea value: NULL when empty, as SQLite's insert binds it.</summary>
    private static void WriteBytes(NpgsqlBinaryImporter copy, ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            copy.WriteNull();
        }
        else
        {
            copy.Write(bytes.ToArray(), NpgsqlDbType.Bytea);
        }
    }

    private NpgsqlCommand Prepare(string sql, int rows)
    {
        var command = new NpgsqlCommand(sql, _connection);
        for (var row = 0; row < rows; row++)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Varchar, TypedValue = _origin });
            command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint });
            for (var k = 0; k < PositionalCommand.KeyCount; k++)
            {
                command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Varchar });
            }
            command.Parameters.Add(new NpgsqlParameter<DateOnly> { NpgsqlDbType = NpgsqlDbType.Date });
            command.Parameters.Add(new NpgsqlParameter<DateOnly> { NpgsqlDbType = NpgsqlDbType.Date });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double }); // value (NULL: a deletion never comes here, but keep it nullable)
            command.Parameters.Add(new NpgsqlParameter<int> { NpgsqlDbType = NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Varchar });
            command.Parameters.Add(new NpgsqlParameter<bool> { NpgsqlDbType = NpgsqlDbType.Boolean });
            command.Parameters.Add(new NpgsqlParameter<int> { NpgsqlDbType = NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter<bool> { NpgsqlDbType = NpgsqlDbType.Boolean });
            command.Parameters.Add(new NpgsqlParameter<string> { NpgsqlDbType = NpgsqlDbType.Varchar });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint }); // release_time, nullable
            command.Parameters.Add(new NpgsqlParameter<int> { NpgsqlDbType = NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea });
            command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter<int> { NpgsqlDbType = NpgsqlDbType.Integer }); // draft_sharing
        }
        command.Prepare();
        return command;
    }

    /// <summary>Sets one row's parameters from <paramref name="at"/> (the row's origin is set once, at preparation).</summary>
    private static void Bind(NpgsqlParameterCollection p, int at, in WriteRow row, long sequence, long time, in ChangeIntegrity integrity)
    {
        ((NpgsqlParameter<long>)p[at + 1]).TypedValue = sequence;
        var key = at + 2;
        ((NpgsqlParameter<string>)p[key]).TypedValue = row.IndicatorCode;
        ((NpgsqlParameter<string>)p[key + 1]).TypedValue = row.Country;
        ((NpgsqlParameter<string>)p[key + 2]).TypedValue = row.Period;
        ((NpgsqlParameter<string>)p[key + 3]).TypedValue = row.Sex;
        ((NpgsqlParameter<string>)p[key + 4]).TypedValue = row.Age;
        ((NpgsqlParameter<string>)p[key + 5]).TypedValue = row.CountryOfOrigin;
        var added = row.Added;
        ((NpgsqlParameter<string>)p[key + 6]).TypedValue = added.ApplicationType;
        ((NpgsqlParameter<string>)p[key + 7]).TypedValue = added.DecisionLevel;
        ((NpgsqlParameter<string>)p[key + 8]).TypedValue = added.ProcedureType;
        ((NpgsqlParameter<string>)p[key + 9]).TypedValue = added.CountBasis;
        ((NpgsqlParameter<string>)p[key + 10]).TypedValue = added.CountryOfDestination;
        var next = key + PositionalCommand.KeyCount;
        ((NpgsqlParameter<DateOnly>)p[next]).TypedValue = row.PeriodStart;
        ((NpgsqlParameter<DateOnly>)p[next + 1]).TypedValue = row.PeriodEnd;
        p[next + 2].Value = row.Value is { } value ? value : DBNull.Value;
        ((NpgsqlParameter<int>)p[next + 3]).TypedValue = (int)row.Status;
        ((NpgsqlParameter<string>)p[next + 4]).TypedValue = row.Note;
        ((NpgsqlParameter<bool>)p[next + 5]).TypedValue = row.Attributes.LowerBound;
        ((NpgsqlParameter<int>)p[next + 6]).TypedValue = (int)row.Attributes.Confidentiality;
        ((NpgsqlParameter<bool>)p[next + 7]).TypedValue = row.Attributes.Synthetic;
        ((NpgsqlParameter<string>)p[next + 8]).TypedValue = row.Policy.Readers;
        p[next + 9].Value = row.Policy.ReleaseTime is { } release ? release : DBNull.Value;
        ((NpgsqlParameter<int>)p[next + 10]).TypedValue = row.Policy.SmallCountThreshold;
        ((NpgsqlParameter<long>)p[next + 11]).TypedValue = time;
        p[next + 12].Value = integrity.Salt.IsEmpty ? DBNull.Value : integrity.Salt.ToArray();
        p[next + 13].Value = integrity.Hash.IsEmpty ? DBNull.Value : integrity.Hash.ToArray();
        ((NpgsqlParameter<long>)p[next + 14]).TypedValue = integrity.ReceivedTime;
        ((NpgsqlParameter<int>)p[next + 15]).TypedValue = (int)row.Policy.Drafts;
    }

    public override void Dispose()
    {
        _insert?.Dispose();
        _batch?.Dispose();
    }
}
