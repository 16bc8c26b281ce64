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
    /// (null: now); deleted keys do not count. Cells no State holds are absent. Ordered by indicator,
    /// period and dimension codes (ordinal).
    /// </summary>
    public async Task<List<CellSum>> SumAsync(
        IReadOnlyList<string> indicators, IReadOnlyList<string> periods, CellFilter filter, long? asOfMicros, CancellationToken cancellationToken,
        IReadOnlyList<string>? countries = null)
    {
        var sql = new StringBuilder($"SELECT indicator_code, period, sex, age, country_of_origin, country, value, status, {AddedColumns}, lower_bound, synthetic FROM {Table} WHERE ");
        await using var command = await CommandAsync(cancellationToken);
        AppendKeyRange(command, sql, indicators, periods, asOfMicros, countries);
        sql.Append(" AND deleted = FALSE AND value_withheld = FALSE");
        AppendEquals(command, sql, filter);
        command.CommandText = sql.ToString();

        var bits = new Dictionary<string, int>(States.Count, StringComparer.Ordinal);
        for (var i = 0; i < States.Count; i++)
        {
            bits[States[i]] = 1 << i;
        }
        var cells = new Cells();
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
        // Rows come in the key index's order; each key has at most one current revision per State, so a cell's bits are
        // added at most once each.
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
                cells.Add(code, statement.GetString(1, pool, last[1]), statement.GetString(2, pool, last[2]), statement.GetString(3, pool, last[3]),
                    statement.GetString(4, pool, last[4]), added, bits[statement.GetString(5, pool, last[5])], statement.GetDouble(6),
                    (ObservationStatus)statement.GetInt64(7), statement.GetInt64(13) != 0, statement.GetInt64(14) != 0);
            }
        }
        else
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var code = reader.GetString(0);
                var added = ReadsAdded(code) ? ReadAdded(reader, 8) : fixedAdded ?? Empty;
                cells.Add(code, reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), added,
                    bits[reader.GetString(5)], reader.GetDouble(6), (ObservationStatus)reader.GetInt32(7), reader.GetBoolean(13), reader.GetBoolean(14));
            }
        }
        var sums = cells.Sums;
        sums.Sort(static (x, y) => CompareCells(in x, in y));
        return sums;
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
    public async Task<List<CountryValue>> TotalsByCountryAsync(IReadOnlyList<IndicatorRule> indicators, string period, long? asOfMicros, CancellationToken cancellationToken)
    {
        var values = new List<CountryValue>();
        await using var command = await CommandAsync(cancellationToken);
        foreach (var indicator in indicators)
        {
            var sql = new StringBuilder($"SELECT indicator_code, country, value, status, lower_bound, synthetic FROM {Table} WHERE ");
            command.Parameters.Clear();
            AppendKeyRange(command, sql, [indicator.Indicator.Code], [period], asOfMicros);
            sql.Append(" AND deleted = FALSE AND value_withheld = FALSE");
            AppendEquals(command, sql, CellFilter.Totals(indicator));
            command.CommandText = sql.ToString();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                values.Add(new CountryValue(reader.GetString(0), reader.GetString(1), reader.GetDouble(2), (ObservationStatus)reader.GetInt32(3),
                    reader.GetBoolean(4), reader.GetBoolean(5)));
            }
        }
        return values;
    }

    /// <summary>
    /// Per indicator, period and State: whether it holds any value, any provisional value, and the time of
    /// its last change (deletions included), as known at <paramref name="asOfMicros"/>. Combinations with
    /// no row at all, ever, are absent.
    /// </summary>
    public async Task<List<ReportingSummary>> ReportingAsync(
        IReadOnlyList<string> indicators, IReadOnlyList<string> periods, long? asOfMicros, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder(
            "SELECT indicator_code, period, country, MAX(CASE WHEN deleted = FALSE THEN 1 ELSE 0 END), " +
            $"MAX(CASE WHEN deleted = FALSE AND status = {(int)ObservationStatus.Provisional} THEN 1 ELSE 0 END), MAX(recorded_time) FROM {Table} WHERE ");
        await using var command = await CommandAsync(cancellationToken);
        // The current revision of a deleted key is its deletion: kept here, it is the cell's last change.
        AppendKeyRange(command, sql, indicators, periods, asOfMicros);
        sql.Append(" GROUP BY indicator_code, country, period");
        command.CommandText = sql.ToString();
        var rows = new List<ReportingSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new ReportingSummary(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.GetInt64(3) == 1, reader.GetInt64(4) == 1, reader.GetInt64(5)));
        }
        return rows;
    }

    /// <summary>
    /// The signed head of each State's log the figures as of <paramref name="asOfMicros"/> read, in <see cref="States"/>
    /// order: the latest head this node had received by then (a replica applies changes only up to a head that
    /// verified, so its changes received by then are exactly those up to that head). States with none are left out.
    /// </summary>
    public async Task<List<LogHead>> HeadsAsync(long asOfMicros, CancellationToken cancellationToken)
    {
        var heads = new List<LogHead>(States.Count);
        foreach (var state in States)
        {
            var row = await db.LogHeads.AsNoTracking()
                .Where(h => h.Origin == state && h.ReceivedTime <= asOfMicros)
                .OrderByDescending(h => h.Sequence).ThenBy(h => h.Kind)
                .FirstOrDefaultAsync(cancellationToken);
            if (row is not null)
            {
                heads.Add(Node.ChangeLog.LogHeads.ToMessage(row));
            }
        }
        return heads;
    }

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
