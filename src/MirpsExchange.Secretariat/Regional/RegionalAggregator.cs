using System.Data.Common;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Secretariat.Regional;

/// <summary>
/// Which cells of an indicator to add up: a fixed code per dimension, or null for every code (the
/// dimension a figure is broken down by). <see cref="Added"/>: catalogue 2.0's dimensions, fixed but the one at
/// <see cref="OpenAdded"/> (null: every code; a cell is still never added to one that differs in them, see <see cref="CellSum"/>).
/// </summary>
public readonly record struct CellFilter(string? Sex, string? Age, string? CountryOfOrigin, AddedDimensions? Added = null, int OpenAdded = -1)
{
    /// <summary>Every key: all cells of every dimension.</summary>
    public static readonly CellFilter All = new(null, null, null);

    /// <summary>
    /// The cells of <paramref name="indicator"/> at the total ("_T") of every dimension it declares and
    /// "" for the others, except <paramref name="breakdown"/> (a <see cref="StandardCatalogue"/> dimension id), left open.
    /// Catalogue 2.0's dimensions it declares are at their default (the total, and PERSONS for COUNT_BASIS:
    /// persons and cases have no total), the others "".
    /// </summary>
    public static CellFilter Totals(IndicatorRule indicator, string? breakdown = null) => new(
        breakdown == StandardCatalogue.SexDimension ? null : indicator.Sexes is null ? "" : RegionalAggregator.Total,
        breakdown == StandardCatalogue.AgeDimension ? null : indicator.Ages is null ? "" : RegionalAggregator.Total,
        breakdown == StandardCatalogue.CountryOfOriginDimension ? null : indicator.CountriesOfOrigin is null ? "" : RegionalAggregator.Total,
        indicator.Normalised(default),
        breakdown is null ? -1 : AddedDimensions.DimensionIds.ToList().IndexOf(breakdown));
}

/// <summary>
/// The sum over States of one cell (indicator, period, dimension values), with who reported it as
/// bit masks over <see cref="RegionalAggregator.States"/> (bit i = the i-th State): <see cref="LowerBound"/> and
/// <see cref="Synthetic"/> are the States whose value is a lower bound or synthetic (any: the sum is one too).
/// </summary>
public readonly record struct CellSum(
    string IndicatorCode, string Period, string Sex, string Age, string CountryOfOrigin,
    double Value, int Reported, int Provisional, int Estimated, AddedDimensions Added = default, int LowerBound = 0, int Synthetic = 0);

/// <summary>One State's current value of one cell.</summary>
public readonly record struct CountryValue(string IndicatorCode, string Country, double Value, ObservationStatus Status, bool LowerBound = false, bool Synthetic = false);

/// <summary>What one State holds for one indicator and period: any value, any provisional value, its last change.</summary>
public readonly record struct ReportingSummary(string IndicatorCode, string Period, string Country, bool HasValue, bool Provisional, long LastChangeTime);

/// <summary>
/// The regional computations over the store the Secretariat replicates every State into (the node's
/// temporal observations table), in raw SQL on the store's connection: EF Core would materialize an
/// entity per row. Sums read the current rows in one seek-and-scan of the key index (indicator, State
/// and period as IN lists) and add them up in .NET: SQLite's GROUP BY across States cannot follow that
/// index and sorts every row in a temporary B-tree, which measured 2-3x the CPU of the scan itself on a
/// year of the whole region (tests/MirpsExchange.Benchmarks, mode "regional", beside a raw GROUP BY).
/// Who reported a cell is kept as bit masks over <see cref="States"/>. The completeness summary, with
/// a handful of rows per group, stays a GROUP BY. Portable SQL only, for SQLite and PostgreSQL.
/// </summary>
public sealed class RegionalAggregator(NodeDbContext db, StandardCatalogue catalogue)
{
    public const string Total = "_T";

    /// <summary>The MIRPS States in the catalogue's codelist order: the order of every country list in a result.</summary>
    public IReadOnlyList<string> States { get; } = [.. catalogue.Catalog.Codelists
        .First(c => c.Id == StandardCatalogue.ReportingCountryCodelist).Codes.Select(c => c.Id)];

