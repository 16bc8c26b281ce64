using Mirps.Catalog.V1;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Validation.Rules;

/// <summary>
/// The catalogue's validation rules across observations (catalog.proto ValidationRule), judged over one
/// reporting country's values (<see cref="RuleCells"/>). <see cref="TablesFor"/> says which tables (indicator,
/// period) a request needs loaded, so a node reads them in bulk before <see cref="Evaluate"/>. A rule that names
/// an indicator the catalogue does not hold is dormant: it applies once a catalogue holds it.
/// </summary>
public sealed class CatalogueRules
{
    public const string Total = "_T";

    private readonly StandardCatalogue _catalogue;
    private readonly List<ValidationRule> _active = [];

    public CatalogueRules(StandardCatalogue catalogue)
    {
        _catalogue = catalogue;
        Codes = new CellCodes(catalogue);
        foreach (var rule in catalogue.Catalog.ValidationRules)
        {
            if (NamedIndicators(rule).All(code => catalogue.FindIndicator(code) is not null))
            {
                _active.Add(rule);
            }
            else
            {
                Dormant.Add(rule);
            }
        }
    }

    public IReadOnlyList<ValidationRule> Active => _active;

    /// <summary>How cells' codes are packed into their keys.</summary>
    public CellCodes Codes { get; }

    /// <summary>An empty set of cells of one reporting country, to fill with a request's observations and stored values.</summary>
    public RuleCells NewCells(string country) => new(country, Codes);

    /// <summary>Rules naming an indicator the catalogue does not hold (yet).</summary>
    public List<ValidationRule> Dormant { get; } = [];

    /// <summary>Every indicator code a rule names explicitly (an empty list means "every indicator of a kind").</summary>
    public static IEnumerable<string> NamedIndicators(ValidationRule rule) => rule.CheckCase switch
    {
        ValidationRule.CheckOneofCase.Breakdown => rule.Breakdown.IndicatorCodes,
        ValidationRule.CheckOneofCase.Components => [.. rule.Components.ComponentIndicatorCodes, rule.Components.TotalIndicatorCode],
        ValidationRule.CheckOneofCase.Balance => [rule.Balance.StockIndicatorCode, .. rule.Balance.InflowIndicatorCodes, .. rule.Balance.OutflowIndicatorCodes],
        ValidationRule.CheckOneofCase.Temporal => rule.Temporal.IndicatorCodes,
        ValidationRule.CheckOneofCase.OriginNotReportingCountry => rule.OriginNotReportingCountry.IndicatorCodes,
        _ => [],
    };

    // ---- which tables a request needs ----

    /// <summary>
    /// The tables the rules read for a request's tables, as needs: each request table itself; the total's and
    /// components' of the same period; a balance's stock before (and after) and its flows; the quarter and year a
    /// month or quarter lies in with their quarters and months, and those of a year or quarter sent. A need's
    /// <see cref="TableNeed.Required"/> tables must each hold a value (or be the request's) for its rule to judge
    /// anything (by the rule's missing-value strategy), so a node first asks which exist and reads only the needs met.
    /// </summary>
    public List<TableNeed> TablesFor(IReadOnlySet<RuleTable> requestTables)
    {
        var needs = new List<TableNeed>();
        foreach (var table in requestTables)
        {
            needs.Add(new TableNeed([], [table]));
            var (indicator, period) = table;
            foreach (var rule in _active)
            {
                var strategy = rule.MissingValueStrategy;
                switch (rule.CheckCase)
                {
                    case ValidationRule.CheckOneofCase.Components:
                        var components = rule.Components;
                        if (components.TotalIndicatorCode == indicator || components.ComponentIndicatorCodes.Contains(indicator))
                        {
                            RuleTable total = new(components.TotalIndicatorCode, period);
                            RuleTable[] parts = [.. components.ComponentIndicatorCodes.Select(c => new RuleTable(c, period))];
                            needs.Add(Need(strategy, [total], parts));
                        }
                        break;
                    case ValidationRule.CheckOneofCase.Balance:
                        var balance = rule.Balance;
                        string[] flows = [.. balance.InflowIndicatorCodes, .. balance.OutflowIndicatorCodes];
                        if (balance.StockIndicatorCode == indicator)
                        {
                            needs.Add(Need(strategy, [table], [new(indicator, period.Previous()), .. flows.Select(f => new RuleTable(f, period))]));
                            var next = Next(period);
                            needs.Add(Need(strategy, [new(indicator, next)], [table, .. flows.Select(f => new RuleTable(f, next))]));
                        }
                        else if (flows.Contains(indicator))
                        {
                            needs.Add(Need(strategy, [new(balance.StockIndicatorCode, period)],
                                [new(balance.StockIndicatorCode, period.Previous()), .. flows.Select(f => new RuleTable(f, period))]));
                        }
                        break;
                    case ValidationRule.CheckOneofCase.Temporal:
                        if (InTemporalScope(rule, indicator))
                        {
                            foreach (var aggregate in Aggregates(period))
                            {
                                needs.Add(Need(strategy, [new(indicator, aggregate)], [.. SubPeriods(indicator, aggregate).Select(p => new RuleTable(indicator, p))]));
                            }
                            needs.Add(new TableNeed([], [.. SubPeriods(indicator, period).Select(p => new RuleTable(indicator, p))]));
                        }
                        break;
                }
            }
        }
        return needs;
    }

