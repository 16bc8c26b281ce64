using System.Data.Common;

namespace MirpsExchange.Node.Store;

/// <summary>
/// A parameterized statement run many times in one transaction. Its parameters are set by position (by
/// name is a linear search on every set), so each subclass names what goes where in one method and a
/// reader sees which value fills which parameter.
/// </summary>
internal abstract class PositionalCommand : IAsyncDisposable
{
    /// <summary>The six key parameters, in <see cref="SetKey"/>'s order, and the SQL that matches a key with them.</summary>
    public static readonly string[] KeyParameters = ["@i", "@c", "@p", "@s", "@a", "@o"];

    public const string KeyMatch = "indicator_code = @i AND country = @c AND period = @p AND sex = @s AND age = @a AND country_of_origin = @o";

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

    /// <summary>Sets the six key parameters, which start at <paramref name="at"/>.</summary>
    protected void SetKey(in WriteRow row, int at = 0)
    {
        var p = Command.Parameters;
        p[at].Value = row.IndicatorCode;
        p[at + 1].Value = row.Country;
        p[at + 2].Value = row.Period;
        p[at + 3].Value = row.Sex;
        p[at + 4].Value = row.Age;
        p[at + 5].Value = row.CountryOfOrigin;
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
