using Mirps.Catalog.V1;

namespace MirpsExchange.Catalogue;

/// <summary>
/// Consistency rules a catalogue must satisfy before any node may use it. Catalogues 2.0.0 and later must
/// also satisfy the rules of catalogue 2.0 (<see cref="Version2Problems"/>): temporal and cross-State rules
/// that agree with each indicator's kind and unit, declared attributes and ratios. Catalogue 1.0.0 predates
/// them and is still loadable, to read and map its data.
/// </summary>
public static class CatalogueCheck
{
    /// <summary>The temporal rule an indicator of a kind must have: a flow sums, a stock takes the end of the period, a statistic does not aggregate.</summary>
    public static TemporalAggregation TemporalRuleOf(IndicatorKind kind) => kind switch
    {
        IndicatorKind.Flow => TemporalAggregation.Sum,
        IndicatorKind.Stock => TemporalAggregation.EndOfPeriod,
        IndicatorKind.Statistic => TemporalAggregation.NotAggregable,
        _ => TemporalAggregation.Unspecified,
    };

    public static IReadOnlyList<string> Problems(Catalog catalog)
    {
        var problems = new List<string>();
        if (!System.Text.RegularExpressions.Regex.IsMatch(catalog.Version, @"^\d+\.\d+\.\d+$"))
        {
            problems.Add($"version '{catalog.Version}' is not MAJOR.MINOR.PATCH");
        }
        CheckLabel(catalog.Name, "catalogue name", problems);

        var codelists = new HashSet<string>(StringComparer.Ordinal);
        foreach (var codelist in catalog.Codelists)
        {
            if (!codelists.Add(codelist.Id))
            {
                problems.Add($"codelist {codelist.Id} is defined twice");
            }
            CheckLabel(codelist.Name, $"codelist {codelist.Id}", problems);
            if (codelist.Codes.Count == 0)
            {
                problems.Add($"codelist {codelist.Id} has no codes");
            }
            var codes = new HashSet<string>(StringComparer.Ordinal);
            foreach (var code in codelist.Codes)
            {
                if (string.IsNullOrWhiteSpace(code.Id) || !codes.Add(code.Id))
                {
                    problems.Add($"codelist {codelist.Id}: code '{code.Id}' is empty or repeated");
                }
                CheckLabel(code.Name, $"codelist {codelist.Id} code {code.Id}", problems);
            }
        }
        if (!codelists.Contains(StandardCatalogue.ReportingCountryCodelist))
        {
            problems.Add($"codelist {StandardCatalogue.ReportingCountryCodelist} (the reporting States) is missing");
        }

        var dimensions = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dimension in catalog.Dimensions)
        {
            if (!StandardCatalogue.ObservationDimensions.Contains(dimension.Id))
            {
                problems.Add($"dimension {dimension.Id} has no observation field (known: {string.Join(", ", StandardCatalogue.ObservationDimensions)})");
            }
            if (!dimensions.Add(dimension.Id))
            {
                problems.Add($"dimension {dimension.Id} is defined twice");
            }
            if (!codelists.Contains(dimension.CodelistId))
            {
                problems.Add($"dimension {dimension.Id} uses unknown codelist {dimension.CodelistId}");
            }
            CheckLabel(dimension.Name, $"dimension {dimension.Id}", problems);
        }

        var units = new HashSet<string>(StringComparer.Ordinal);
        foreach (var unit in catalog.Units)
        {
            if (!units.Add(unit.Id))
            {
                problems.Add($"unit {unit.Id} is defined twice");
            }
            CheckLabel(unit.Name, $"unit {unit.Id}", problems);
        }