    /// <summary>
    /// With SKIP_IF_ANY_VALUE_MISSING every table is required; with SKIP_IF_ALL_VALUES_MISSING the single-cell side's
    /// (<paramref name="side"/>: the total, the stock, the longer period); with NEVER_SKIP none.
    /// </summary>
    private static TableNeed Need(MissingValueStrategy strategy, RuleTable[] side, RuleTable[] others) => strategy switch
    {
        MissingValueStrategy.SkipIfAnyValueMissing => new([.. side, .. others], []),
        MissingValueStrategy.SkipIfAllValuesMissing => new(side, others),
        _ => new([], [.. side, .. others]),
    };

    /// <summary>The required tables of <paramref name="needs"/> that are not the request's: whether each holds a value is asked first.</summary>
    public static HashSet<RuleTable> ToCheck(IEnumerable<TableNeed> needs, IReadOnlySet<RuleTable> requestTables) =>
        [.. needs.SelectMany(n => n.Required).Where(t => !requestTables.Contains(t))];

    /// <summary>The tables to read: those of every need whose required tables are the request's or in <paramref name="existing"/>.</summary>
    public static HashSet<RuleTable> ToRead(IEnumerable<TableNeed> needs, IReadOnlySet<RuleTable> requestTables, IReadOnlySet<RuleTable> existing)
    {
        var read = new HashSet<RuleTable>();
        foreach (var need in needs)
        {
            if (need.Required.All(t => requestTables.Contains(t) || existing.Contains(t)))
            {
                read.UnionWith(need.Required);
                read.UnionWith(need.Optional);
            }
        }
        return read;
    }

    // ---- evaluation ----

    /// <summary>
    /// Every broken active rule over <paramref name="cells"/>, in <see cref="RuleFinding.Compare"/>'s order. With
    /// <paramref name="requestOnly"/>, only findings that involve an observation of the request (a stored table's
    /// own inconsistencies do not refuse a later request that does not touch them), and judgements start from the
    /// request's observations and tables only, so the stored tables read to compare with cost a look-up each.
    /// </summary>
    public List<RuleFinding> Evaluate(RuleCells cells, bool requestOnly)
    {
        var seeds = new Dictionary<string, List<RuleCell>>(StringComparer.Ordinal);
        foreach (var cell in requestOnly ? cells.Request : cells.All)
        {
            if (!seeds.TryGetValue(cell.Indicator, out var list))
            {
                seeds[cell.Indicator] = list = [];
            }
            list.Add(cell);
        }
        var findings = new List<RuleFinding>();
        var judge = new Judge(cells, requestOnly, findings);
        Dictionary<(RuleTable, int), List<BreakdownGroup>>? breakdowns = null; // shared by the breakdown rules
        foreach (var rule in _active)
        {
            switch (rule.CheckCase)
            {
                case ValidationRule.CheckOneofCase.Breakdown:
                    EvaluateBreakdown(rule, breakdowns ??= BreakdownGroups(cells, requestOnly), judge);
                    break;
                case ValidationRule.CheckOneofCase.Components:
                    EvaluateComponents(rule, seeds, judge);
                    break;
                case ValidationRule.CheckOneofCase.Balance:
                    EvaluateBalance(rule, seeds, judge);
                    break;
                case ValidationRule.CheckOneofCase.Temporal:
                    EvaluateTemporal(rule, seeds, judge);
                    break;
                case ValidationRule.CheckOneofCase.OriginNotReportingCountry:
                    EvaluateOrigin(rule, seeds, judge);
                    break;
            }
        }
        findings.Sort(RuleFinding.Compare);
        return findings;
    }