    /// <summary>The mask of every State: a cell whose reported mask equals it is complete.</summary>
    public int AllStates => (1 << States.Count) - 1;

    /// <summary>The States of a mask, in <see cref="States"/> order.</summary>
    public IEnumerable<string> StatesOf(int mask)
    {
        for (var i = 0; i < States.Count; i++)
        {
            if ((mask & (1 << i)) != 0)
            {
                yield return States[i];
            }
        }
    }

    /// <summary>
    /// The sum over States of every cell of <paramref name="indicators"/> × <paramref name="periods"/> that
    /// <paramref name="filter"/> selects, from each key's revision as known at <paramref name="asOfMicros"/>
    /// (null: now, every change held); deleted keys do not count. As of a time, each State's changes are read up to
    /// what <paramref name="cut"/> says (<see cref="CutAsync"/>; computed here when not given), and the cut learns of any
    /// change this figure would read that was held then only as a placeholder. Cells no State holds are absent.
    /// Ordered by indicator, period and dimension codes (ordinal).
    /// </summary>
    public async Task<List<CellSum>> SumAsync(
        IReadOnlyList<string> indicators, IReadOnlyList<string> periods, CellFilter filter, long? asOfMicros, CancellationToken cancellationToken,
        IReadOnlyList<string>? countries = null, RegionalCut? cut = null)
    {
        if (asOfMicros is { } asOf)
        {
            cut ??= await CutAsync(asOf, cancellationToken);
        }
        var bits = new Dictionary<string, int>(States.Count, StringComparer.Ordinal);
        for (var i = 0; i < States.Count; i++)
        {
            bits[States[i]] = 1 << i;
        }
        var cells = new Cells();
        await ReadAsync(indicators, periods, filter, cut, countries, () => cells = new Cells(), (in CurrentRow row) =>
        {
            if (!row.Deleted)
            {
                cells.Add(row.Indicator, row.Period, row.Sex, row.Age, row.CountryOfOrigin, row.Added, bits[row.Country], row.Value, row.Status, row.LowerBound, row.Synthetic);
            }
        }, cancellationToken);
        var sums = cells.Sums;
        sums.Sort(static (x, y) => CompareCells(in x, in y));
        return sums;
    }

    /// <summary>One key's revision as an answer reads it (<see cref="ReadAsync"/>).</summary>
    private readonly record struct CurrentRow(
        string Indicator, string Period, string Sex, string Age, string CountryOfOrigin, AddedDimensions Added, string Country,
        double Value, ObservationStatus Status, bool LowerBound, bool Synthetic, bool Deleted, long RecordedTime);

    private delegate void RowAction(in CurrentRow row);

    /// <summary>The columns <see cref="ReadAsync"/> reads, in its positions.</summary>
    private const string RowColumns = "indicator_code, period, sex, age, country_of_origin, country, value, status, " + AddedColumns +
        ", lower_bound, synthetic, deleted, recorded_time, origin_sequence, received_time, release_time, revision";