        var groups = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in catalog.IndicatorGroups)
        {
            if (string.IsNullOrWhiteSpace(group.Id) || !groups.Add(group.Id))
            {
                problems.Add($"indicator group '{group.Id}' is empty or defined twice");
            }
            CheckLabel(group.Name, $"indicator group {group.Id}", problems);
        }

        var indicators = new HashSet<string>(StringComparer.Ordinal);
        foreach (var indicator in catalog.Indicators)
        {
            var what = $"indicator {indicator.Code}";
            if (string.IsNullOrWhiteSpace(indicator.Code) || !indicators.Add(indicator.Code))
            {
                problems.Add($"{what} is empty or defined twice");
            }
            if (groups.Count > 0 ? !groups.Contains(indicator.GroupId) : indicator.GroupId.Length > 0)
            {
                problems.Add($"{what} is in group '{indicator.GroupId}', which is not declared (groups: {string.Join(", ", groups)})");
            }
            CheckLabel(indicator.Name, what, problems);
            CheckLabel(indicator.Description, $"{what} description", problems);
            if (indicator.Kind == IndicatorKind.Unspecified)
            {
                problems.Add($"{what} has no kind");
            }
            if (!units.Contains(indicator.UnitId))
            {
                problems.Add($"{what} uses unknown unit {indicator.UnitId}");
            }
            if (indicator.Granularities.Count == 0 || indicator.Granularities.Contains(PeriodGranularity.Unspecified))
            {
                problems.Add($"{what} must list its period granularities");
            }
            if (indicator.Aggregation == AggregationRule.Unspecified)
            {
                problems.Add($"{what} has no aggregation rule");
            }
            foreach (var dimension in indicator.DimensionIds)
            {
                if (!dimensions.Contains(dimension))
                {
                    problems.Add($"{what} declares unknown dimension {dimension}");
                }
            }
            if (indicator.DimensionIds.Distinct().Count() != indicator.DimensionIds.Count)
            {
                problems.Add($"{what} declares a dimension twice");
            }
        }
        CheckValidationRules(catalog, dimensions, problems);
        if (MajorVersion(catalog) >= 2)
        {
            problems.AddRange(Version2Problems(catalog));
        }
        if (!IsBefore(catalog, 2, 1))
        {
            problems.AddRange(ActiveRuleProblems(catalog));
        }
        return problems;
    }

    /// <summary>The rules of catalogue 2.0: every indicator's kind, unit, temporal rule and cross-State rule agree; defaults, attributes and ratios are sound.</summary>
    public static IReadOnlyList<string> Version2Problems(Catalog catalog)
    {
        var problems = new List<string>();
        var codelists = catalog.Codelists.GroupBy(c => c.Id).ToDictionary(g => g.Key, g => g.First().Codes.Select(c => c.Id).ToHashSet(StringComparer.Ordinal));
        foreach (var dimension in catalog.Dimensions)
        {
            codelists.TryGetValue(dimension.CodelistId, out var codes);
            if (dimension.DefaultCode.Length > 0 && codes is not null && !codes.Contains(dimension.DefaultCode))
            {
                problems.Add($"dimension {dimension.Id}: default '{dimension.DefaultCode}' is not a code of {dimension.CodelistId}");
            }
            // The change log leaves a new dimension out at its default (Mirps.Log.AddedDimensions): the contract fixes it, the catalogue declares that one.
            var added = Mirps.Log.AddedDimensions.DimensionIds.ToList().IndexOf(dimension.Id);
            if (added >= 0 && dimension.DefaultCode != Mirps.Log.AddedDimensions.Defaults[added])
            {
                problems.Add($"dimension {dimension.Id}: its default must be '{Mirps.Log.AddedDimensions.Defaults[added]}', the one the change log's encoding leaves out (protos/README.md)");
            }
            if (dimension.DefaultCode.Length == 0 && codes is not null && !codes.Contains(StandardCatalogue.TotalCode))
            {
                problems.Add($"dimension {dimension.Id} has neither a total ({StandardCatalogue.TotalCode}) nor a default: a headline figure could not choose its cell");
            }
        }

        var units = catalog.Units.GroupBy(u => u.Id).ToDictionary(g => g.Key, g => g.First());
        foreach (var unit in units.Values.Where(u => u.Kinds.Count == 0 || u.Kinds.Contains(IndicatorKind.Unspecified)))
        {
            problems.Add($"unit {unit.Id} must list the kinds of indicator it measures");
        }
        var indicators = catalog.Indicators.GroupBy(i => i.Code).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var indicator in catalog.Indicators)
        {
            var what = $"indicator {indicator.Code}";
            var kind = Name(indicator.Kind);
            var expected = TemporalRuleOf(indicator.Kind);
            if (indicator.TemporalAggregation == TemporalAggregation.Unspecified)
            {
                problems.Add($"{what} has no temporal rule (a {kind} needs {Name(expected)})");
            }
            else if (expected != TemporalAggregation.Unspecified && indicator.TemporalAggregation != expected)
            {
                problems.Add($"{what} is a {kind} but its temporal rule is {Name(indicator.TemporalAggregation)}: a {kind} needs {Name(expected)}");
            }
            if (units.TryGetValue(indicator.UnitId, out var unit))
            {
                if (unit.Kinds.Count > 0 && !unit.Kinds.Contains(indicator.Kind))
                {
                    problems.Add($"{what} is a {kind} in unit {unit.Id}, which measures only {string.Join(" or ", unit.Kinds.Select(Name))}");
                }
                if (indicator.Kind is IndicatorKind.Stock or IndicatorKind.Flow && !unit.WholeNumbers)
                {
                    problems.Add($"{what} is a {kind}, a count, but its unit {unit.Id} allows fractions");
                }
            }
            if (indicator.Kind == IndicatorKind.Statistic && indicator.Aggregation == AggregationRule.Sum)
            {
                problems.Add($"{what} is a statistic: its values cannot be added across States");
            }
            var reason = indicator.NotAdditiveReason;
            if (indicator.Aggregation == AggregationRule.NotAggregable)
            {
                if (reason is null || string.IsNullOrWhiteSpace(reason.En) || string.IsNullOrWhiteSpace(reason.Es))
                {
                    problems.Add($"{what} is not additive across States but does not say why (not_additive_reason, in English and Spanish)");
                }
            }
            else if (reason is not null && (reason.En.Length > 0 || reason.Es.Length > 0))
            {
                problems.Add($"{what} adds up across States but gives a reason it does not (not_additive_reason)");
            }
            if (indicator.NationalTerms is { } terms && (terms.En.Length > 0 || terms.Es.Length > 0))
            {
                CheckLabel(terms, $"{what} national terms", problems);
            }
        }

        var attributes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var attribute in catalog.Attributes)
        {
            var what = $"attribute {attribute.Id}";
            if (!StandardCatalogue.ObservationAttributes.ContainsKey(attribute.Id))
            {
                problems.Add($"{what} has no observation field (known: {string.Join(", ", StandardCatalogue.ObservationAttributes.Keys)})");
            }
            if (!attributes.Add(attribute.Id))
            {
                problems.Add($"{what} is defined twice");
            }
            CheckLabel(attribute.Name, what, problems);
            CheckLabel(attribute.Description, $"{what} description", problems);
            if (attribute.CodelistId.Length == 0)
            {
                if (attribute.DefaultCode is not "false")
                {
                    problems.Add($"{what} is a yes/no flag: its default must be 'false'");
                }
            }
            else if (!codelists.TryGetValue(attribute.CodelistId, out var codes))
            {
                problems.Add($"{what} uses unknown codelist {attribute.CodelistId}");
            }
            else if (!codes.Contains(attribute.DefaultCode))
            {
                problems.Add($"{what}: default '{attribute.DefaultCode}' is not a code of {attribute.CodelistId}");
            }
        }

        var ratios = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ratio in catalog.Ratios)
        {
            var what = $"ratio {ratio.Id}";
            if (string.IsNullOrWhiteSpace(ratio.Id) || !ratios.Add(ratio.Id))
            {
                problems.Add($"{what} is empty or defined twice");
            }
            CheckLabel(ratio.Name, what, problems);
            CheckLabel(ratio.Description, $"{what} description", problems);
            if (ratio.NumeratorIndicatorCodes.Count == 0 || ratio.DenominatorIndicatorCodes.Count == 0)
            {
                problems.Add($"{what} needs a numerator and a denominator");
            }
            foreach (var code in ratio.NumeratorIndicatorCodes.Where(c => !ratio.DenominatorIndicatorCodes.Contains(c)))
            {
                problems.Add($"{what}: numerator {code} is not in the denominator, so the ratio is not a share");
            }
            foreach (var code in ratio.DenominatorIndicatorCodes.Distinct())
            {
                if (!indicators.TryGetValue(code, out var component))
                {
                    problems.Add($"{what} reads unknown indicator {code}");
                }
                else if (component.Aggregation != AggregationRule.Sum)
                {
                    problems.Add($"{what} reads {code}, which is not additive across States: a ratio of sums needs sums");
                }
            }
        }
        return problems;
    }

    /// <summary>Whether the catalogue's version is earlier than <paramref name="major"/>.<paramref name="minor"/> (or not a version).</summary>
    private static bool IsBefore(Catalog catalog, int major, int minor) =>
        !System.Version.TryParse(catalog.Version, out var version) || version < new System.Version(major, minor);

    private static int MajorVersion(Catalog catalog)
    {
        var dot = catalog.Version.IndexOf('.');
        return dot > 0 && int.TryParse(catalog.Version.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var major) ? major : 0;
    }

    private static string Name(IndicatorKind kind) => kind switch
    {
        IndicatorKind.Stock => "stock",
        IndicatorKind.Flow => "flow",
        IndicatorKind.Statistic => "statistic",
        _ => "indicator of no kind",
    };

    private static string Name(TemporalAggregation rule) => rule switch
    {
        TemporalAggregation.Sum => "SUM (the year is the sum of its quarters and months)",
        TemporalAggregation.EndOfPeriod => "END_OF_PERIOD (the year is its last quarter and December)",
        TemporalAggregation.NotAggregable => "NOT_AGGREGABLE (each period computed on its own)",
        _ => "UNSPECIFIED",
    };

    /// <summary>
    /// Each rule: a unique UPPER_SNAKE_CASE id, labels, a severity, a missing-value strategy, an operator and a
    /// check with what it needs, over declared dimensions. An indicator code a rule names need not be in the
    /// catalogue: the rule applies once it is (Validation/Rules/CatalogueRules lists such dormant rules).
    /// </summary>
    private static void CheckValidationRules(Catalog catalog, HashSet<string> dimensions, List<string> problems)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in catalog.ValidationRules)
        {
            var what = $"validation rule {rule.Id}";
            if (!System.Text.RegularExpressions.Regex.IsMatch(rule.Id, "^[A-Z][A-Z0-9_]*$") || !ids.Add(rule.Id))
            {
                problems.Add($"{what}: the id must be UPPER_SNAKE_CASE and unique");
            }
            CheckLabel(rule.Name, what, problems);
            CheckLabel(rule.Description, $"{what} description", problems);
            if (rule.Severity == RuleSeverity.Unspecified || !Enum.IsDefined(rule.Severity))
            {
                problems.Add($"{what} has no severity (ERROR or WARNING)");
            }
            if (rule.MissingValueStrategy == MissingValueStrategy.Unspecified || !Enum.IsDefined(rule.MissingValueStrategy))
            {
                problems.Add($"{what} has no missing value strategy");
            }
            if (rule.Operator == RuleOperator.Unspecified || !Enum.IsDefined(rule.Operator))
            {
                problems.Add($"{what} has no operator");
            }
            switch (rule.CheckCase)
            {
                case ValidationRule.CheckOneofCase.Breakdown:
                    foreach (var dimension in rule.Breakdown.DimensionIds.Where(d => !dimensions.Contains(d)))
                    {
                        problems.Add($"{what} names unknown dimension {dimension}");
                    }
                    break;
                case ValidationRule.CheckOneofCase.Components:
                    if (rule.Components.ComponentIndicatorCodes.Count == 0 || rule.Components.TotalIndicatorCode.Length == 0)
                    {
                        problems.Add($"{what} needs component indicators and a total indicator");
                    }
                    break;
                case ValidationRule.CheckOneofCase.Balance:
                    if (rule.Balance.StockIndicatorCode.Length == 0 || rule.Balance.InflowIndicatorCodes.Count + rule.Balance.OutflowIndicatorCodes.Count == 0)
                    {
                        problems.Add($"{what} needs a stock indicator and flows");
                    }
                    break;
                case ValidationRule.CheckOneofCase.Temporal:
                    break;
                case ValidationRule.CheckOneofCase.OriginNotReportingCountry:
                    if (rule.OriginNotReportingCountry.IndicatorCodes.Count == 0 || !dimensions.Contains(rule.OriginNotReportingCountry.DimensionId))
                    {
                        problems.Add($"{what} needs indicators and a declared dimension");
                    }
                    break;
                default:
                    problems.Add($"{what} has no check");
                    break;
            }
        }
    }

    /// <summary>
    /// From catalogue 2.1.0 on, every rule fires: it names only indicators the catalogue declares (catalogue 2.0.0
    /// named total decisions without declaring them, so its decision rules never judged anything), and the total and
    /// components of a components rule declare the same dimensions, so that they are compared cell by cell.
    /// </summary>
    public static IReadOnlyList<string> ActiveRuleProblems(Catalog catalog)
    {
        var problems = new List<string>();
        var indicators = catalog.Indicators.GroupBy(i => i.Code, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var rule in catalog.ValidationRules)
        {
            problems.AddRange(Validation.Rules.CatalogueRules.NamedIndicators(rule).Where(code => !indicators.ContainsKey(code)).Distinct()
                .Select(code => $"validation rule {rule.Id} names indicator {code}, which the catalogue does not declare: the rule would never fire"));
            if (rule.CheckCase == ValidationRule.CheckOneofCase.Components && indicators.GetValueOrDefault(rule.Components.TotalIndicatorCode) is { } total)
            {
                problems.AddRange(rule.Components.ComponentIndicatorCodes
                    .Where(code => indicators.GetValueOrDefault(code) is { } component && !component.DimensionIds.SequenceEqual(total.DimensionIds))
                    .Select(code => $"validation rule {rule.Id}: component {code} and total {total.Code} declare different dimensions, so their cells cannot be compared"));
            }
        }
        return problems;
    }

    private static void CheckLabel(LocalizedText? label, string what, List<string> problems)
    {
        if (label is null || string.IsNullOrWhiteSpace(label.En) || string.IsNullOrWhiteSpace(label.Es))
        {
            problems.Add($"{what} needs a label in English and Spanish");
        }
    }
}
