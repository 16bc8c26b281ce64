using System.Buffers;
using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
/// The calls made per row go to the library directly (<see cref="Native"/>) with the raw handles, which no
/// reference count guards: a statement must not be used after its disposal or its connection's closing.
/// </summary>
internal sealed unsafe partial class SqliteStatement : IDisposable
{
    /// <summary>Strings up to this many UTF-8 bytes are encoded on the stack; longer ones (notes) in a rented buffer.</summary>
    private const int StackBytes = 512;

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    /// <summary>The raw handles behind <see cref="_db"/> and <see cref="_statement"/>, which outlive every call made with them.</summary>
    private readonly IntPtr _dbHandle, _handle;

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
        (_dbHandle, _handle) = (db.DangerousGetHandle(), _statement.DangerousGetHandle());
    }

    public void Bind(int position, string value)
    {
        var length = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = null;
        Span<byte> buffer = length <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var written = Encoding.UTF8.GetBytes(value, buffer);
            // SQLite copies the text (SQLITE_TRANSIENT); a non-null pointer with no bytes is the empty string, not NULL.
            fixed (byte* text = buffer)
            {
                Check(Native.BindText(_handle, position, text, written, Native.Transient));
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public void Bind(int position, long value) => Check(Native.BindInt64(_handle, position, value));

    /// <summary>Binds a blob (SQLite copies it); an empty one binds NULL.</summary>
    public void Bind(int position, ReadOnlySpan<byte> blob)
    {
        if (blob.IsEmpty)
        {
            Check(Native.BindNull(_handle, position));
            return;
        }
        fixed (byte* bytes = blob)
        {
            Check(Native.BindBlob(_handle, position, bytes, blob.Length, Native.Transient));
        }
    }

    public void Bind(int position, long? value) => Check(value is { } v ? Native.BindInt64(_handle, position, v) : Native.BindNull(_handle, position));

    public void Bind(int position, double? value) => Check(value is { } v ? Native.BindDouble(_handle, position, v) : Native.BindNull(_handle, position));

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
        fixed (byte* bytes = text)
        {
            Check(Native.BindText(_handle, position, bytes, text.Length, Native.Transient));
        }
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
        var result = Native.Step(_handle);
        try
        {
            if (result is not (raw.SQLITE_DONE or raw.SQLITE_ROW))
            {
                throw Error(result);
            }
            return Native.Changes(_dbHandle);
        }
        finally
        {
            Native.Reset(_handle);
        }
    }

    /// <summary>Moves a query to its next row; false when there is none.</summary>
    public bool Read()
    {
        var result = Native.Step(_handle);
        if (result is raw.SQLITE_ROW)
        {
            return true;
        }
        if (result is raw.SQLITE_DONE)
        {
            return false;
        }
        var error = Error(result);
        Native.Reset(_handle);
        throw error;
    }

    public bool IsNull(int column) => Native.ColumnType(_handle, column) == raw.SQLITE_NULL;

    public long GetInt64(int column) => Native.ColumnInt64(_handle, column);

    public double GetDouble(int column) => Native.ColumnDouble(_handle, column);

    /// <summary>A blob column's bytes (null for NULL).</summary>
    public byte[]? GetBlob(int column)
    {
        var blob = Native.ColumnBlob(_handle, column); // first, then its length, as for text
        return blob is null ? null : new ReadOnlySpan<byte>(blob, Native.ColumnBytes(_handle, column)).ToArray();
    }

    /// <summary>A text column, decoded through <paramref name="pool"/> (codes and periods repeat on every row).</summary>
    public string GetString(int column, Utf8StringPool pool)
    {
        var text = Native.ColumnText(_handle, column); // first, then its length in bytes, as SQLite's documentation orders them
        return pool.Get(new ReadOnlySpan<byte>(text, Native.ColumnBytes(_handle, column)));
    }

    /// <summary>
    /// A text column, as <paramref name="last"/> (this column's value on the row before) when its bytes are the same, else
    /// through <paramref name="pool"/>: rows read in key order repeat most of their key from one row to the next.
    /// </summary>
    public string GetString(int column, Utf8StringPool pool, RepeatedText last)
    {
        var text = Native.ColumnText(_handle, column);
        return last.Get(new ReadOnlySpan<byte>(text, Native.ColumnBytes(_handle, column)), pool);
    }

    /// <summary>Binds a command's parameters by position: its <c>?NNN</c> or named parameters, each named once, in the order the SQL first names them.</summary>
    public void Bind(DbParameterCollection parameters)
    {
        for (var i = 0; i < parameters.Count; i++)
        {
            switch (parameters[i].Value)
            {
                case string text:
                    Bind(i + 1, text);
                    break;
                case long number:
                    Bind(i + 1, number);
                    break;
                case int number:
                    Bind(i + 1, number);
                    break;
                default:
                    throw new NotSupportedException($"parameter {parameters[i].ParameterName} is a {parameters[i].Value?.GetType().Name ?? "null"}: bind a string or an integer");
            }
        }
    }

    public void Dispose() => _statement.Dispose();

    private void Check(int result)
    {
        if (result != raw.SQLITE_OK)
        {
            throw Error(result);
        }
    }

    /// <summary>
    /// The per-row calls, straight to the e_sqlite3 library SQLitePCLRaw loads (the same one): with raw handles
    /// there is no SafeHandle reference counting nor provider interface per call, which cost the feed about as
    /// much as SQLite's own column reads. The short, non-blocking ones skip the GC transition.
    /// </summary>
    private static partial class Native
    {
        private const string Library = "e_sqlite3";

        /// <summary>SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.</summary>
        public static readonly IntPtr Transient = -1;

        /// <summary>Copies the text (malloc, under SQLite's memory mutex): it keeps the GC transition.</summary>
        [LibraryImport(Library, EntryPoint = "sqlite3_bind_text"), UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int BindText(IntPtr statement, int position, byte* text, int length, IntPtr destructor);

        [LibraryImport(Library, EntryPoint = "sqlite3_bind_blob"), UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int BindBlob(IntPtr statement, int position, byte* blob, int length, IntPtr destructor);

        [LibraryImport(Library, EntryPoint = "sqlite3_bind_int64"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int BindInt64(IntPtr statement, int position, long value);

        [LibraryImport(Library, EntryPoint = "sqlite3_bind_double"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int BindDouble(IntPtr statement, int position, double value);

        [LibraryImport(Library, EntryPoint = "sqlite3_bind_null"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int BindNull(IntPtr statement, int position);

        /// <summary>Runs the statement: the long call (B-tree work, I/O), so it keeps the GC transition.</summary>
        [LibraryImport(Library, EntryPoint = "sqlite3_step"), UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int Step(IntPtr statement);

        [LibraryImport(Library, EntryPoint = "sqlite3_reset"), UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int Reset(IntPtr statement);

        [LibraryImport(Library, EntryPoint = "sqlite3_changes"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int Changes(IntPtr db);

        [LibraryImport(Library, EntryPoint = "sqlite3_column_type"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int ColumnType(IntPtr statement, int column);

        [LibraryImport(Library, EntryPoint = "sqlite3_column_int64"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial long ColumnInt64(IntPtr statement, int column);

        [LibraryImport(Library, EntryPoint = "sqlite3_column_double"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial double ColumnDouble(IntPtr statement, int column);

        [LibraryImport(Library, EntryPoint = "sqlite3_column_text"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial byte* ColumnText(IntPtr statement, int column);

        [LibraryImport(Library, EntryPoint = "sqlite3_column_blob"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial byte* ColumnBlob(IntPtr statement, int column);

        [LibraryImport(Library, EntryPoint = "sqlite3_column_bytes"), SuppressGCTransition, UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
        public static partial int ColumnBytes(IntPtr statement, int column);
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

    /// <summary>Whether it holds as many texts as it keeps.</summary>
    public bool Full => _strings.Count >= Capacity;

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

/// <summary>A text column's value on the last row read and its UTF-8 bytes (<see cref="SqliteStatement.GetString(int, Utf8StringPool, RepeatedText)"/>).</summary>
internal sealed class RepeatedText
{
    private readonly byte[] _bytes = new byte[64];
    private int _length = -1;
    private string _value = "";

    public string Get(ReadOnlySpan<byte> utf8, Utf8StringPool pool)
    {
        if (utf8.Length == _length && utf8.SequenceEqual(_bytes.AsSpan(0, _length)))
        {
            return _value;
        }
        _value = pool.Get(utf8);
        if (utf8.Length <= _bytes.Length)
        {
            utf8.CopyTo(_bytes);
            _length = utf8.Length;
        }
        else
        {
            _length = -1;
        }
        return _value;
    }
}