    /// <summary>
    /// A breakdown: the cells of one table with the same codes but in one dimension (<see cref="Key"/>: their packed codes with
    /// that dimension's bits cleared), that dimension's total among them or not. Its parts are summed as they are grouped, and
    /// listed again only for a finding (<see cref="PartsOf"/>): most breakdowns hold, and a list per breakdown was most of
    /// the grouping's time and garbage.
    /// </summary>
    private sealed class BreakdownGroup(long key, RuleCell first)
    {
        public readonly long Key = key;
        public RuleCell? Total;
        public RuleCell FirstPart = first;
        public double Sum;
        public int Parts;
        public bool InRequest;
    }

    /// <summary>
    /// Every breakdown of every additive dimension (with a total code) of the tables judged: the request's, or all.
    /// Each cell's codes are packed into one number (a few bits per dimension, its code's place in the codelist), so a
    /// breakdown is found by that number with one dimension's bits cleared, without building a key per dimension.
    /// </summary>
    private Dictionary<(RuleTable, int), List<BreakdownGroup>> BreakdownGroups(RuleCells cells, bool requestOnly)
    {
        var result = new Dictionary<(RuleTable, int), List<BreakdownGroup>>();
        foreach (var (table, tableCells) in cells.Tables)
        {
            if ((requestOnly && !cells.RequestTables.Contains(table)) || _catalogue.FindIndicator(table.Indicator) is not { } indicator)
            {
                continue;
            }
            var dimensions = indicator.Indicator.DimensionIds.Where(d => _catalogue.DimensionCodes(d).Contains(Total)).Select(DimensionIndex).ToArray();
            if (dimensions.Length == 0)
            {
                continue;
            }
            var groups = new Dictionary<long, BreakdownGroup>[dimensions.Length];
            var lists = new List<BreakdownGroup>[dimensions.Length];
            var masks = new long[dimensions.Length];
            for (var i = 0; i < groups.Length; i++)
            {
                var codes = _catalogue.DimensionCodes(StandardCatalogue.ObservationDimensions[dimensions[i]]).Count;
                groups[i] = new(tableCells.Count / codes + 1);
                lists[i] = new(tableCells.Count / codes + 1);
                masks[i] = ~Codes.Mask(dimensions[i]);
            }
            foreach (var cell in tableCells.Values)
            {
                for (var i = 0; i < dimensions.Length; i++)
                {
                    var key = cell.Key & masks[i];
                    if (!groups[i].TryGetValue(key, out var group))
                    {
                        groups[i][key] = group = new BreakdownGroup(key, cell);
                        lists[i].Add(group);
                    }
                    if (cell.Dimensions[dimensions[i]] == Total)
                    {
                        group.Total = cell;
                    }
                    else
                    {
                        if (group.Parts == 0)
                        {
                            group.FirstPart = cell;
                        }
                        group.Sum += cell.Value;
                        group.Parts++;
                    }
                    group.InRequest |= cell.InRequest;
                }
            }
            for (var i = 0; i < dimensions.Length; i++)
            {
                result[(table, dimensions[i])] = lists[i];
            }
        }
        return result;
    }

