using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using MirpsExchange.Catalogue;
using Periods = MirpsExchange.Catalogue.Periods;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sharing;

/// <summary>
/// The revisions a node serves to a reader as WITHHOLDING_COMPLEMENTARY (<see cref="ComplementarySuppression"/>), computed
/// from the stored rows when they are served: for queries, histories, as-of answers and the change feed alike, so a
/// revision is withheld in every answer or in none. Only tables that hold a value withheld from the reader and something
/// it may read are read again. The owner and the Secretariat see everything: nothing is computed for them.
/// </summary>
public static class ComplementaryWithholding
{
    /// <summary>
    /// The dimension values of a row, in <see cref="StandardCatalogue.ObservationDimensions"/> order: a dimension added to
    /// observations (catalogue 2.0) is added here and below, and the rule treats it as every other.
    /// </summary>
    public static string[] DimensionValues(ObservationRow row) =>
        [row.Sex, row.Age, row.CountryOfOrigin, row.ApplicationType, row.DecisionLevel, row.ProcedureType, row.CountBasis, row.CountryOfDestination];

    /// <summary>
    /// The dimension values of an observation, as <see cref="DimensionValues(ObservationRow)"/>: catalogue 2.0's dimensions as
    /// stored (a declared one left empty at its default, <see cref="StandardCatalogue.Normalised"/>).
    /// </summary>
    public static string[] DimensionValues(Mirps.Observation.V1.Observation o, StandardCatalogue catalogue) =>
        MirpsExchange.Catalogue.Validation.Rules.ObservationDimensionFields.Values(o, catalogue.Normalised(o.IndicatorCode, Mirps.Log.AddedDimensions.Of(o)));

    /// <summary>
    /// A table: one indicator, country (the origin) and calendar year, all of its periods (the year, its quarters, its months), so
    /// that the temporal lines (a year against its quarters and months) lie in one system with the additive ones.
    /// </summary>
    public readonly record struct Table(string IndicatorCode, string Country, string Year)
    {
        /// <summary>The table of an observation of <paramref name="period"/> ("2023", "2023-Q1", "2023-01": its first four characters).</summary>
        public static Table Of(string indicatorCode, string country, string period) => new(indicatorCode, country, YearOf(period));

        /// <summary>Every period of the table, as stored: the year, its four quarters, its twelve months.</summary>
        public string[] Periods()
        {
            var year = Year;
            return [year, .. Enumerable.Range(1, 4).Select(q => $"{year}-Q{q}"), .. Enumerable.Range(1, 12).Select(m => $"{year}-{m:D2}")];
        }
    }

    /// <summary>The calendar year of a stored period (its first four characters: periods are stored in their canonical form).</summary>
    public static string YearOf(string period) => period.Length >= 4 ? period[..4] : period;

    /// <summary>
    /// The revisions (origin, sequence) to withhold as complementary from <paramref name="reader"/>, of the tables (indicator,
    /// country, year) that <paramref name="tableRows"/> reaches: every revision of a whole table, not filtered by dimension,
    /// period of the year or time; <paramref name="rows"/> holds the store's observations. Null for a reader that is never suppressed (the Secretariat); the owner's own tables are left out.
    /// </summary>
    public static async Task<HashSet<(string Origin, long Sequence)>?> ForTablesAsync(
        IQueryable<ObservationRow> rows, IQueryable<ObservationRow> tableRows, Reader reader, StandardCatalogue catalogue, long nowMicros, CancellationToken cancellationToken,
        (Memo Memo, NodeDbContext Db)? memo = null)
    {
        if (reader.IsSecretariat)
        {
            return null;
        }
        // The tables the query serves a value of, and among them those that hold a value withheld from the reader in any period
        // of the year (the query may read only some of them): read from the store, within the years reached.
        var visible = await tableRows.Where(o => o.Origin != reader.Country).Where(ObservationQueries.Visible(reader, nowMicros))
            .Select(o => new { o.IndicatorCode, o.Country, Year = o.Period.Substring(0, 4) }).Distinct().ToListAsync(cancellationToken);
        var tables = new List<Table>();
        if (visible.Count > 0)
        {
            var indicators = visible.Select(t => t.IndicatorCode).Distinct().ToList();
            var countries = visible.Select(t => t.Country).Distinct().ToList();
            var years = visible.Select(t => Periods.Period.TryParse(t.Year, out var year) ? year.Year : (int?)null).OfType<int>().DefaultIfEmpty(1900).ToList();
            var (from, to) = (new DateOnly(years.Min(), 1, 1), new DateOnly(years.Max(), 12, 31));
            var withheld = await WithheldFrom(rows.Where(o => indicators.Contains(o.IndicatorCode) && countries.Contains(o.Country) && o.PeriodStart >= from && o.PeriodEnd <= to), reader, nowMicros)
                .Select(o => new { o.IndicatorCode, o.Country, Year = o.Period.Substring(0, 4) }).Distinct().ToListAsync(cancellationToken);
            tables.AddRange(visible.Intersect(withheld).Select(t => new Table(t.IndicatorCode, t.Country, t.Year)));
        }
        return await ForTablesAsync(rows, tables, reader, catalogue, nowMicros, cancellationToken, known: true, memo);
    }