    /// <summary>
    /// Hands <paramref name="add"/> each key's revision (deletions included) in the range and <paramref name="filter"/> as
    /// <paramref name="cut"/> reads it: the one current at its time for a State it leaves whole, the last up to its cap for a
    /// State it caps (null: every current revision). Rows of the main scan come in the key index's order. A revision this node
    /// received after the time, of a change at or below the latest head it held then (or, for a State already capped, at or
    /// below its cap), was held then only as a placeholder: the cut is capped below it and the whole read starts again
    /// (<paramref name="reset"/>), so what was handed out follows from exactly the log up to the heads the cut names.
    /// </summary>
    private async Task ReadAsync(IReadOnlyList<string> indicators, IReadOnlyList<string> periods, CellFilter filter, RegionalCut? cut,
        IReadOnlyList<string>? countries, Action reset, RowAction add, CancellationToken cancellationToken)
    {
        while (true)
        {
            var asOf = cut?.AsOf;
            var whole = (countries ?? States).Where(c => cut is null || !cut.Caps.ContainsKey(c)).ToList();
            var late = new Dictionary<string, long>(StringComparer.Ordinal);
            if (whole.Count > 0)
            {
                await using var command = await CommandAsync(cancellationToken);
                var sql = new StringBuilder($"SELECT {RowColumns} FROM {Table} WHERE ");
                AppendIn(command, sql, "indicator_code", "@i", indicators);
                sql.Append(" AND ");
                AppendIn(command, sql, "country", "@c", whole);
                sql.Append(" AND ");
                AppendIn(command, sql, "period", "@p", periods);
                if (asOf is { } time)
                {
                    // Current then, or received since (superseded later still): the latter are read only to see whether any
                    // was held then as a placeholder.
                    sql.Append(" AND (superseded_time IS NULL OR superseded_time > @asof)");
                    AddParameter(command, "@asof", time);
                }
                else
                {
                    sql.Append(" AND superseded_time IS NULL");
                }
                sql.Append(" AND value_withheld = FALSE");
                AppendEquals(command, sql, filter);
                command.CommandText = sql.ToString();
                await ScanAsync(command, filter, (in CurrentRow row, long sequence, long received, long? release, long _) =>
                {
                    if (asOf is { } time && received > time)
                    {
                        // Held then as a placeholder if the latest head then covers it, and this node could have read it then.
                        if (cut!.Latest.TryGetValue(row.Country, out var latest) && LateAt(cut, sequence, release, latest)
                            && (!late.TryGetValue(row.Country, out var first) || sequence < first))
                        {
                            late[row.Country] = sequence;
                        }
                        return;
                    }
                    add(in row);
                }, cancellationToken);
            }
            if (late.Count > 0)
            {
                await cut!.CapAsync(late, cancellationToken);
                reset();
                continue;
            }
            if (cut is null)
            {
                return;
            }
            foreach (var (country, cap) in cut.Caps)
            {
                if (cap <= 0 || (countries is not null && !countries.Contains(country)))
                {
                    continue;
                }
                // The last revision of each key up to the cap, every one of them held whole then (the cut's rule). A revision up to
                // the cap received after the time was held then only as a placeholder (its placeholder since replaced, so the cut
                // did not see it): read too, only to cap the State below it, as the main scan does.
                await using var command = await CommandAsync(cancellationToken);
                var sql = new StringBuilder($"SELECT {RowColumns} FROM {Table} WHERE ");
                AppendIn(command, sql, "indicator_code", "@i", indicators);
                sql.Append(" AND ");
                AppendIn(command, sql, "country", "@c", [country]);
                sql.Append(" AND ");
                AppendIn(command, sql, "period", "@p", periods);
                sql.Append(" AND origin_sequence <= @cap AND value_withheld = FALSE");
                AddParameter(command, "@cap", cap);
                AppendEquals(command, sql, filter);
                command.CommandText = sql.ToString();
                var last = new Dictionary<(string, string, string, string, string, AddedDimensions), (long Revision, CurrentRow Row)>();
                await ScanAsync(command, filter, (in CurrentRow row, long sequence, long received, long? release, long revision) =>
                {
                    if (received > cut.AsOf)
                    {
                        if (LateAt(cut, sequence, release, cap) && (!late.TryGetValue(row.Country, out var earliest) || sequence < earliest))
                        {
                            late[row.Country] = sequence;
                        }
                        return;
                    }
                    var key = (row.Indicator, row.Period, row.Sex, row.Age, row.CountryOfOrigin, row.Added);
                    if (!last.TryGetValue(key, out var held) || held.Revision < revision)
                    {
                        last[key] = (revision, row);
                    }
                }, cancellationToken);
                if (late.Count > 0)
                {
                    break; // the cut is lowered and everything read again
                }
                foreach (var (_, row) in last.Values.OrderBy(r => r.Row.Indicator, StringComparer.Ordinal).ThenBy(r => r.Row.Period, StringComparer.Ordinal))
                {
                    add(in row);
                }
            }
            if (late.Count > 0)
            {
                await cut.CapAsync(late, cancellationToken);
                reset();
                continue;
            }
            return;
        }
    }

