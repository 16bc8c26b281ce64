using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Validation.Rules;

/// <summary>One value a rule may compare: a stored current value, or an observation of the request.</summary>
public sealed class RuleCell(string indicator, Period period, string[] dimensions, double value, int observationIndex)
{
    public string Indicator { get; } = indicator;
    public Period Period { get; } = period;

    /// <summary>Dimension values in the order of <see cref="StandardCatalogue.ObservationDimensions"/> ("" where not declared).</summary>
    public string[] Dimensions { get; } = dimensions;

    public string DimensionKey { get; } = RuleCells.Join(dimensions);
    public double Value { get; } = value;

    /// <summary>The request's observations[i]; -1 for a stored value.</summary>
    public int ObservationIndex { get; } = observationIndex;

    public bool InRequest => ObservationIndex >= 0;
}

/// <summary>The table of one indicator and one period of one reporting country: what a rule reads at once.</summary>
public readonly record struct RuleTable(string Indicator, Period Period);

/// <summary>
/// The values the rules judge for one reporting country: the stored current values of the tables they need,
/// with the request's observations over them (a request's value replaces the stored one of its key).
/// </summary>
public sealed class RuleCells(string country)
{
    private const char Separator = '\u001f';
    private readonly Dictionary<(string Indicator, Period Period, string Dimensions), RuleCell> _cells = [];
    private readonly HashSet<RuleTable> _tables = [];

    public string Country { get; } = country;

    public int Count => _cells.Count;

    public IEnumerable<RuleCell> All => _cells.Values;

    /// <summary>The tables the request's observations belong to.</summary>
    public IReadOnlySet<RuleTable> RequestTables => _tables;

    public void AddRequest(string indicator, Period period, string[] dimensions, double value, int index)
    {
        var cell = new RuleCell(indicator, period, dimensions, value, index);
        _cells[(indicator, period, cell.DimensionKey)] = cell;
        _tables.Add(new RuleTable(indicator, period));
    }

    /// <summary>A stored value, unless the request sends its key.</summary>
    public void AddStored(string indicator, Period period, string[] dimensions, double value)
    {
        var cell = new RuleCell(indicator, period, dimensions, value, -1);
        _cells.TryAdd((indicator, period, cell.DimensionKey), cell);
    }

    public RuleCell? Find(string indicator, Period period, string dimensionKey) =>
        _cells.GetValueOrDefault((indicator, period, dimensionKey));

    internal static string Join(string[] dimensions) => string.Join(Separator, dimensions);

    /// <summary>The dimension key with dimension <paramref name="d"/> set to <paramref name="value"/>.</summary>
    internal static string[] With(string[] dimensions, int d, string value)
    {
        var copy = (string[])dimensions.Clone();
        copy[d] = value;
        return copy;
    }
}