    /// <summary>A breakdown's parts, in the order they were grouped (for a finding).</summary>
    private List<RuleCell> PartsOf(RuleCells cells, RuleTable table, int d, BreakdownGroup group)
    {
        var mask = ~Codes.Mask(d);
        var parts = new List<RuleCell>(group.Parts);
        foreach (var cell in cells.CellsOf(table))
        {
            if ((cell.Key & mask) == group.Key && cell.Dimensions[d] != Total)
            {
                parts.Add(cell);
            }
        }
        return parts;
    }

    private void EvaluateBreakdown(ValidationRule rule, Dictionary<(RuleTable, int), List<BreakdownGroup>> breakdowns, Judge judge)
    {
        var check = rule.Breakdown;
        var never = rule.MissingValueStrategy == MissingValueStrategy.NeverSkip;
        foreach (var ((table, d), groups) in breakdowns)
        {
            var code = table.Indicator;
            var dimension = StandardCatalogue.ObservationDimensions[d];
            if (!(check.IndicatorCodes.Count == 0 ? IsAdditive(_catalogue.FindIndicator(code)!.Indicator) : check.IndicatorCodes.Contains(code))
                || (check.DimensionIds.Count > 0 && !check.DimensionIds.Contains(dimension)))
            {
                continue;
            }
            var codes = _catalogue.DimensionCodes(dimension).Count - 1;
            foreach (var group in groups)
            {
                if ((judge.RequestOnly && !group.InRequest) || group.Parts == 0 || (group.Total is null && !never))
                {
                    continue;
                }
                var missing = codes - group.Parts;
                if (rule.MissingValueStrategy == MissingValueStrategy.SkipIfAnyValueMissing && missing > 0)
                {
                    continue;
                }
                var sum = group.Sum;
                var total = group.Total?.Value ?? 0;
                if (Holds(rule, sum, total))
                {
                    continue;
                }
                var first = group.FirstPart.Dimensions;
                var parts = PartsOf(judge.Cells, table, d, group).OrderBy(p => p.Dimensions[d], StringComparer.Ordinal).Select(p => RuleTerm.Of(p)).ToList();
                var totalTerm = group.Total is { } t ? RuleTerm.Of(t) : new RuleTerm(code, table.Period, RuleCells.With(first, d, Total), null);
                var count = group.Parts;
                judge.Report(rule, code, table.Period, sum, total, parts, [totalTerm],
                    () => $"{code} {judge.Cells.Country} {table.Period} by {dimension} ({count} of {codes} codes{Except(d, first)}): the breakdown sums to {RuleFinding.Number(sum)}, {Failed(rule)} the total {RuleFinding.Number(total)}");
            }
        }
    }

    private static bool Holds(ValidationRule rule, double left, double right)
    {
        var tolerance = 1e-9 * Math.Max(1, Math.Max(Math.Abs(left), Math.Abs(right)));
        return rule.Operator == RuleOperator.LessThanOrEqual ? left <= right + tolerance : Math.Abs(left - right) <= tolerance;
    }

    private static void EvaluateComponents(ValidationRule rule, Dictionary<string, List<RuleCell>> byIndicator, Judge judge)
    {
        var check = rule.Components;
        var keys = new HashSet<(Period, long)>();
        var dimensionsOf = new Dictionary<(Period, long), string[]>();
        foreach (var code in check.ComponentIndicatorCodes.Append(check.TotalIndicatorCode))
        {
            foreach (var cell in byIndicator.GetValueOrDefault(code) ?? [])
            {
                if (keys.Add((cell.Period, cell.Key)))
                {
                    dimensionsOf[(cell.Period, cell.Key)] = cell.Dimensions;
                }
            }
        }
        foreach (var (period, key) in keys)
        {
            var dimensions = dimensionsOf[(period, key)];
            var total = judge.Cells.Find(check.TotalIndicatorCode, period, key);
            if (total is null && rule.MissingValueStrategy != MissingValueStrategy.NeverSkip)
            {
                continue;
            }
            var left = check.ComponentIndicatorCodes.Select(c => new RuleTerm(c, period, dimensions, judge.Cells.Find(c, period, key))).ToList();
            RuleTerm[] right = [new(check.TotalIndicatorCode, period, dimensions, total)];
            judge.Compare(rule, check.TotalIndicatorCode, period, left, 0, right, 0,
                (l, r) => $"{string.Join(" + ", check.ComponentIndicatorCodes)} {judge.Cells.Country} {period}{Dims(dimensions)} = {RuleFinding.Number(l)}, {Failed(rule)} {check.TotalIndicatorCode} {RuleFinding.Number(r)}");
        }
    }

