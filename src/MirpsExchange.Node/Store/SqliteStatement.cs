using System.Buffers;
using System.Data.Common;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace MirpsExchange.Node.Store;

/// <summary>
/// A statement prepared once and run many times through SQLite's own API, binding by position.
/// Microsoft.Data.Sqlite looks every parameter up by name and converts every value again on each
/// execution, which cost more than SQLite's insert itself on the bulk paths (1,000,000 sorted rows with
/// the store's columns and indexes: 100,000–111,000 rows/s through SqliteCommand, 160,000–167,000 through
/// this). Strings are bound as UTF-8 without allocating. It runs on an open connection, inside whatever
/// transaction EF Core or ADO.NET began on it, and must be disposed before the connection closes.
/// </summary>
internal sealed class SqliteStatement : IDisposable
{
    /// <summary>Strings up to this many UTF-8 bytes are encoded on the stack; longer ones (notes) in a rented buffer.</summary>
    private const int StackBytes = 512;

    /// <summary>An empty string: a zero-length span would bind NULL, which NOT NULL columns refuse.</summary>
    private static readonly byte[] Empty = [0];

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    /// <summary>The text each position holds, for <see cref="BindIfChanged"/>.</summary>
    private string?[]? _bound;

    public SqliteStatement(DbConnection connection, string sql)
    {
        if (connection is not SqliteConnection { Handle: { } db })
        {
            throw new NotSupportedException("the bulk write path runs on SQLite's own API; another provider needs its own (PostgreSQL: COPY)");
        }
        _db = db;
        Check(raw.sqlite3_prepare_v2(db, sql, out _statement));
    }

    public void Bind(int position, string value)
    {
        if (value.Length == 0)
        {
            Check(raw.sqlite3_bind_text(_statement, position, utf8z.FromSpan(Empty)));
            return;
        }
        var length = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = null;
        Span<byte> buffer = length <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var written = Encoding.UTF8.GetBytes(value, buffer);
            Check(raw.sqlite3_bind_text(_statement, position, buffer[..written])); // SQLite copies it (SQLITE_TRANSIENT)
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public void Bind(int position, long value) => Check(raw.sqlite3_bind_int64(_statement, position, value));

    public void Bind(int position, long? value) => Check(value is { } v ? raw.sqlite3_bind_int64(_statement, position, v) : raw.sqlite3_bind_null(_statement, position));

    public void Bind(int position, double? value) => Check(value is { } v ? raw.sqlite3_bind_double(_statement, position, v) : raw.sqlite3_bind_null(_statement, position));

    /// <summary>
    /// Binds <paramref name="value"/> unless this position already holds the same text (SQLite keeps
    /// bindings from one run to the next): codes and periods repeat from row to row. True when it bound.
    /// </summary>
    public bool BindIfChanged(int position, string value)
    {
        _bound ??= new string?[raw.sqlite3_bind_parameter_count(_statement) + 1];
        if (string.Equals(_bound[position], value, StringComparison.Ordinal))
        {
            return false;
        }
        Bind(position, value);
        _bound[position] = value;
        return true;
    }

    /// <summary>As Microsoft.Data.Sqlite stores a DateOnly (yyyy-MM-dd text), so EF Core's queries compare it alike.</summary>
    public void Bind(int position, DateOnly value)
    {
        Span<byte> text = stackalloc byte[10];
        WriteDigits(text[..4], value.Year);
        text[4] = (byte)'-';
        WriteDigits(text.Slice(5, 2), value.Month);
        text[7] = (byte)'-';
        WriteDigits(text.Slice(8, 2), value.Day);
        Check(raw.sqlite3_bind_text(_statement, position, text));
    }

    private static void WriteDigits(Span<byte> text, int number)
    {
        for (var i = text.Length - 1; i >= 0; i--, number /= 10)
        {
            text[i] = (byte)('0' + number % 10);
        }
    }

    /// <summary>Runs the statement with the values bound; returns the rows it changed. The bound values stay for the next run.</summary>
    public int Execute()
    {
        var result = raw.sqlite3_step(_statement);
        try
        {
            if (result is not (raw.SQLITE_DONE or raw.SQLITE_ROW))
            {
                throw Error(result);
            }
            return raw.sqlite3_changes(_db);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>Moves a query to its next row; false when there is none.</summary>
    public bool Read()
    {
        var result = raw.sqlite3_step(_statement);
        if (result is raw.SQLITE_ROW)
        {
            return true;
        }
        if (result is raw.SQLITE_DONE)
        {
            return false;
        }
        var error = Error(result);
        raw.sqlite3_reset(_statement);
        throw error;
    }

    public bool IsNull(int column) => raw.sqlite3_column_type(_statement, column) == raw.SQLITE_NULL;

    public long GetInt64(int column) => raw.sqlite3_column_int64(_statement, column);

    public double GetDouble(int column) => raw.sqlite3_column_double(_statement, column);

    /// <summary>A text column, decoded through <paramref name="pool"/> (codes and periods repeat on every row).</summary>
    public string GetString(int column, Utf8StringPool pool) => pool.Get(raw.sqlite3_column_blob(_statement, column));

    public void Dispose() => _statement.Dispose();

    private void Check(int result)
    {
        if (result != raw.SQLITE_OK)
        {
            throw Error(result);
        }
    }

    /// <summary>The exception Microsoft.Data.Sqlite would throw, so callers handle both paths' errors alike.</summary>
    private SqliteException Error(int result) =>
        new($"SQLite Error {result}: '{raw.sqlite3_errmsg(_db).utf8_to_string()}'.", result, raw.sqlite3_extended_errcode(_db));
}

/// <summary>
/// The strings a query reads again and again (codes, periods, policies) decoded once: looked up by their
/// characters, decoded on the stack, so a repeated value allocates nothing. Bounded: past its capacity,
/// new values are decoded and not kept.
/// </summary>
internal sealed class Utf8StringPool
{
    private const int MaxPooledChars = 128, Capacity = 8192;

    private readonly HashSet<string> _strings = new(StringComparer.Ordinal);

    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return "";
        }
        if (utf8.Length > MaxPooledChars)
        {
            return Encoding.UTF8.GetString(utf8); // a long note: seldom repeated
        }
        Span<char> chars = stackalloc char[MaxPooledChars];
        var text = chars[..Encoding.UTF8.GetChars(utf8, chars)];
        if (_strings.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out var known))
        {
            return known;
        }
        var decoded = new string(text);
        if (_strings.Count < Capacity)
        {
            _strings.Add(decoded);
        }
        return decoded;
    }
}