    /// <summary>
    /// The revisions to withhold as complementary from <paramref name="reader"/> in <paramref name="tables"/>, whose rows
    /// <paramref name="rows"/> holds (the store's observations): each table is read whole.
    /// </summary>
    public static Task<HashSet<(string Origin, long Sequence)>?> ForTablesAsync(
        IQueryable<ObservationRow> rows, IEnumerable<Table> tables, Reader reader, StandardCatalogue catalogue, long nowMicros, CancellationToken cancellationToken,
        (Memo Memo, NodeDbContext Db)? memo = null) =>
        ForTablesAsync(rows, tables, reader, catalogue, nowMicros, cancellationToken, known: false, memo);

    /// <summary>
    /// What the store holds of an origin, as far as the tables' withholdings go: its last change (a commit adds changes after
    /// it), its placeholders (a placeholder replaced by its change adds a row with an earlier sequence, and removes the
    /// placeholder: their number and the sum of their sequences change, as changes added after the last never restore both)
    /// and <see cref="Rewrites"/> (rows removed).
    /// </summary>
    public readonly record struct Version(long LastSequence, long Placeholders, long PlaceholderSequences, long Rewrites);

    /// <summary>
    /// One reader's tables already computed (a year's table is read again by every feed batch, history and query that reaches
    /// it): each valid until the first release time ahead of the computation (an embargo ending changes what is withheld), at
    /// the <see cref="Version"/> it was computed at, and after it while the origin's changes since then (read by sequence,
    /// in proportion to what they are) add no row to the table, or, where nothing in the table was withheld from the reader,
    /// only rows the reader receives. So a commit costs the tables it touches, not every table of the origin (on a replica of
    /// 1 M rows, a table of 63,000 rows was read again for every answer after each commit: 0.2-0.9 s each).
    /// </summary>
    public sealed class Memo
    {
        /// <summary>Most tables kept; the memo starts over beyond.</summary>
        private const int Kept = 4_096;

        private readonly System.Collections.Concurrent.ConcurrentDictionary<Table, Entry> _tables = new();

        /// <summary>
        /// A table's complements, computed at <paramref name="Version"/> with the origin's <paramref name="Method"/> in force
        /// (<see cref="SuppressionMethods"/>); <paramref name="NothingWithheld"/>: no value of it was withheld from the reader.
        /// </summary>
        internal readonly record struct Entry(Version Version, long ValidUntil, HashSet<long> Complements, bool NothingWithheld, uint Method);

        /// <summary>The table's entry, at any version, while its release time is ahead, computed with <paramref name="method"/>.</summary>
        internal bool TryGet(Table table, long nowMicros, uint method, out Entry entry) =>
            _tables.TryGetValue(table, out entry) && nowMicros < entry.ValidUntil && entry.Method == method;

        /// <summary>The table's entry, whose release time is ahead, carried to <paramref name="version"/> (nothing it reads changed).</summary>
        internal void Carry(Table table, Version from, Version version)
        {
            if (_tables.TryGetValue(table, out var kept) && kept.Version == from)
            {
                _tables.TryUpdate(table, kept with { Version = version }, kept);
            }
        }