    /// <summary>
    /// Whether a revision this node received after <paramref name="cut"/>'s time, of change <paramref name="sequence"/>, was held then
    /// only as a placeholder although this node could read it then (no embargo beyond the time): a change at or below
    /// <paramref name="upTo"/>, the head the cut reads the State up to.
    /// </summary>
    private static bool LateAt(RegionalCut cut, long sequence, long? release, long upTo) => sequence <= upTo && (release is null || release <= cut.AsOf);

    private delegate void ScannedRow(in CurrentRow row, long sequence, long received, long? release, long revision);

    /// <summary>Runs <paramref name="command"/> (<see cref="RowColumns"/>) and hands over each row.</summary>
    private async Task ScanAsync(DbCommand command, CellFilter filter, ScannedRow scanned, CancellationToken cancellationToken)
    {
        // Rows come indicator by indicator (the key index's order): whether the indicator declares any of catalogue 2.0's
        // dimensions is looked up once per indicator, and an indicator that declares none has them all empty.
        var (indicatorCode, declaresAdded) = ("", false);
        // Catalogue 2.0's dimensions are part of the cell: cells that differ only in one are never added together.
        AddedDimensions? fixedAdded = filter is { Added: { } given, OpenAdded: < 0 } ? given : null;
        bool ReadsAdded(string code)
        {
            if (!string.Equals(code, indicatorCode, StringComparison.Ordinal))
            {
                (indicatorCode, declaresAdded) = (code, catalogue.FindIndicator(code)?.Added.Any(codes => codes is not null) ?? true);
            }
            return fixedAdded is null && declaresAdded;
        }
        if (command.Connection is Microsoft.Data.Sqlite.SqliteConnection connection)
        {
            // SQLite's own API (Node's SqliteStatement): a row's texts as the row before's when they are the same bytes, else
            // decoded once per query (Utf8StringPool), where Microsoft.Data.Sqlite allocates a string per column and row.
            using var statement = new SqliteStatement(connection, command.CommandText);
            statement.Bind(command.Parameters);
            var pool = new Utf8StringPool();
            var last = Enumerable.Range(0, 13).Select(_ => new RepeatedText()).ToArray();
            while (statement.Read())
            {
                cancellationToken.ThrowIfCancellationRequested();
                var code = statement.GetString(0, pool, last[0]);
                var added = ReadsAdded(code)
                    ? new AddedDimensions(statement.GetString(8, pool, last[8]), statement.GetString(9, pool, last[9]),
                        statement.GetString(10, pool, last[10]), statement.GetString(11, pool, last[11]), statement.GetString(12, pool, last[12]))
                    : fixedAdded ?? Empty;
                var row = new CurrentRow(code, statement.GetString(1, pool, last[1]), statement.GetString(2, pool, last[2]), statement.GetString(3, pool, last[3]),
                    statement.GetString(4, pool, last[4]), added, statement.GetString(5, pool, last[5]), statement.GetDouble(6),
                    (ObservationStatus)statement.GetInt64(7), statement.GetInt64(13) != 0, statement.GetInt64(14) != 0, statement.GetInt64(15) != 0, statement.GetInt64(16));
                scanned(in row, statement.GetInt64(17), statement.GetInt64(18), statement.IsNull(19) ? null : statement.GetInt64(19), statement.GetInt64(20));
            }
        }
        else
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var code = reader.GetString(0);
                var added = ReadsAdded(code) ? ReadAdded(reader, 8) : fixedAdded ?? Empty;
                var row = new CurrentRow(code, reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), added, reader.GetString(5),
                    reader.IsDBNull(6) ? 0 : reader.GetDouble(6), (ObservationStatus)reader.GetInt32(7), reader.GetBoolean(13), reader.GetBoolean(14),
                    reader.GetBoolean(15), reader.GetInt64(16));
                scanned(in row, reader.GetInt64(17), reader.GetInt64(18), reader.IsDBNull(19) ? null : reader.GetInt64(19), reader.GetInt64(20));
            }
        }
    }

    /// <summary>
    /// The cells of one sum, each State's row added to its cell. Rows come in the key index's order (indicator, State, period,
    /// codes), so each State after the first of an indicator walks the indicator's cells in the order the first made them:
    /// a row is first compared with the cell after the one the row before went to, and looked up (hashing ten texts) only
    /// when it is not that one. Every cell is in the lookup, so a row in any other order still finds its cell.
    /// </summary>
    private sealed class Cells
    {
        private readonly Dictionary<(string, string, string, string, string, AddedDimensions), int> _index = [];
        private int _next, _indicatorStart;
        private int _lastBit;
        private string _indicator = "";

        public List<CellSum> Sums { get; } = [];

        public void Add(string indicator, string period, string sex, string age, string origin, AddedDimensions added, int bit, double value,
            ObservationStatus status, bool lowerBound, bool synthetic)
        {
            if (!string.Equals(indicator, _indicator, StringComparison.Ordinal))
            {
                (_indicator, _indicatorStart, _next) = (indicator, Sums.Count, Sums.Count);
            }
            else if (bit != _lastBit)
            {
                _next = _indicatorStart; // the next State of the indicator starts from its first cell
            }
            _lastBit = bit;
            var sums = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Sums);
            int at;
            if (_next < sums.Length && Same(in sums[_next], indicator, period, sex, age, origin, in added))
            {
                at = _next;
            }
            else
            {
                var key = (indicator, period, sex, age, origin, added);
                if (!_index.TryGetValue(key, out at))
                {
                    _index.Add(key, at = Sums.Count);
                    Sums.Add(new CellSum(indicator, period, sex, age, origin, 0, 0, 0, 0, added));
                    sums = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Sums);
                }
            }
            _next = at + 1;
            ref var sum = ref sums[at];
            sum = sum with
            {
                Value = sum.Value + value,
                Reported = sum.Reported | bit,
                Provisional = status == ObservationStatus.Provisional ? sum.Provisional | bit : sum.Provisional,
                Estimated = status == ObservationStatus.Estimated ? sum.Estimated | bit : sum.Estimated,
                LowerBound = lowerBound ? sum.LowerBound | bit : sum.LowerBound,
                Synthetic = synthetic ? sum.Synthetic | bit : sum.Synthetic,
            };
        }

        private static bool Same(in CellSum cell, string indicator, string period, string sex, string age, string origin, in AddedDimensions added) =>
            string.Equals(cell.IndicatorCode, indicator, StringComparison.Ordinal) && string.Equals(cell.Period, period, StringComparison.Ordinal)
            && string.Equals(cell.Sex, sex, StringComparison.Ordinal) && string.Equals(cell.Age, age, StringComparison.Ordinal)
            && string.Equals(cell.CountryOfOrigin, origin, StringComparison.Ordinal) && cell.Added.Equals(added);
    }

    private static int CompareCells(in CellSum x, in CellSum y)
    {
        var c = string.CompareOrdinal(x.IndicatorCode, y.IndicatorCode);
        if (c == 0) c = string.CompareOrdinal(x.Period, y.Period);
        if (c == 0) c = string.CompareOrdinal(x.Sex, y.Sex);
        if (c == 0) c = string.CompareOrdinal(x.Age, y.Age);
        if (c == 0) c = string.CompareOrdinal(x.CountryOfOrigin, y.CountryOfOrigin);
        if (c == 0) c = x.Added.CompareTo(y.Added);
        return c;
    }

    /// <summary>Catalogue 2.0's dimension columns, in field order.</summary>
    private const string AddedColumns = "application_type, decision_level, procedure_type, count_basis, country_of_destination";

    /// <summary>The dimensions of an indicator that declares none of catalogue 2.0's: all empty, as stored.</summary>
    private static readonly AddedDimensions Empty = new("", "", "", "", "");

    private static AddedDimensions ReadAdded(DbDataReader reader, int first) =>
        new(reader.GetString(first), reader.GetString(first + 1), reader.GetString(first + 2), reader.GetString(first + 3), reader.GetString(first + 4));

    /// <summary>
    /// Each State's value of the total cell (<see cref="CellFilter.Totals"/>) of each of <paramref name="indicators"/>
    /// for one period, as known at <paramref name="asOfMicros"/>: what a rate needs to keep only the States
    /// that reported every component.
    /// </summary>
    public async Task<List<CountryValue>> TotalsByCountryAsync(IReadOnlyList<IndicatorRule> indicators, string period, long? asOfMicros, CancellationToken cancellationToken,
        RegionalCut? cut = null)
    {
        if (asOfMicros is { } asOf)
        {
            cut ??= await CutAsync(asOf, cancellationToken);
        }
        var values = new List<CountryValue>();
        foreach (var indicator in indicators)
        {
            var start = values.Count;
            await ReadAsync([indicator.Indicator.Code], [period], CellFilter.Totals(indicator), cut, null, () => values.RemoveRange(start, values.Count - start),
                (in CurrentRow row) =>
                {
                    if (!row.Deleted)
                    {
                        values.Add(new CountryValue(row.Indicator, row.Country, row.Value, row.Status, row.LowerBound, row.Synthetic));
                    }
                }, cancellationToken);
        }
        return values;
    }

    /// <summary>
    /// Per indicator, period and State: whether it holds any value, any provisional value, and the time of
    /// its last change (deletions included), as known at <paramref name="asOfMicros"/>. Combinations with
    /// no row at all, ever, are absent.
    /// </summary>
    public async Task<List<ReportingSummary>> ReportingAsync(
        IReadOnlyList<string> indicators, IReadOnlyList<string> periods, long? asOfMicros, CancellationToken cancellationToken, RegionalCut? cut = null)
    {
        if (asOfMicros is { } asOf)
        {
            cut ??= await CutAsync(asOf, cancellationToken);
        }
        // The current revision of a deleted key is its deletion: kept here, it is the cell's last change. Summed here rather than
        // by a GROUP BY, so a State the cut caps is read as of its cap (ReadAsync).
        var rows = new Dictionary<(string, string, string), ReportingSummary>();
        await ReadAsync(indicators, periods, CellFilter.All, cut, null, rows.Clear, (in CurrentRow row) =>
        {
            var key = (row.Indicator, row.Period, row.Country);
            var summary = rows.TryGetValue(key, out var held) ? held : new ReportingSummary(row.Indicator, row.Period, row.Country, false, false, long.MinValue);
            rows[key] = summary with
            {
                HasValue = summary.HasValue || !row.Deleted,
                Provisional = summary.Provisional || (!row.Deleted && row.Status == ObservationStatus.Provisional),
                LastChangeTime = Math.Max(summary.LastChangeTime, row.RecordedTime),
            };
        }, cancellationToken);
        return [.. rows.Values];
    }

    /// <summary>
    /// What an answer as of <paramref name="asOfMicros"/> reads of each State's log, and the signed heads it names
    /// (<see cref="RegionalCut"/>). A replica applies changes only up to a head that verified, so what this node received of
    /// a State by then is exactly its log up to the latest head received by then, except for the changes it held then
    /// only as placeholders although it may read them (a relay's NOT_HELD, a draft held back, an ended embargo): the cut
    /// then stops at the last head before the first of them.
    /// </summary>
    public async Task<RegionalCut> CutAsync(long asOfMicros, CancellationToken cancellationToken)
    {
        var cut = new RegionalCut(asOfMicros, db);
        foreach (var state in States)
        {
            if (await cut.HeadBeforeAsync(state, long.MaxValue, cancellationToken) is not { } latest)
            {
                continue;
            }
            cut.Latest[state] = latest.Sequence;
            cut.Named[state] = latest;
            // Placeholders held then (and still) of changes this node may read once their embargo, if any, has ended.
            var first = await db.WithheldChanges.AsNoTracking()
                .Where(w => w.Origin == state && w.ReceivedTime <= asOfMicros && w.OriginSequence <= latest.Sequence
                    && (w.Reason == Withholding.NotHeld || w.Reason == Withholding.Embargoed) && (w.ReleaseTime == null || w.ReleaseTime <= asOfMicros))
                .OrderBy(w => w.OriginSequence).Select(w => new { w.OriginSequence, w.Reason }).FirstOrDefaultAsync(cancellationToken);
            if (first is not null)
            {
                await cut.CapAsync(new Dictionary<string, long> { [state] = first.OriginSequence }, cancellationToken, first.Reason);
            }
        }
        return cut;
    }

    /// <summary>The signed heads <paramref name="cut"/> names, in <see cref="States"/> order; States with none are left out.</summary>
    public List<LogHead> HeadsOf(RegionalCut cut) =>
        [.. States.Where(cut.Named.ContainsKey).Select(s => Node.ChangeLog.LogHeads.ToMessage(cut.Named[s]))];

    /// <summary>
    /// The States <paramref name="cut"/> reads only up to an earlier head than their latest because a change was pending (held only as a
    /// placeholder by then), in <see cref="States"/> order: from which change, up to which head, and why, while it still is.
    /// </summary>
    public List<Mirps.Regional.V1.PendingChanges> PendingOf(RegionalCut cut) =>
        [.. States.Where(cut.Pending.ContainsKey).Select(s => new Mirps.Regional.V1.PendingChanges
        {
            Country = s, FromSequence = cut.Pending[s].Sequence, ReadSequence = cut.Caps[s], LatestSequence = cut.Latest[s], Reason = cut.Pending[s].Reason,
        })];

    /// <summary>The signed heads an answer as of <paramref name="asOfMicros"/> that reads no figure names (<see cref="CutAsync"/>).</summary>
    public async Task<List<LogHead>> HeadsAsync(long asOfMicros, CancellationToken cancellationToken) => HeadsOf(await CutAsync(asOfMicros, cancellationToken));

    private const string Table = "observations";

    /// <summary>
    /// The indicator, State and period prefix of the key index (all three as IN lists, so the store seeks
    /// the index instead of scanning the table) and the revision known at the time.
    /// </summary>
    private void AppendKeyRange(DbCommand command, StringBuilder sql, IReadOnlyList<string> indicators, IReadOnlyList<string> periods, long? asOfMicros,
        IReadOnlyList<string>? countries = null)
    {
        AppendIn(command, sql, "indicator_code", "@i", indicators);
        sql.Append(" AND ");
        AppendIn(command, sql, "country", "@c", countries ?? States);
        sql.Append(" AND ");
        AppendIn(command, sql, "period", "@p", periods);
        if (asOfMicros is { } time)
        {
            // What this node had received by then (ObservationQueries.AsOfFor), whatever time an origin recorded.
            sql.Append(" AND received_time <= @asof AND (superseded_time IS NULL OR superseded_time > @asof)");
            AddParameter(command, "@asof", time);
        }
        else
        {
            sql.Append(" AND superseded_time IS NULL");
        }
    }

    private static void AppendIn(DbCommand command, StringBuilder sql, string column, string prefix, IReadOnlyList<string> values)
    {
        sql.Append(column).Append(" IN (");
        for (var i = 0; i < values.Count; i++)
        {
            sql.Append(i == 0 ? "" : ", ").Append(prefix).Append(i);
            AddParameter(command, $"{prefix}{i}", values[i]);
        }
        sql.Append(')');
    }

    /// <summary>The filter's fixed codes: each dimension it does not leave open (catalogue 2.0's together).</summary>
    private static void AppendEquals(DbCommand command, StringBuilder sql, CellFilter filter)
    {
        AppendEquals(command, sql, "sex", filter.Sex);
        AppendEquals(command, sql, "age", filter.Age);
        AppendEquals(command, sql, "country_of_origin", filter.CountryOfOrigin);
        if (filter.Added is { } added)
        {
            for (var d = 0; d < AddedDimensions.Count; d++)
            {
                AppendEquals(command, sql, AddedDimensions.FieldNames[d], d == filter.OpenAdded ? null : added[d]);
            }
        }
    }

    private static void AppendEquals(DbCommand command, StringBuilder sql, string column, string? value)
    {
        if (value is not null)
        {
            sql.Append($" AND {column} = @{column}");
            AddParameter(command, $"@{column}", value);
        }
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    /// <summary>Every current value of one State the Secretariat holds (not embargoed at <paramref name="nowMicros"/>), for the validation rules.</summary>
    public async Task<Catalogue.Validation.Rules.RuleCells> CurrentCellsAsync(Node.Rules.StoredRuleCells rules, string country, long nowMicros, CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        return await rules.LoadCountryAsync(db.Database.GetDbConnection(), country, nowMicros, cancellationToken);
    }

    /// <summary>A command on the context's connection, opened if needed (EF Core closes it with the context).</summary>
    private async Task<DbCommand> CommandAsync(CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        return db.Database.GetDbConnection().CreateCommand();
    }
}

