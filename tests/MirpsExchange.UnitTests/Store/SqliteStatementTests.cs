using Microsoft.Data.Sqlite;
using MirpsExchange.Node.Store;

namespace MirpsExchange.UnitTests.Store;

/// <summary>
/// The bulk paths' statements bound through SQLite's own API must store exactly what Microsoft.Data.Sqlite
/// stores for the same values, since EF Core queries read them back.
/// </summary>
public sealed class SqliteStatementTests : IDisposable
{
    private readonly SqliteConnection _connection = new("Data Source=:memory:");

    public SqliteStatementTests()
    {
        _connection.Open();
        Execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL, day TEXT, value REAL, number INTEGER, UNIQUE (text))");
    }

    public static TheoryData<string> Texts => new()
    {
        "",
        "BLZ",
        "Niñas y niños (cifras sintéticas)",
        "国籍不明",
        new string('x', 600), // past the stack buffer
        string.Concat(Enumerable.Repeat("años ", 200)), // 1,000 characters, multi-byte: a rented buffer
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Text_is_stored_and_read_back_as_is(string text)
    {
        using (var insert = new SqliteStatement(_connection, "INSERT INTO t (id, text) VALUES (?1, ?2)"))
        {
            insert.Bind(1, 1L);
            insert.Bind(2, text);
            Assert.Equal(1, insert.Execute());
        }

        Assert.Equal(text, Scalar("SELECT text FROM t WHERE id = 1"));
        using var query = new SqliteStatement(_connection, "SELECT text FROM t");
        Assert.True(query.Read());
        Assert.Equal(text, query.GetString(0, new Utf8StringPool()));
        Assert.False(query.Read());
    }

    [Fact]
    public void A_date_is_stored_as_Microsoft_Data_Sqlite_stores_it()
    {
        var days = new[] { new DateOnly(2023, 1, 1), new DateOnly(2024, 2, 29), new DateOnly(999, 12, 31) };
        using (var insert = new SqliteStatement(_connection, "INSERT INTO t (id, text, day) VALUES (?1, ?2, ?3)"))
        {
            for (var i = 0; i < days.Length; i++)
            {
                insert.Bind(1, (long)i);
                insert.Bind(2, $"native {i}");
                insert.Bind(3, days[i]);
                insert.Execute();
            }
        }
        using (var ado = _connection.CreateCommand())
        {
            ado.CommandText = "INSERT INTO t (id, text, day) VALUES ($id, $text, $day)";
            for (var i = 0; i < days.Length; i++)
            {
                ado.Parameters.Clear();
                ado.Parameters.AddWithValue("$id", 10 + i);
                ado.Parameters.AddWithValue("$text", $"ado {i}");
                ado.Parameters.AddWithValue("$day", days[i]);
                ado.ExecuteNonQuery();
            }
        }

        for (var i = 0; i < days.Length; i++)
        {
            Assert.Equal(Scalar($"SELECT day FROM t WHERE id = {10 + i}"), Scalar($"SELECT day FROM t WHERE id = {i}"));
        }
        Assert.Equal("0999-12-31", Scalar("SELECT day FROM t WHERE id = 2"));
    }

    [Fact]
    public void Bindings_stay_from_one_run_to_the_next_and_a_changed_text_is_bound_again()
    {
        using (var insert = new SqliteStatement(_connection, "INSERT INTO t (id, text, value, number) VALUES (?1, ?2, ?3, ?4)"))
        {
            Assert.True(insert.BindIfChanged(2, "first"));
            insert.Bind(3, (double?)null);
            insert.Bind(4, (long?)7);
            insert.Bind(1, 1L);
            insert.Execute();
            insert.Bind(1, 2L);
            Assert.True(insert.BindIfChanged(2, "second"));
            Assert.False(insert.BindIfChanged(2, new string("second".AsSpan()))); // equal text in another instance is the same
            insert.Bind(3, 2.5);
            insert.Bind(4, (long?)null);
            insert.Execute();
        }

        Assert.Equal("first|NULL|7;second|2.5|NULL", Scalar("SELECT group_concat(text || '|' || coalesce(value, 'NULL') || '|' || coalesce(number, 'NULL'), ';') FROM (SELECT * FROM t ORDER BY id)"));
    }

    [Fact]
    public void A_constraint_failure_is_the_SqliteException_ADO_NET_would_throw_and_the_statement_runs_again()
    {
        using var insert = new SqliteStatement(_connection, "INSERT INTO t (id, text) VALUES (?1, ?2)");
        insert.Bind(1, 1L);
        insert.Bind(2, "same");
        insert.Execute();
        insert.Bind(1, 2L);

        var error = Assert.Throws<SqliteException>(() => insert.Execute());

        Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
        Assert.Equal(2067, error.SqliteExtendedErrorCode); // SQLITE_CONSTRAINT_UNIQUE
        Assert.Contains("UNIQUE constraint failed: t.text", error.Message);
        insert.Bind(2, "other");
        Assert.Equal(1, insert.Execute());
        Assert.Equal("2", Scalar("SELECT count(*) FROM t"));
    }

    [Fact]
    public void The_pool_returns_one_string_per_text_and_decodes_what_it_does_not_keep()
    {
        var pool = new Utf8StringPool();
        var first = pool.Get("Año"u8);
        var again = pool.Get("Año"u8);
        var longNote = string.Concat(Enumerable.Repeat("ñ", 300));

        Assert.Equal("Año", first);
        Assert.Same(first, again);
        Assert.Equal("", pool.Get([]));
        Assert.Equal(longNote, pool.Get(System.Text.Encoding.UTF8.GetBytes(longNote)));
    }

    public void Dispose() => _connection.Dispose();

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private string? Scalar(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar()?.ToString();
    }
}
