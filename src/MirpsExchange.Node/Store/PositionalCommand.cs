using System.Data.Common;

namespace MirpsExchange.Node.Store;

/// <summary>
/// A parameterized statement run many times in one transaction. Its parameters are set by position (by
/// name is a linear search on every set), so each subclass names what goes where in one method and a
/// reader sees which value fills which parameter.
/// </summary>
internal abstract class PositionalCommand : IAsyncDisposable
{
    /// <summary>The key parameters (<see cref="KeyCount"/>), in <see cref="SetKey"/>'s order, and the SQL that matches a key with them.</summary>
    public static readonly string[] KeyParameters = ["@i", "@c", "@p", "@s", "@a", "@o", "@at", "@dl", "@pt", "@cb", "@cd"];

    public const int KeyCount = 11;

    public const string KeyMatch = "indicator_code = @i AND country = @c AND period = @p AND sex = @s AND age = @a AND country_of_origin = @o " +
        "AND application_type = @at AND decision_level = @dl AND procedure_type = @pt AND count_basis = @cb AND country_of_destination = @cd";

    /// <summary>The key's columns, in the unique index's order (an ON CONFLICT target adds revision).</summary>
    public const string KeyColumns = "indicator_code, country, period, sex, age, country_of_origin, " +
        "application_type, decision_level, procedure_type, count_basis, country_of_destination";

    protected readonly DbCommand Command;

    /// <summary>
    /// Microsoft.Data.Sqlite runs its async methods synchronously and only adds a Task per call (15-20%
    /// of the bulk path measured here); other providers do real asynchronous I/O.
    /// </summary>
    private readonly bool _synchronous;

    protected PositionalCommand(DbConnection connection, DbTransaction? transaction, string sql, params string[] parameters)
    {
        Command = Create(connection, transaction, sql, parameters);
        _synchronous = connection is Microsoft.Data.Sqlite.SqliteConnection;
    }

    protected DbParameterCollection Parameters => Command.Parameters;

    protected ValueTask<int> ExecuteAsync(CancellationToken cancellationToken) =>
        _synchronous ? new(Command.ExecuteNonQuery()) : new(Command.ExecuteNonQueryAsync(cancellationToken));

    /// <summary>Sets the <see cref="KeyCount"/> key parameters, which start at <paramref name="at"/>.</summary>
    protected void SetKey(in WriteRow row, int at = 0)
    {
        var p = Command.Parameters;
        p[at].Value = row.IndicatorCode;
        p[at + 1].Value = row.Country;
        p[at + 2].Value = row.Period;
        p[at + 3].Value = row.Sex;
        p[at + 4].Value = row.Age;
        p[at + 5].Value = row.CountryOfOrigin;
        var added = row.Added;
        p[at + 6].Value = added.ApplicationType;
        p[at + 7].Value = added.DecisionLevel;
        p[at + 8].Value = added.ProcedureType;
        p[at + 9].Value = added.CountBasis;
        p[at + 10].Value = added.CountryOfDestination;
    }

    /// <summary>A blob parameter's value: NULL when empty (revisions and deletions are the rarer writes: a copy each is fine).</summary>
    protected static object Blob(ReadOnlyMemory<byte> bytes) => bytes.IsEmpty ? DBNull.Value : bytes.ToArray();

    /// <summary>A command with the named <paramref name="parameters"/>, in that order (for a statement run once).</summary>
    public static DbCommand Create(DbConnection connection, DbTransaction? transaction, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    public ValueTask DisposeAsync() => Command.DisposeAsync();
}