    /// <summary>
    /// A stock against its flows: pending(t) = pending(t-1) + inflows - outflows, cell by cell of the stock's dimensions. A flow
    /// may declare dimensions the stock does not (catalogue 2.0: applications by type, decisions by level): its cell at their
    /// totals is the one that counts, and its breakdowns by them are not judged here.
    /// </summary>
    private void EvaluateBalance(ValidationRule rule, Dictionary<string, List<RuleCell>> byIndicator, Judge judge)
    {
        var check = rule.Balance;
        var stock = check.StockIndicatorCode;
        if (_catalogue.FindIndicator(stock) is not { } stockIndicator)
        {
            return;
        }
        // A cell as the stock reads it: its key with every other dimension cleared, which must each be empty or at
        // its total (a breakdown by one is left out). Codes are packed (CellCodes): no string built per cell.
        var stockDimensions = stockIndicator.Indicator.DimensionIds.Select(DimensionIndex).ToHashSet();
        var others = new List<(long Mask, long Total)>();
        var othersMask = 0L;
        for (var d = 0; d < StandardCatalogue.ObservationDimensions.Count; d++)
        {
            if (!stockDimensions.Contains(d))
            {
                others.Add((Codes.Mask(d), Codes.TryBits(d, Total, out var bits) ? bits : -1));
                othersMask |= Codes.Mask(d);
            }
        }
        var otherBits = others.ToArray(); // an array walked per cell, not a list's enumerator
        bool TryProject(RuleCell cell, out long key)
        {
            key = cell.Key & ~othersMask;
            for (var o = 0; o < otherBits.Length; o++)
            {
                var bits = cell.Key & otherBits[o].Mask;
                if (bits != 0 && bits != otherBits[o].Total)
                {
                    return false;
                }
            }
            return true;
        }
        string[] Projected(string[] dimensions)
        {
            var projected = (string[])dimensions.Clone();
            for (var d = 0; d < projected.Length; d++)
            {
                if (!stockDimensions.Contains(d))
                {
                    projected[d] = "";
                }
            }
            return projected;
        }
        var keys = new Dictionary<(Period, long), string[]>();
        foreach (var code in check.InflowIndicatorCodes.Concat(check.OutflowIndicatorCodes).Prepend(stock))
        {
            foreach (var cell in byIndicator.GetValueOrDefault(code) ?? [])
            {
                if (!TryProject(cell, out var key))
                {
                    continue;
                }
                if (!keys.ContainsKey((cell.Period, key)))
                {
                    keys[(cell.Period, key)] = Projected(cell.Dimensions);
                }
                if (code == stock)
                {
                    keys.TryAdd((Next(cell.Period), key), keys[(cell.Period, key)]);
                }
            }
        }
        // Each table the balance reads, its cells found by their key as the stock reads them (the first of a key kept),
        // indexed when first asked for: only the tables a judged cell needs are walked.
        var indexes = new Dictionary<RuleTable, Dictionary<long, RuleCell>>();
        Dictionary<long, RuleCell> Index(string code, Period period)
        {
            var table = new RuleTable(code, period);
            if (!indexes.TryGetValue(table, out var index))
            {
                var tableCells = judge.Cells.CellsOf(table);
                index = new Dictionary<long, RuleCell>(tableCells.Count);
                foreach (var cell in tableCells)
                {
                    if (TryProject(cell, out var projected))
                    {
                        index.TryAdd(projected, cell);
                    }
                }
                indexes[table] = index;
            }
            return index;
        }
        string[] flows = [.. check.InflowIndicatorCodes, .. check.OutflowIndicatorCodes];
        var inflows = check.InflowIndicatorCodes.Count;
        // The indexes a key reads: its period's stock, the stock before, each flow of its period (keys come period by period).
        Period? at = null;
        var read = new Dictionary<long, RuleCell>[2 + flows.Length];
        foreach (var ((period, key), dimensions) in keys)
        {
            var previous = period.Previous();
            if (at != period)
            {
                (at, read[0], read[1]) = (period, Index(stock, period), Index(stock, previous));
                for (var f = 0; f < flows.Length; f++)
                {
                    read[2 + f] = Index(flows[f], period);
                }
            }
            var current = read[0].GetValueOrDefault(key);
            if (current is null && rule.MissingValueStrategy != MissingValueStrategy.NeverSkip)
            {
                continue;
            }
            RuleTerm[] left = [new(stock, period, dimensions, current)];
            var right = new RuleTerm[1 + flows.Length];
            right[0] = new(stock, previous, dimensions, read[1].GetValueOrDefault(key));
            for (var f = 0; f < flows.Length; f++)
            {
                right[1 + f] = new(flows[f], period, dimensions, read[2 + f].GetValueOrDefault(key), Subtracted: f >= inflows);
            }
            judge.Compare(rule, stock, period, left, 0, right, 0,
                (l, r) => $"{stock} {judge.Cells.Country} {period}{Dims(dimensions)} is {RuleFinding.Number(l)}, {Failed(rule)} {stock} {previous} + {string.Join(" + ", check.InflowIndicatorCodes)} - {string.Join(" - ", check.OutflowIndicatorCodes)} = {RuleFinding.Number(r)}");
        }
    }