        internal void Keep(Table table, Entry entry)
        {
            if (_tables.Count >= Kept)
            {
                _tables.Clear();
            }
            _tables[table] = entry;
        }
    }

    /// <summary>How many times a node removed an origin's rows (<see cref="RowsRemoved"/>): part of every <see cref="Version"/>.</summary>
    private static long _rewrites;

    /// <summary>
    /// Tells the memos that rows were removed from a store (a replica's copy of history from before logs were signed gives way
    /// to the signed log): a removal adds no change after the last, so no table computed before it is carried over.
    /// </summary>
    public static void RowsRemoved() => Interlocked.Increment(ref _rewrites);

    /// <summary>Most changes read to carry a memo's tables to the current version; beyond, the tables are read again.</summary>
    private const int MostChangesSince = 4_096;

    /// <summary>Each store's memos, by reader: queries and histories of one reader share what they computed.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Store, string Reader), Memo> Memos = new();

    /// <summary>The memo of <paramref name="reader"/>'s answers from the store <paramref name="db"/>.</summary>
    public static Memo MemoOf(NodeDbContext db, Reader reader)
    {
        if (Memos.Count >= 1_024)
        {
            Memos.Clear();
        }
        return Memos.GetOrAdd((db.Database.GetConnectionString() ?? "", reader.IsSecretariat ? "" : reader.Country ?? ""), _ => new Memo());
    }

    /// <summary>What the store holds of <paramref name="origin"/> (<see cref="Version"/>).</summary>
    public static async Task<Version> VersionAsync(NodeDbContext db, string origin, CancellationToken cancellationToken)
    {
        var rewrites = Interlocked.Read(ref _rewrites); // before the rows: a removal after it makes the next version differ
        var last = (await OriginLog.LastChangeAsync(db, origin, cancellationToken)).Sequence;
        var placeholders = await db.WithheldChanges.AsNoTracking().Where(w => w.Origin == origin).GroupBy(w => w.Origin)
            .Select(g => new { Count = g.LongCount(), Sum = g.Sum(w => w.OriginSequence) }).FirstOrDefaultAsync(cancellationToken);
        return new Version(last, placeholders?.Count ?? 0, placeholders?.Sum ?? 0, rewrites);
    }

    /// <summary>
    /// The rows of <paramref name="table"/>: found through the key index (indicator, country, period). The origin is compared
    /// as an expression (origin || ''), which SQLite cannot look up in an index: compared as a column, SQLite (with no
    /// statistics) took the primary key's index (origin, sequence) instead, and read every row of the origin for each table.
    /// </summary>
    internal static IQueryable<ObservationRow> RowsOf(IQueryable<ObservationRow> rows, Table table)
    {
        var (indicator, country, periods) = (table.IndicatorCode, table.Country, table.Periods());
        return rows.Where(o => o.IndicatorCode == indicator && o.Country == country && periods.Contains(o.Period) && o.Origin + "" == country);
    }

