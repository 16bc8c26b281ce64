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
    /// The tables the rules read for a request's tables: each itself, the components' and the total's of the same
    /// period, a balance's stock before and after and its flows, and the quarter and year a month or quarter
    /// belongs to, and the quarters and months of a year or quarter sent. After loading them, ask
    /// <see cref="SubTablesFor"/> for the periods within an aggregate that turned out to be held.
    /// </summary>
    public HashSet<RuleTable> TablesFor(IEnumerable<RuleTable> requestTables)
    {
        var tables = new HashSet<RuleTable>();
        foreach (var table in requestTables)
        {
            tables.Add(table);
            var (indicator, period) = table;
            foreach (var rule in _active)
            {
                switch (rule.CheckCase)
                {
                    case ValidationRule.CheckOneofCase.Components:
                        var components = rule.Components;
                        if (components.TotalIndicatorCode == indicator || components.ComponentIndicatorCodes.Contains(indicator))
                        {
                            AddAt(tables, [components.TotalIndicatorCode, .. components.ComponentIndicatorCodes], period);
                        }
                        break;
                    case ValidationRule.CheckOneofCase.Balance:
                        var balance = rule.Balance;
                        string[] flows = [.. balance.InflowIndicatorCodes, .. balance.OutflowIndicatorCodes];
                        if (balance.StockIndicatorCode == indicator)
                        {
                            tables.Add(new(indicator, period.Previous()));
                            tables.Add(new(indicator, Next(period)));
                            AddAt(tables, flows, period);
                            AddAt(tables, flows, Next(period));
                        }
                        else if (flows.Contains(indicator))
                        {
                            tables.Add(new(balance.StockIndicatorCode, period));
                            tables.Add(new(balance.StockIndicatorCode, period.Previous()));
                            AddAt(tables, flows, period);
                        }
                        break;
                    case ValidationRule.CheckOneofCase.Temporal:
                        if (InTemporalScope(rule, indicator))
                        {
                            foreach (var aggregate in Aggregates(period))
                            {
                                tables.Add(new(indicator, aggregate));
                            }
                            foreach (var sub in SubPeriods(indicator, period))
                            {
                                tables.Add(new(indicator, sub));
                            }
                        }
                        break;
                }
            }
        }
        return tables;
    }

    /// <summary>The quarters and months (not yet in <paramref name="loaded"/>) of every year or quarter of a temporal rule's indicator the cells hold.</summary>
    public HashSet<RuleTable> SubTablesFor(RuleCells cells, IReadOnlySet<RuleTable> loaded)
    {
        var tables = new HashSet<RuleTable>();
        var aggregates = new HashSet<RuleTable>();
        foreach (var cell in cells.All)
        {
            if (cell.Period.Granularity != PeriodGranularity.Month)
            {
                aggregates.Add(new(cell.Indicator, cell.Period));
            }
        }
        foreach (var (indicator, period) in aggregates)
        {
            if (_active.Any(r => r.CheckCase == ValidationRule.CheckOneofCase.Temporal && InTemporalScope(r, indicator)))
            {
                foreach (var sub in SubPeriods(indicator, period))
                {
                    if (!loaded.Contains(new(indicator, sub)))
                    {
                        tables.Add(new(indicator, sub));
                    }
                }
            }
        }
        return tables;
    }

    private static void AddAt(HashSet<RuleTable> tables, IEnumerable<string> indicators, Period period)
    {
        foreach (var code in indicators)
        {
            tables.Add(new(code, period));
        }
    }

    // ---- evaluation ----

    /// <summary>
    /// Every broken active rule over <paramref name="cells"/>, in <see cref="RuleFinding.Compare"/>'s order. With
    /// <paramref name="requestOnly"/>, only findings that involve an observation of the request (a stored table's
    /// own inconsistencies do not refuse a later request that does not touch them).
    /// </summary>
    public List<RuleFinding> Evaluate(RuleCells cells, bool requestOnly)
    {
        var byIndicator = cells.All.GroupBy(c => c.Indicator).ToDictionary(g => g.Key, g => g.ToList());
        var findings = new List<RuleFinding>();
        var judge = new Judge(cells, requestOnly, findings);
        foreach (var rule in _active)
        {
            switch (rule.CheckCase)
            {
                case ValidationRule.CheckOneofCase.Breakdown:
                    EvaluateBreakdown(rule, byIndicator, judge);
                    break;
                case ValidationRule.CheckOneofCase.Components:
                    EvaluateComponents(rule, byIndicator, judge);
                    break;
                case ValidationRule.CheckOneofCase.Balance:
                    EvaluateBalance(rule, byIndicator, judge);
                    break;
                case ValidationRule.CheckOneofCase.Temporal:
                    EvaluateTemporal(rule, byIndicator, judge);
                    break;
                case ValidationRule.CheckOneofCase.OriginNotReportingCountry:
                    EvaluateOrigin(rule, byIndicator, judge);
                    break;
            }
        }
        findings.Sort(RuleFinding.Compare);
        return findings;
    }

    private void EvaluateBreakdown(ValidationRule rule, Dictionary<string, List<RuleCell>> byIndicator, Judge judge)
    {
        var check = rule.Breakdown;
        foreach (var (code, indicatorCells) in byIndicator)
        {
            if (_catalogue.FindIndicator(code) is not { } indicator || !(check.IndicatorCodes.Count == 0 ? IsAdditive(indicator.Indicator) : check.IndicatorCodes.Contains(code)))
            {
                continue;
            }
            foreach (var dimension in indicator.Indicator.DimensionIds)
            {
                var codes = _catalogue.DimensionCodes(dimension);
                if (!codes.Contains(Total) || (check.DimensionIds.Count > 0 && !check.DimensionIds.Contains(dimension)))
                {
                    continue;
                }
                var d = DimensionIndex(dimension);
                var groups = new Dictionary<(Period, string), List<RuleCell>>();
                foreach (var cell in indicatorCells)
                {
                    if (cell.Dimensions[d] == Total)
                    {
                        continue;
                    }
                    var totalKey = RuleCells.Join(RuleCells.With(cell.Dimensions, d, Total));
                    if (!groups.TryGetValue((cell.Period, totalKey), out var parts))
                    {
                        groups[(cell.Period, totalKey)] = parts = [];
                    }
                    parts.Add(cell);
                }
                foreach (var ((period, totalKey), parts) in groups)
                {
                    var total = judge.Cells.Find(code, period, totalKey);
                    var missingParts = codes.Count - 1 - parts.Count;
                    var totalTerm = total is not null ? RuleTerm.Of(total) : new RuleTerm(code, period, RuleCells.With(parts[0].Dimensions, d, Total), null);
                    parts.Sort((x, y) => string.CompareOrdinal(x.Dimensions[d], y.Dimensions[d]));
                    judge.Compare(rule, code, period, [.. parts.Select(p => RuleTerm.Of(p))], missingParts, [totalTerm], 0,
                        (l, r) => $"{code} {judge.Cells.Country} {period} by {dimension} ({parts.Count} of {codes.Count - 1} codes{Except(d, parts[0].Dimensions)}): the breakdown sums to {RuleFinding.Number(l)}, {Failed(rule)} the total {RuleFinding.Number(r)}");
                }
            }
        }
    }

    private static void EvaluateComponents(ValidationRule rule, Dictionary<string, List<RuleCell>> byIndicator, Judge judge)
    {
        var check = rule.Components;
        var keys = new HashSet<(Period, string)>();
        var dimensionsOf = new Dictionary<(Period, string), string[]>();
        foreach (var code in check.ComponentIndicatorCodes.Append(check.TotalIndicatorCode))
        {
            foreach (var cell in byIndicator.GetValueOrDefault(code) ?? [])
            {
                if (keys.Add((cell.Period, cell.DimensionKey)))
                {
                    dimensionsOf[(cell.Period, cell.DimensionKey)] = cell.Dimensions;
                }
            }
        }
        foreach (var (period, key) in keys)
        {
            var dimensions = dimensionsOf[(period, key)];
            var left = check.ComponentIndicatorCodes.Select(c => new RuleTerm(c, period, dimensions, judge.Cells.Find(c, period, key))).ToList();
            RuleTerm[] right = [new(check.TotalIndicatorCode, period, dimensions, judge.Cells.Find(check.TotalIndicatorCode, period, key))];
            judge.Compare(rule, check.TotalIndicatorCode, period, left, 0, right, 0,
                (l, r) => $"{string.Join(" + ", check.ComponentIndicatorCodes)} {judge.Cells.Country} {period}{Dims(dimensions)} = {RuleFinding.Number(l)}, {Failed(rule)} {check.TotalIndicatorCode} {RuleFinding.Number(r)}");
        }
    }

    private static void EvaluateBalance(ValidationRule rule, Dictionary<string, List<RuleCell>> byIndicator, Judge judge)
    {
        var check = rule.Balance;
        var stock = check.StockIndicatorCode;
        var keys = new Dictionary<(Period, string), string[]>();
        foreach (var cell in byIndicator.GetValueOrDefault(stock) ?? [])
        {
            keys.TryAdd((cell.Period, cell.DimensionKey), cell.Dimensions);
            keys.TryAdd((Next(cell.Period), cell.DimensionKey), cell.Dimensions);
        }
        foreach (var code in check.InflowIndicatorCodes.Concat(check.OutflowIndicatorCodes))
        {
            foreach (var cell in byIndicator.GetValueOrDefault(code) ?? [])
            {
                keys.TryAdd((cell.Period, cell.DimensionKey), cell.Dimensions);
            }
        }
        foreach (var ((period, key), dimensions) in keys)
        {
            var previous = period.Previous();
            RuleTerm[] left = [new(stock, period, dimensions, judge.Cells.Find(stock, period, key))];
            List<RuleTerm> right =
            [
                new(stock, previous, dimensions, judge.Cells.Find(stock, previous, key)),
                .. check.InflowIndicatorCodes.Select(c => new RuleTerm(c, period, dimensions, judge.Cells.Find(c, period, key))),
                .. check.OutflowIndicatorCodes.Select(c => new RuleTerm(c, period, dimensions, judge.Cells.Find(c, period, key), Subtracted: true)),
            ];
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
            if (aggregation == TemporalAggregation.None || (aggregation == TemporalAggregation.Last && rule.Operator == RuleOperator.LessThanOrEqual))
            {
                continue; // "the last part is at most the year" says nothing of a stock
            }
            // Every (longer period, dimensions, granularity of its parts) a cell of the indicator belongs to.
            var groups = new Dictionary<(Period, string, PeriodGranularity), string[]>();
            foreach (var cell in indicatorCells)
            {
                foreach (var aggregate in Aggregates(cell.Period))
                {
                    groups.TryAdd((aggregate, cell.DimensionKey, cell.Period.Granularity), cell.Dimensions);
                }
                if (cell.Period.Granularity != PeriodGranularity.Month)
                {
                    foreach (var granularity in PartGranularities(code, cell.Period))
                    {
                        groups.TryAdd((cell.Period, cell.DimensionKey, granularity), cell.Dimensions);
                    }
                }
            }
            foreach (var ((aggregate, key, granularity), dimensions) in groups)
            {
                var parts = Parts(aggregate, granularity).ToList();
                if (aggregation == TemporalAggregation.Last)
                {
                    parts = [parts[^1]];
                }
                var left = parts.Select(p => new RuleTerm(code, p, dimensions, judge.Cells.Find(code, p, key))).ToList();
                RuleTerm[] right = [new(code, aggregate, dimensions, judge.Cells.Find(code, aggregate, key))];
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
                        $"{code} {judge.Cells.Country} {cell.Period}{Dims(cell.Dimensions)}: {check.DimensionId} is the reporting country itself ({RuleFinding.Number(cell.Value)}); a State does not count its own nationals here");
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
            if (requestOnly && !left.Any(t => t.Cell is { InRequest: true }) && !right.Any(t => t.Cell is { InRequest: true }))
            {
                return;
            }
            var leftMissing = leftAbsent + left.Count(t => t.Cell is null);
            var rightMissing = rightAbsent + right.Count(t => t.Cell is null);
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
            var tolerance = 1e-9 * Math.Max(1, Math.Max(Math.Abs(l), Math.Abs(r)));
            var holds = rule.Operator == RuleOperator.LessThanOrEqual ? l <= r + tolerance : Math.Abs(l - r) <= tolerance;
            if (!holds)
            {
                Report(rule, indicator, period, l, r, left, right, message(l, r));
            }
        }

        public void Report(ValidationRule rule, string indicator, Period period, double left, double right, IReadOnlyList<RuleTerm> leftTerms, IReadOnlyList<RuleTerm> rightTerms, string message) =>
            findings.Add(new RuleFinding(rule, cells.Country, indicator, period, left, right, leftTerms, rightTerms, $"{rule.Id}: {message}"));

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