    private void EvaluateTemporal(ValidationRule rule, Dictionary<string, List<RuleCell>> byIndicator, Judge judge)
    {
        foreach (var (code, indicatorCells) in byIndicator)
        {
            if (!InTemporalScope(rule, code))
            {
                continue;
            }
            var aggregation = TemporalAggregations.Of(_catalogue.FindIndicator(code)!.Indicator);
            if (aggregation is TemporalAggregation.NotAggregable or TemporalAggregation.Unspecified || (aggregation == TemporalAggregation.EndOfPeriod && rule.Operator == RuleOperator.LessThanOrEqual))
            {
                continue; // "the last part is at most the year" says nothing of a stock
            }
            // Every (longer period, dimensions, granularity of its parts) a cell of the indicator belongs to.
            var groups = new Dictionary<(Period, long, PeriodGranularity), string[]>();
            var never = rule.MissingValueStrategy == MissingValueStrategy.NeverSkip;
            // The longer periods a cell's period lies in that hold a value, asked once per period (an indicator's cells mostly share one).
            Period? at = null;
            List<Period> held = [];
            foreach (var cell in indicatorCells)
            {
                if (at != cell.Period)
                {
                    at = cell.Period;
                    held.Clear();
                    foreach (var aggregate in Aggregates(cell.Period))
                    {
                        if (never || judge.Cells.HasTable(code, aggregate)) // no quarter or year held: nothing to compare with
                        {
                            held.Add(aggregate);
                        }
                    }
                }
                foreach (var aggregate in held)
                {
                    groups.TryAdd((aggregate, cell.Key, cell.Period.Granularity), cell.Dimensions);
                }
                if (cell.Period.Granularity != PeriodGranularity.Month)
                {
                    foreach (var granularity in PartGranularities(code, cell.Period))
                    {
                        groups.TryAdd((cell.Period, cell.Key, granularity), cell.Dimensions);
                    }
                }
            }
            foreach (var ((aggregate, key, granularity), dimensions) in groups)
            {
                var whole = judge.Cells.Find(code, aggregate, key);
                if (whole is null && rule.MissingValueStrategy != MissingValueStrategy.NeverSkip)
                {
                    continue;
                }
                var parts = Parts(aggregate, granularity).ToList();
                if (aggregation == TemporalAggregation.EndOfPeriod)
                {
                    parts = [parts[^1]];
                }
                var left = parts.Select(p => new RuleTerm(code, p, dimensions, judge.Cells.Find(code, p, key))).ToList();
                RuleTerm[] right = [new(code, aggregate, dimensions, whole)];
                var what = aggregation == TemporalAggregation.Sum
                    ? $"the sum of its {Plural(granularity)}"
                    : $"its last {Singular(granularity)} ({parts[0]})";
                judge.Compare(rule, code, aggregate, left, 0, right, 0,
                    (l, r) => $"{code} {judge.Cells.Country} {aggregate}{Dims(dimensions)} is {RuleFinding.Number(r)}; {what} is {RuleFinding.Number(l)}, {Failed(rule)} it ({(aggregation == TemporalAggregation.Sum ? "a flow adds up over time" : "a stock is counted at the end of the period")})");
            }
        }
    }