    /// <summary>
    /// <paramref name="origin"/>'s changes held after <paramref name="after"/> up to <paramref name="upTo"/> (the primary key's
    /// range), with what tells whether each falls in a table and whether the reader receives its value; null when they are
    /// more than <see cref="MostChangesSince"/>.
    /// </summary>
    private static async Task<List<ObservationRow>?> ChangesSinceAsync(NodeDbContext db, string origin, long after, long upTo, CancellationToken cancellationToken)
    {
        if (upTo - after > MostChangesSince)
        {
            return null;
        }
        return await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.OriginSequence > after && o.OriginSequence <= upTo)
            .Select(o => new ObservationRow
            {
                Origin = o.Origin, OriginSequence = o.OriginSequence, IndicatorCode = o.IndicatorCode, Country = o.Country, Period = o.Period,
                Sex = "", Age = "", CountryOfOrigin = "", Note = "", Value = o.Value, Deleted = o.Deleted, ValueWithheld = o.ValueWithheld,
                Readers = o.Readers, ReleaseTime = o.ReleaseTime, SmallCountThreshold = o.SmallCountThreshold,
            })
            .ToListAsync(cancellationToken);
    }

    /// <summary>
    /// Whether a table's memo entry at <paramref name="kept"/> holds at <paramref name="current"/>: only changes were added since
    /// (no placeholder replaced, no row removed), and those of the table, if any, are received by the reader in a table where
    /// nothing was withheld from it (no withheld value, so no complement: it stays so).
    /// </summary>
    private static async Task<bool> StillHoldsAsync(Table table, Version kept, Version current, bool nothingWithheld, Reader reader, long nowMicros,
        NodeDbContext db, Dictionary<(string, long, long), List<ObservationRow>?> since, CancellationToken cancellationToken)
    {
        if (kept == current)
        {
            return true;
        }
        if (kept with { LastSequence = current.LastSequence } != current || kept.LastSequence > current.LastSequence)
        {
            return false;
        }
        var range = (table.Country, kept.LastSequence, current.LastSequence);
        if (!since.TryGetValue(range, out var changes))
        {
            since[range] = changes = await ChangesSinceAsync(db, table.Country, kept.LastSequence, current.LastSequence, cancellationToken);
        }
        if (changes is null)
        {
            return false;
        }
        var year = table.Year;
        var inTable = changes.Where(o => o.IndicatorCode == table.IndicatorCode && o.Country == table.Country && YearOf(o.Period) == year);
        return nothingWithheld ? !inTable.Any(o => WithheldFrom(reader, o, nowMicros)) : !inTable.Any();
    }

    /// <param name="known">Whether every table is known to hold a value withheld from the reader; otherwise a table is read only when it does.</param>
    private static async Task<HashSet<(string Origin, long Sequence)>?> ForTablesAsync(
        IQueryable<ObservationRow> rows, IEnumerable<Table> tables, Reader reader, StandardCatalogue catalogue, long nowMicros, CancellationToken cancellationToken,
        bool known, (Memo Memo, NodeDbContext Db)? memo = null)
    {
        if (reader.IsSecretariat)
        {
            return null;
        }
        var complements = new HashSet<(string, long)>();
        var versions = new Dictionary<string, Version>(StringComparer.Ordinal); // by origin, once per answer
        var methods = new Dictionary<string, uint>(StringComparer.Ordinal); // the method in force, by origin, once per answer
        var since = new Dictionary<(string, long, long), List<ObservationRow>?>(); // an origin's changes after a memo's version, once per answer
        foreach (var table in tables)
        {
            if (reader.Owns(table.Country))
            {
                continue;
            }
            Version version = default;
            var method = Mirps.Log.SuppressionMethod.Default;
            if (memo is { } m)
            {
                if (!versions.TryGetValue(table.Country, out version))
                {
                    versions[table.Country] = version = await VersionAsync(m.Db, table.Country, cancellationToken);
                }
                // The method the origin's signed heads put in force (the table is the origin's: its country): every node that holds
                // the log serves the table with it, so they withhold the same cells.
                if (!methods.TryGetValue(table.Country, out method))
                {
                    methods[table.Country] = method = await SuppressionMethods.ServingAsync(m.Db, table.Country, cancellationToken);
                }
                if (m.Memo.TryGet(table, nowMicros, method, out var kept)
                    && await StillHoldsAsync(table, kept.Version, version, kept.NothingWithheld, reader, nowMicros, m.Db, since, cancellationToken))
                {
                    m.Memo.Carry(table, kept.Version, version);
                    complements.UnionWith(kept.Complements.Select(sequence => (table.Country, sequence)));
                    continue;
                }
            }
            var tableRows = RowsOf(rows, table);
            // A year's table holds up to 17 periods: it is read only when the reader has something to protect in it.
            if (!known && !await WithheldFrom(tableRows, reader, nowMicros).AnyAsync(cancellationToken))
            {
                // Nothing withheld now stays so while the rows stay the same (an embargo only ends).
                memo?.Memo.Keep(table, new Memo.Entry(version, long.MaxValue, [], NothingWithheld: true, method));
                continue;
            }
            // Only what the rule reads (no note, salt or links): a table of a few thousand revisions is read for every answer.
            var history = await tableRows
                .Select(o => new ObservationRow
                {
                    Origin = o.Origin, OriginSequence = o.OriginSequence, IndicatorCode = o.IndicatorCode, Country = o.Country, Period = o.Period,
                    Sex = o.Sex, Age = o.Age, CountryOfOrigin = o.CountryOfOrigin, ApplicationType = o.ApplicationType, DecisionLevel = o.DecisionLevel,
                    ProcedureType = o.ProcedureType, CountBasis = o.CountBasis, CountryOfDestination = o.CountryOfDestination, Note = "",
                    Value = o.Value, Deleted = o.Deleted, ValueWithheld = o.ValueWithheld, RecordedTime = o.RecordedTime,
                    Readers = o.Readers, ReleaseTime = o.ReleaseTime, SmallCountThreshold = o.SmallCountThreshold,
                })
                .ToListAsync(cancellationToken);
            var revisions = history.ConvertAll(row => new ComplementarySuppression.Revision(
                row.OriginSequence, row.RecordedTime, DimensionValues(row), row.Deleted, WithheldFrom(reader, row, nowMicros), row.Period));
            var computed = Complements(table, revisions, catalogue, method);
            foreach (var sequence in computed)
            {
                complements.Add((table.Country, sequence));
            }
            memo?.Memo.Keep(table, new Memo.Entry(version, history.Select(row => row.ReleaseTime).Where(release => release > nowMicros).Min() ?? long.MaxValue, computed,
                NothingWithheld: !revisions.Any(r => r.Withheld), method));
        }
        return complements;
    }

    /// <summary>Most tables whose complements are kept (<see cref="Complements"/>); the cache starts over beyond.</summary>
    private const int CachedTables = 4_096;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, HashSet<long>> Cache = new(StringComparer.Ordinal);

    /// <summary>
    /// <see cref="ComplementarySuppression.Complements"/>, kept for the table's exact input (its revisions and which are withheld),
    /// so that the histories, as-of answers and feed batches that read a table again do not compute it again.
    /// </summary>
    private static HashSet<long> Complements(Table table, List<ComplementarySuppression.Revision> revisions, StandardCatalogue catalogue, uint method)
    {
        // A revision (origin, sequence) never changes, so the sequences and which are withheld identify the input; hashed, so
        // a large table's key stays small.
        var input = $"{catalogue.Digest}|{method}|{table.IndicatorCode}|{table.Country}|{table.Year}|{string.Join(',', revisions.Select(r => r.Withheld ? -r.Sequence : r.Sequence).Order())}";
        var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(input)));
        if (Cache.TryGetValue(key, out var cached))
        {
            return cached;
        }
        var complements = ComplementarySuppression.Complements(revisions, SuppressionMethods.RuleOf(catalogue, table.IndicatorCode, method));
        if (Cache.Count >= CachedTables)
        {
            Cache.Clear();
        }
        Cache[key] = complements;
        return complements;
    }

    /// <summary>
    /// The rows whose value <paramref name="reader"/> does not receive for a reason of its own (as <see cref="WithheldFrom(Reader, ObservationRow, long)"/>
    /// says, in SQL): a small count, a value this node holds withheld, a change not shared with it or embargoed. Deletions carry no value.
    /// </summary>
    public static IQueryable<ObservationRow> WithheldFrom(IQueryable<ObservationRow> rows, Reader reader, long nowMicros)
    {
        var visible = ObservationQueries.Visible(reader, nowMicros);
        var hidden = Expression.Lambda<Func<ObservationRow, bool>>(Expression.Not(visible.Body), visible.Parameters);
        var others = rows.Where(o => !o.Deleted && o.Origin != reader.Country);
        return others.Where(o => o.ValueWithheld || (o.SmallCountThreshold > 1 && o.Value >= 1 && o.Value < o.SmallCountThreshold))
            .Union(others.Where(hidden));
    }

    /// <summary>Whether <paramref name="reader"/> does not receive the row's value for a reason of its own: a small count, not shared, embargoed, not held here.</summary>
    public static bool WithheldFrom(Reader reader, ObservationRow row, long nowMicros)
    {
        if (row.Deleted)
        {
            return false;
        }
        var policy = row.Policy();
        return row.ValueWithheld || SharingRules.AccessOf(reader, row.Origin, policy, policy.IsSmall(row.Value), nowMicros) != Access.Full;
    }
}
