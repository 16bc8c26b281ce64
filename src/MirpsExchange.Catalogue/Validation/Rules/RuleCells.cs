using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Validation.Rules;

/// <summary>One value a rule may compare: a stored current value, or an observation of the request.</summary>
public sealed class RuleCell(string indicator, Period period, string[] dimensions, long key, double value, int observationIndex)
{
    public string Indicator { get; } = indicator;
    public Period Period { get; } = period;

    /// <summary>Dimension values in the order of <see cref="StandardCatalogue.ObservationDimensions"/> ("" where not declared).</summary>
    public string[] Dimensions { get; } = dimensions;

    /// <summary>The dimension codes packed (<see cref="CellCodes"/>): the cell's key in its table.</summary>
    public long Key { get; } = key;
    public double Value { get; } = value;

    /// <summary>The request's observations[i]; -1 for a stored value.</summary>
    public int ObservationIndex { get; } = observationIndex;

    public bool InRequest => ObservationIndex >= 0;

    /// <summary>The cell as a stored value (once its request is written).</summary>
    public RuleCell AsStored() => InRequest ? new(Indicator, Period, Dimensions, Key, Value, -1) : this;
}

/// <summary>The table of one indicator and one period of one reporting country: what a rule reads at once.</summary>
public readonly record struct RuleTable(string Indicator, Period Period);

/// <summary>
/// Tables a rule reads for a request: useful only when each <paramref name="Required"/> table holds a value or is
/// the request's; then the <paramref name="Optional"/> ones are read too.
/// </summary>
public sealed record TableNeed(RuleTable[] Required, RuleTable[] Optional);

/// <summary>
/// The values the rules judge for one reporting country, table by table: the stored current values of the tables
/// they need, with the request's observations over them (a request's value replaces the stored one of its key).
/// </summary>
public sealed class RuleCells(string country, CellCodes codes)
{
    private readonly Dictionary<RuleTable, Dictionary<long, RuleCell>> _tables = [];
    private readonly HashSet<RuleTable> _requestTables = [];
    private readonly List<RuleCell> _request = [];
    private readonly CellCodes.Recent _recent = new();

    public string Country { get; } = country;

    public int Count => _tables.Values.Sum(t => t.Count);

    public IEnumerable<RuleCell> All => _tables.Values.SelectMany(t => t.Values);

    /// <summary>The tables that hold at least one value.</summary>
    public IEnumerable<KeyValuePair<RuleTable, Dictionary<long, RuleCell>>> Tables => _tables;

    /// <summary>The request's observations, in its order.</summary>
    public IReadOnlyList<RuleCell> Request => _request;

    /// <summary>The tables the request's observations belong to.</summary>
    public IReadOnlySet<RuleTable> RequestTables => _requestTables;

    /// <summary>An observation of the request (a code outside its codelist, which validation refuses first, leaves it out).</summary>
    public void AddRequest(string indicator, Period period, string[] dimensions, double value, int index)
    {
        if (!codes.TryPack(dimensions, out var key, _recent))
        {
            return;
        }
        var cell = new RuleCell(indicator, period, dimensions, key, value, index);
        var table = new RuleTable(indicator, period);
        if (_lastRequestTable is not { } last || !last.Table.Equals(table))
        {
            // A request comes table by table: its table is looked up (and listed) when it changes, not per observation.
            _lastRequestTable = last = (table, TableOf(table));
            _requestTables.Add(table);
        }
        last.Cells[key] = cell;
        _request.Add(cell);
    }

    /// <summary>The table of the request's observation added last, and its cells.</summary>
    private (RuleTable Table, Dictionary<long, RuleCell> Cells)? _lastRequestTable;

    /// <summary>A stored value, unless the request sends its key (or a code is outside its codelist: not judged).</summary>
    public void AddStored(string indicator, Period period, string[] dimensions, double value)
    {
        if (codes.TryPack(dimensions, out var key, _recent))
        {
            TableOf(new RuleTable(indicator, period)).TryAdd(key, new RuleCell(indicator, period, dimensions, key, value, -1));
        }
    }

    /// <summary>
    /// A table's stored cells, known already (read for an earlier request, none of them the request's): those whose key the
    /// request does not send. The dictionary is copied, not kept.
    /// </summary>
    public void AddStored(RuleTable table, IReadOnlyDictionary<long, RuleCell> stored)
    {
        if (_tables.TryGetValue(table, out var cells))
        {
            foreach (var (key, cell) in stored)
            {
                cells.TryAdd(key, cell);
            }
        }
        else if (stored.Count > 0)
        {
            _tables[table] = stored is Dictionary<long, RuleCell> dictionary ? new(dictionary) : new(stored);
        }
    }

    /// <summary>
    /// The cells of each table as they stand once the request is written: its observations become stored values, in
    /// place (call it after the judgement: the request's cells are no longer told apart).
    /// </summary>
    public IReadOnlyDictionary<RuleTable, Dictionary<long, RuleCell>> Written()
    {
        (RuleTable Table, Dictionary<long, RuleCell> Cells)? last = null;
        foreach (var cell in _request)
        {
            var table = new RuleTable(cell.Indicator, cell.Period);
            if (last is not { } known || !known.Table.Equals(table))
            {
                last = known = (table, _tables[table]); // the request comes table by table: looked up when the table changes
            }
            known.Cells[cell.Key] = cell.AsStored();
        }
        _request.Clear();
        return _tables;
    }

    public RuleCell? Find(string indicator, Period period, long key) =>
        _tables.TryGetValue(new RuleTable(indicator, period), out var table) ? table.GetValueOrDefault(key) : null;

    /// <summary>Whether any value of the table is held or sent.</summary>
    public bool HasTable(string indicator, Period period) => _tables.ContainsKey(new RuleTable(indicator, period));

    public IReadOnlyCollection<RuleCell> CellsOf(RuleTable table) =>
        _tables.TryGetValue(table, out var cells) ? cells.Values : [];

    private Dictionary<long, RuleCell> TableOf(RuleTable table)
    {
        if (!_tables.TryGetValue(table, out var cells))
        {
            _tables[table] = cells = [];
        }
        return cells;
    }

    /// <summary>The dimension key with dimension <paramref name="d"/> set to <paramref name="value"/>.</summary>
    internal static string[] With(string[] dimensions, int d, string value)
    {
        var copy = (string[])dimensions.Clone();
        copy[d] = value;
        return copy;
    }
}
