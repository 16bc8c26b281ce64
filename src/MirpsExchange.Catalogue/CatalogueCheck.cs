using Mirps.Catalog.V1;

namespace MirpsExchange.Catalogue;

/// <summary>Consistency rules a catalogue must satisfy before any node may use it.</summary>
public static class CatalogueCheck
{
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

        var indicators = new HashSet<string>(StringComparer.Ordinal);
        foreach (var indicator in catalog.Indicators)
        {
            var what = $"indicator {indicator.Code}";
            if (string.IsNullOrWhiteSpace(indicator.Code) || !indicators.Add(indicator.Code))
            {
                problems.Add($"{what} is empty or defined twice");
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
        return problems;
    }

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

    private static void CheckLabel(LocalizedText? label, string what, List<string> problems)
    {
        if (label is null || string.IsNullOrWhiteSpace(label.En) || string.IsNullOrWhiteSpace(label.Es))
        {
            problems.Add($"{what} needs a label in English and Spanish");
        }
    }
}