/// <summary>
/// What a regional answer as of <see cref="AsOf"/> reads of each State's log, and the signed head it names for it: the provenance
/// rule. A figure must follow from exactly the log up to the heads it names (<c>mirps regional verify</c>). Per State, that is the
/// latest head this node received by then, unless by then it held some change up to that head only as a placeholder although it
/// may read it (pulled through a relay that did not hold it, a draft held back, an embargo ended): then the last head before the
/// first such change, and only the changes up to it are read (<see cref="Caps"/>). No head before it: the State counts nothing.
/// Built by <see cref="RegionalAggregator.CutAsync"/>; a read that finds such a change among the keys it reads caps it further.
/// </summary>
public sealed class RegionalCut
{
    private readonly NodeDbContext _db;

    internal RegionalCut(long asOf, NodeDbContext db) => (AsOf, _db) = (asOf, db);

    /// <summary>The time of the answer (microseconds): what this node had received by then.</summary>
    public long AsOf { get; }

    /// <summary>Per State, the sequence of the latest head received by then.</summary>
    internal Dictionary<string, long> Latest { get; } = new(StringComparer.Ordinal);

    /// <summary>Per State, the head named.</summary>
    internal Dictionary<string, LogHeadRow> Named { get; } = new(StringComparer.Ordinal);