    private void EvaluateOrigin(ValidationRule rule, Dictionary<string, List<RuleCell>> byIndicator, Judge judge)
    {
        var check = rule.OriginNotReportingCountry;
        var d = DimensionIndex(check.DimensionId);
        foreach (var code in check.IndicatorCodes)
        {
            foreach (var cell in byIndicator.GetValueOrDefault(code) ?? [])
            {
                if (cell.Dimensions[d] == judge.Cells.Country && cell.Value != 0 && (!judge.RequestOnly || cell.InRequest))
                {
                    judge.Report(rule, code, cell.Period, cell.Value, 0, [RuleTerm.Of(cell)], [],
                        () => $"{code} {judge.Cells.Country} {cell.Period}{Dims(cell.Dimensions)}: {check.DimensionId} is the reporting country itself ({RuleFinding.Number(cell.Value)}); a State does not count its own nationals here");
                }
            }
        }
    }

    /// <summary>Compares two sides under the rule's missing-value strategy and records a finding when the operator fails.</summary>
    private sealed class Judge(RuleCells cells, bool requestOnly, List<RuleFinding> findings)
    {
        public RuleCells Cells => cells;
        public bool RequestOnly => requestOnly;

        public void Compare(ValidationRule rule, string indicator, Period period, IReadOnlyList<RuleTerm> left, int leftAbsent,
            IReadOnlyList<RuleTerm> right, int rightAbsent, Func<double, double, string> message)
        {
            var (leftMissing, leftInRequest) = Count(left);
            var (rightMissing, rightInRequest) = Count(right);
            if (requestOnly && !leftInRequest && !rightInRequest)
            {
                return;
            }
            leftMissing += leftAbsent;
            rightMissing += rightAbsent;
            var skip = rule.MissingValueStrategy switch
            {
                MissingValueStrategy.SkipIfAnyValueMissing => leftMissing > 0 || rightMissing > 0,
                MissingValueStrategy.SkipIfAllValuesMissing => leftMissing == leftAbsent + left.Count || rightMissing == rightAbsent + right.Count,
                _ => false,
            };
            if (skip)
            {
                return;
            }
            var l = Sum(left);
            var r = Sum(right);
            if (!Holds(rule, l, r))
            {
                Report(rule, indicator, period, l, r, left, right, () => message(l, r));
            }
        }

        public void Report(ValidationRule rule, string indicator, Period period, double left, double right, IReadOnlyList<RuleTerm> leftTerms, IReadOnlyList<RuleTerm> rightTerms, Func<string> describe) =>
            findings.Add(new RuleFinding(rule, cells.Country, indicator, period, left, right, leftTerms, rightTerms, describe));

        /// <summary>How many terms are missing, and whether one is the request's.</summary>
        private static (int Missing, bool InRequest) Count(IReadOnlyList<RuleTerm> terms)
        {
            var missing = 0;
            var inRequest = false;
            for (var i = 0; i < terms.Count; i++)
            {
                if (terms[i].Cell is not { } cell)
                {
                    missing++;
                }
                else
                {
                    inRequest |= cell.InRequest;
                }
            }
            return (missing, inRequest);
        }

        private static double Sum(IReadOnlyList<RuleTerm> terms)
        {
            var sum = 0.0;
            foreach (var t in terms)
            {
                sum += t.Subtracted ? -t.Value : t.Value;
            }
            return sum;
        }
    }

    // ---- helpers ----

    private static bool IsAdditive(Indicator indicator) => indicator.Kind is IndicatorKind.Stock or IndicatorKind.Flow;

