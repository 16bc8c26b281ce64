using System.Data.Common;
using Microsoft.Data.Sqlite;
using MirpsExchange.Catalogue.Validation.Rules;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Rules;

/// <summary>
/// The tables the rules read for this node's last submits, as they stand once those submits are committed, so the next
/// submit finds them here instead of reading them back from the store (a batch of 10,000 splits a table, so the next
/// batch needed its first part again; the batch completing a month's decisions reads six tables for the pending balance).
/// <para>
/// Valid only while nothing else wrote: a submit finds the tables only when the write gate's last holder was the submit
/// that left them (<see cref="WriteGate.Entries"/>: a replica write, a deletion, a refused, failed or replayed submit, a
/// key rotation in between drops them all), on the same SQLite connection, with no commit by any other connection since
/// (PRAGMA data_version, which another process's write changes too). A table is kept whole or not at all: its cells, and
/// whether the store holds anything in it (a value the rules cannot judge counts). Used under the write gate only.
/// </para>
/// </summary>
public sealed class WrittenRuleTables(WriteGate gate)
{
    /// <summary>
    /// Most cells kept; beyond them the tables the longest unused go first. A month of every monthly indicator by sex,
    /// age and origin is about 60,000 cells, and the pending balance reads the month before's stock again.
    /// </summary>
    public const int MaxCells = 100_000;

    private readonly Dictionary<RuleTable, Table> _tables = [];
    private long _entry = -1;
    private object? _connection;
    private long _dataVersion;
    private string? _country;
    private long _commits;
    private int _cells;

    /// <summary>A table as the store holds it: whether anything current is in it, and the cells the rules judge (null: none).</summary>
    public sealed record Table(bool Exists, Dictionary<long, RuleCell>? Cells)
    {
        internal long Used;
    }

    /// <summary>
    /// Called in the submit's write transaction, under the gate, before the rules read anything: the tables still valid
    /// (none when anything else wrote since they were left). Until <see cref="Session.Committed"/>, none is valid for the next writer.
    /// </summary>
    public async Task<Session> BeginAsync(DbConnection connection, DbTransaction transaction, string country, CancellationToken cancellationToken)
    {
        // Run in the transaction, this also starts its read snapshot: a commit by another connection after it makes this
        // transaction's write fail, so a write that commits saw no other commit since this version.
        // Another provider (PostgreSQL) has no data version: its tables are never kept from one submit to the next.
        long version = 0;
        if (connection is SqliteConnection)
        {
            await using var pragma = connection.CreateCommand();
            pragma.Transaction = transaction;
            pragma.CommandText = "PRAGMA data_version";
            version = Convert.ToInt64(await pragma.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }
        var handle = (connection as SqliteConnection)?.Handle;
        var entry = gate.Entries;
        if (entry != _entry + 1 || handle is null || !ReferenceEquals(handle, _connection) || version != _dataVersion || country != _country)
        {
            _tables.Clear();
            _cells = 0;
        }
        _entry = -1;
        return new Session(this, entry, handle, version, country);
    }

    /// <summary>One submit's use: the tables it finds, and those it leaves once committed.</summary>
    public sealed class Session
    {
        private readonly WrittenRuleTables _owner;
        private readonly long _entry;
        private readonly object? _connection;
        private readonly long _dataVersion;
        private readonly string _country;
        private readonly Dictionary<RuleTable, Table> _left = [];

        internal Session(WrittenRuleTables owner, long entry, object? connection, long dataVersion, string country) =>
            (_owner, _entry, _connection, _dataVersion, _country) = (owner, entry, connection, dataVersion, country);

        /// <summary>The table as the store holds it now, when known.</summary>
        public bool TryFind(RuleTable table, out Table found)
        {
            if (_owner._tables.TryGetValue(table, out var known))
            {
                found = known;
                return true;
            }
            found = null!;
            return false;
        }

        /// <summary>The table as the store will hold it once this submit is committed (its request's cells written).</summary>
        public void Leave(RuleTable table, Table written) => _left[table] = written;

        /// <summary>The submit is committed (still under the gate): the tables it left are valid for the next submit.</summary>
        public void Committed()
        {
            var owner = _owner;
            var use = ++owner._commits;
            foreach (var (table, written) in _left)
            {
                if (owner._tables.Remove(table, out var earlier))
                {
                    owner._cells -= earlier.Cells?.Count ?? 0;
                }
                written.Used = use;
                owner._tables[table] = written;
                owner._cells += written.Cells?.Count ?? 0;
            }
            if (owner._cells > MaxCells)
            {
                foreach (var (table, known) in owner._tables.OrderBy(t => t.Value.Used).ToList())
                {
                    if (owner._cells <= MaxCells || known.Used == use)
                    {
                        break;
                    }
                    owner._tables.Remove(table);
                    owner._cells -= known.Cells?.Count ?? 0;
                }
            }
            (owner._entry, owner._connection, owner._dataVersion, owner._country) = (_entry, _connection, _dataVersion, _country);
        }
    }
}