    /// <summary>The States read only up to a change before the latest head (0: none of it): the head named's sequence.</summary>
    public IReadOnlyDictionary<string, long> Caps => _caps;

    private readonly Dictionary<string, long> _caps = new(StringComparer.Ordinal);

    /// <summary>
    /// Per State it caps, the first change held then only as a placeholder (pending), and why while it still is one
    /// (<see cref="Withholding.Unspecified"/>: it has arrived since the time).
    /// </summary>
    internal Dictionary<string, (long Sequence, Withholding Reason)> Pending { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Caps each State of <paramref name="gaps"/> below the change there, held then only as a placeholder (<paramref name="reason"/>:
    /// the placeholder's, still held; none: a change received since).
    /// </summary>
    internal async Task CapAsync(IReadOnlyDictionary<string, long> gaps, CancellationToken cancellationToken, Withholding reason = Withholding.Unspecified)
    {
        foreach (var (state, gap) in gaps)
        {
            if (!Pending.TryGetValue(state, out var pending) || gap < pending.Sequence)
            {
                Pending[state] = (gap, reason);
            }
            if (_caps.TryGetValue(state, out var cap) && cap < gap)
            {
                continue;
            }
            var head = await HeadBeforeAsync(state, gap, cancellationToken);
            _caps[state] = head?.Sequence ?? 0;
            if (head is null)
            {
                Named.Remove(state);
            }
            else
            {
                Named[state] = head;
            }
        }
    }

    /// <summary>The last head of <paramref name="state"/>'s log received by <see cref="AsOf"/> below change <paramref name="before"/>.</summary>
    internal Task<LogHeadRow?> HeadBeforeAsync(string state, long before, CancellationToken cancellationToken) =>
        _db.LogHeads.AsNoTracking()
            .Where(h => h.Origin == state && h.ReceivedTime <= AsOf && h.Sequence < before)
            .OrderByDescending(h => h.Sequence).ThenBy(h => h.Kind)
            .FirstOrDefaultAsync(cancellationToken);
}