    private bool InTemporalScope(ValidationRule rule, string code) =>
        _catalogue.FindIndicator(code) is { } indicator
        && (rule.Temporal.IndicatorCodes.Count == 0 ? IsAdditive(indicator.Indicator) : rule.Temporal.IndicatorCodes.Contains(code));

    private static int DimensionIndex(string dimension)
    {
        for (var d = 0; d < StandardCatalogue.ObservationDimensions.Count; d++)
        {
            if (StandardCatalogue.ObservationDimensions[d] == dimension)
            {
                return d;
            }
        }
        throw new InvalidOperationException($"dimension {dimension} has no observation field");
    }

    private static Period Next(Period period) => period.Granularity switch
    {
        PeriodGranularity.Year => period with { Year = period.Year + 1 },
        PeriodGranularity.Quarter => period.Number == 4 ? new(period.Granularity, period.Year + 1, 1) : period with { Number = period.Number + 1 },
        _ => period.Number == 12 ? new(period.Granularity, period.Year + 1, 1) : period with { Number = period.Number + 1 },
    };

    /// <summary>The longer periods a period lies in: a month's quarter and year, a quarter's year.</summary>
    private static IEnumerable<Period> Aggregates(Period period)
    {
        if (period.Granularity == PeriodGranularity.Month)
        {
            yield return new Period(PeriodGranularity.Quarter, period.Year, (period.Number + 2) / 3);
        }
        if (period.Granularity != PeriodGranularity.Year)
        {
            yield return new Period(PeriodGranularity.Year, period.Year, 0);
        }
    }

    /// <summary>The granularities of the parts an aggregate is compared with, among those the indicator accepts.</summary>
    private IEnumerable<PeriodGranularity> PartGranularities(string indicator, Period aggregate)
    {
        var accepted = _catalogue.FindIndicator(indicator)!.Granularities;
        if (aggregate.Granularity == PeriodGranularity.Year && accepted.Contains(PeriodGranularity.Quarter))
        {
            yield return PeriodGranularity.Quarter;
        }
        if (aggregate.Granularity != PeriodGranularity.Month && accepted.Contains(PeriodGranularity.Month))
        {
            yield return PeriodGranularity.Month;
        }
    }

    private IEnumerable<Period> SubPeriods(string indicator, Period aggregate) =>
        PartGranularities(indicator, aggregate).SelectMany(g => Parts(aggregate, g));

    private static IEnumerable<Period> Parts(Period aggregate, PeriodGranularity granularity)
    {
        if (granularity == PeriodGranularity.Quarter)
        {
            for (var q = 1; q <= 4; q++)
            {
                yield return new Period(PeriodGranularity.Quarter, aggregate.Year, q);
            }
            yield break;
        }
        var (first, last) = aggregate.Granularity == PeriodGranularity.Year ? (1, 12) : ((aggregate.Number - 1) * 3 + 1, aggregate.Number * 3);
        for (var m = first; m <= last; m++)
        {
            yield return new Period(PeriodGranularity.Month, aggregate.Year, m);
        }
    }

    private static string Failed(ValidationRule rule) => rule.Operator == RuleOperator.LessThanOrEqual ? "above" : "not equal to";

    private static string Plural(PeriodGranularity g) => g == PeriodGranularity.Quarter ? "quarters" : "months";

    private static string Singular(PeriodGranularity g) => g == PeriodGranularity.Quarter ? "quarter" : "month";

    private static string Dims(string[] dimensions)
    {
        var named = dimensions.Select((v, d) => (v, d)).Where(x => x.v.Length > 0).Select(x => $"{StandardCatalogue.ObservationDimensions[x.d]}={x.v}").ToList();
        return named.Count == 0 ? "" : $" ({string.Join(", ", named)})";
    }

    private static string Except(int d, string[] dimensions)
    {
        var others = dimensions.Select((v, i) => (v, i)).Where(x => x.i != d && x.v.Length > 0).Select(x => $"{StandardCatalogue.ObservationDimensions[x.i]}={x.v}").ToList();
        return others.Count == 0 ? "" : "; " + string.Join(", ", others);
    }
}
