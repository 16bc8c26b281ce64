using Google.Protobuf.WellKnownTypes;
using Mirps.Catalog.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Secretariat.Regional;

/// <summary>
/// Checks every field of a regional request against the catalogue before anything is computed, and
/// refuses with INVALID_ARGUMENT and one BadRequest field violation per problem, so that a client sees
/// all its mistakes at once. The aggregation rule is checked after the fields (FAILED_PRECONDITION):
/// the request is well formed, but the catalogue forbids adding that indicator across States.
/// </summary>
public sealed class RegionalRequests(StandardCatalogue catalogue, TimeProvider clock)
{
    /// <summary>Most indicator codes in one completeness request.</summary>
    public const int MaxIndicators = 300;

    /// <summary>Most periods in one completeness matrix (ten years of months).</summary>
    public const int MaxPeriods = 120;

    public StandardCatalogue Catalogue => catalogue;

    /// <summary>The indicator, period and breakdown of a regional value or change, for an additive indicator only.</summary>
    public (IndicatorRule Indicator, Period Period, Breakdown Breakdown) AdditiveQuery(string indicatorCode, string periodText, Breakdown breakdown, Timestamp? asOf,
        LifecycleFilter lifecycle = LifecycleFilter.Unspecified)
    {
        var violations = new List<Violation>();
        var indicator = Indicator(indicatorCode, "indicator_code", violations);
        var period = PeriodOf(periodText, "period", indicator, violations);
        if (!System.Enum.IsDefined(breakdown))
        {
            violations.Add(new("breakdown", $"{(int)breakdown} is not a Breakdown value (0 none, 1 sex, 2 age, 3 country of origin, 4 application type, 5 decision level, 6 procedure type, 7 count basis, 8 country of destination)"));
        }
        else if (indicator is not null && RegionalIndicators.DimensionOf(breakdown) is { } dimension && !indicator.Indicator.DimensionIds.Contains(dimension))
        {
            violations.Add(new("breakdown", $"{indicator.Indicator.Code} has no {dimension} dimension (it declares {Declared(indicator)}); choose one it declares or none"));
        }
        CheckAsOf(asOf, violations);
        CheckLifecycle(lifecycle, violations);
        ThrowIfInvalid(violations);

        if (indicator!.Indicator.Aggregation != AggregationRule.Sum)
        {
            // The catalogue's reason (2.0) travels with the refusal, in the message and in both languages in the metadata.
            var reason = indicator.Indicator.NotAdditiveReason;
            var metadata = new Dictionary<string, string> { ["indicator_code"] = indicator.Indicator.Code, ["aggregation_rule"] = Name(indicator.Indicator.Aggregation) };
            if (reason is not null)
            {
                metadata["not_additive_reason"] = reason.En;
                metadata["not_additive_reason_es"] = reason.Es;
            }
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, "NOT_AGGREGABLE",
                $"{indicator.Indicator.Code} has the aggregation rule {Name(indicator.Indicator.Aggregation)} in catalogue {catalogue.Version}: " +
                $"its States' values cannot be added into a regional value; only indicators with {Name(AggregationRule.Sum)} can" +
                (string.IsNullOrEmpty(reason?.En) ? "" : $". {reason.En}"),
                metadata);
        }
        return (indicator, period!.Value, breakdown);
    }

    public Period RatesQuery(GetProtectionRatesRequest request)
    {
        var violations = new List<Violation>();
        // A period the rates' components accept (the recognition rate's first component stands for all of them).
        var component = catalogue.FindRatio(StandardCatalogue.RecognitionRate)?.DenominatorIndicatorCodes.FirstOrDefault();
        var period = PeriodOf(request.Period, "period", component is null ? null : catalogue.FindIndicator(component), violations);
        CheckAsOf(request.AsOfTime, violations);
        CheckLifecycle(request.Lifecycle, violations);
        ThrowIfInvalid(violations);
        return period!.Value;
    }

    /// <summary>The States (empty: all) and the optional period range of a validation report.</summary>
    public (List<string> Countries, Period? From, Period? To) ValidationReportQuery(GetValidationReportRequest request)
    {
        var violations = new List<Violation>();
        for (var i = 0; i < request.Countries.Count; i++)
        {
            if (!catalogue.ReportingCountries.Contains(request.Countries[i]))
            {
                violations.Add(new($"countries[{i}]", $"'{request.Countries[i]}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order(StringComparer.Ordinal))})"));
            }
        }
        var from = request.PeriodFrom.Length == 0 ? null : PeriodOf(request.PeriodFrom, "period_from", null, violations);
        var to = request.PeriodTo.Length == 0 ? null : PeriodOf(request.PeriodTo, "period_to", null, violations);
        if (from is { } start && to is { } end && start.Start > end.End)
        {
            violations.Add(new("period_to", $"period_to {end} ends on {end.End:yyyy-MM-dd}, before period_from {start} starts ({start.Start:yyyy-MM-dd})"));
        }
        ThrowIfInvalid(violations);
        return ([.. request.Countries.Distinct()], from, to);
    }

    /// <summary>The indicators (ordered) and the periods of a completeness matrix.</summary>
    public (List<string> Indicators, List<Period> Periods) CompletenessQuery(GetCompletenessRequest request)
    {
        var violations = new List<Violation>();
        var granularity = request.Granularity == PeriodGranularity.Unspecified ? PeriodGranularity.Year : request.Granularity;
        if (!System.Enum.IsDefined(request.Granularity))
        {
            violations.Add(new("granularity", $"{(int)request.Granularity} is not a PeriodGranularity value (1 year, 2 quarter, 3 month; 0 for years)"));
        }
        var indicators = new List<string>();
        if (request.IndicatorCodes.Count > MaxIndicators)
        {
            violations.Add(new("indicator_codes", $"indicator_codes holds at most {MaxIndicators} entries; this one has {request.IndicatorCodes.Count:N0}"));
        }
        else if (request.IndicatorCodes.Count == 0)
        {
            indicators.AddRange(catalogue.Catalog.Indicators.Where(i => i.Granularities.Contains(granularity)).Select(i => i.Code));
        }
        for (var i = 0; i < request.IndicatorCodes.Count && i < MaxIndicators; i++)
        {
            var field = $"indicator_codes[{i}]";
            if (Indicator(request.IndicatorCodes[i], field, violations) is not { } indicator)
            {
                continue;
            }
            if (!indicator.Granularities.Contains(granularity))
            {
                violations.Add(new(field, $"{indicator.Indicator.Code} is not reported by {Name(granularity)}"));
            }
            else if (!indicators.Contains(indicator.Indicator.Code))
            {
                indicators.Add(indicator.Indicator.Code);
            }
        }
        var from = PeriodOf(request.PeriodFrom, "period_from", null, violations);
        var to = PeriodOf(request.PeriodTo, "period_to", null, violations);
        var periods = new List<Period>();
        if (from is { } start && to is { } end)
        {
            if (start.Start > end.End)
            {
                violations.Add(new("period_to", $"period_to {end} ends on {end.End:yyyy-MM-dd}, before period_from {start} starts ({start.Start:yyyy-MM-dd})"));
            }
            periods = Within(granularity, start.Start, end.End);
            if (periods.Count > MaxPeriods)
            {
                violations.Add(new("period_to", $"the range holds {periods.Count:N0} periods of {Name(granularity)}; at most {MaxPeriods} fit in one matrix"));
            }
            else if (periods.Count == 0 && start.Start <= end.End)
            {
                violations.Add(new("period_to", $"no whole period of {Name(granularity)} lies between {start} and {end}"));
            }
        }
        CheckAsOf(request.AsOfTime, violations);
        ThrowIfInvalid(violations);
        indicators.Sort(StringComparer.Ordinal);
        return (indicators, periods);
    }

    /// <summary>
    /// A timeliness request, checked: MIRPS States (none: all), groups the calendar has (none: all of them), a range holding at
    /// least one period the calendar has a due date for, at most <see cref="MaxTimelinessCells"/> cells.
    /// </summary>
    public (IReadOnlyList<string> Countries, IReadOnlyList<string> Groups, Period From, Period To) TimelinessQuery(GetTimelinessRequest request, ReportingCalendar calendar)
    {
        var violations = new List<Violation>();
        var states = catalogue.ReportingCountries.Order(StringComparer.Ordinal).ToList();
        for (var i = 0; i < request.Countries.Count; i++)
        {
            if (!catalogue.ReportingCountries.Contains(request.Countries[i]))
            {
                violations.Add(new($"countries[{i}]", $"'{request.Countries[i]}' is not a MIRPS State ({string.Join(", ", states)})"));
            }
        }
        var calendarGroups = calendar.Rules.Select(r => r.GroupId).Distinct().ToList();
        for (var i = 0; i < request.GroupIds.Count; i++)
        {
            if (!calendarGroups.Contains(request.GroupIds[i]))
            {
                violations.Add(new($"group_ids[{i}]", $"the reporting calendar has no due date for '{request.GroupIds[i]}' (it has: {(calendarGroups.Count == 0 ? "none" : string.Join(", ", calendarGroups))})"));
            }
        }
        var from = PeriodOf(request.PeriodFrom, "period_from", null, violations);
        var to = PeriodOf(request.PeriodTo, "period_to", null, violations);
        if (from is { } start && to is { } end && violations.Count == 0)
        {
            var rules = calendar.Rules.Where(r => request.GroupIds.Count == 0 || request.GroupIds.Contains(r.GroupId)).ToList();
            var cells = rules.Sum(r => Within(r.Granularity, start.Start, end.End).Count) * (request.Countries.Count == 0 ? states.Count : request.Countries.Count);
            if (start.Start > end.End)
            {
                violations.Add(new("period_to", $"period_to {end} ends on {end.End:yyyy-MM-dd}, before period_from {start} starts ({start.Start:yyyy-MM-dd})"));
            }
            else if (cells == 0)
            {
                violations.Add(new("period_from", $"the reporting calendar has no period between {start} and {end} ({string.Join(", ", rules.Select(r => $"{r.GroupId} by {Name(r.Granularity)}"))})"));
            }
            else if (cells > MaxTimelinessCells)
            {
                violations.Add(new("period_to", $"the range holds {cells:N0} State x group x period cells; at most {MaxTimelinessCells:N0}"));
            }
        }
        CheckAsOf(request.AsOfTime, violations);
        ThrowIfInvalid(violations);
        return (request.Countries.Count == 0 ? states : [.. request.Countries.Distinct()], [.. request.GroupIds.Distinct()], from!.Value, to!.Value);
    }

    /// <summary>Most cells one timeliness answer holds.</summary>
    public const int MaxTimelinessCells = 10_000;

    /// <summary>The periods of one granularity whose days all lie between <paramref name="first"/> and <paramref name="last"/>, in order.</summary>
    public static List<Period> Within(PeriodGranularity granularity, DateOnly first, DateOnly last)
    {
        var count = granularity switch { PeriodGranularity.Quarter => 4, PeriodGranularity.Month => 12, _ => 1 };
        var periods = new List<Period>();
        for (var year = first.Year; year <= last.Year; year++)
        {
            for (var number = 1; number <= count; number++)
            {
                var period = new Period(granularity, year, granularity == PeriodGranularity.Year ? 0 : number);
                if (period.Start >= first && period.End <= last)
                {
                    periods.Add(period);
                }
            }
        }
        return periods;
    }

    private IndicatorRule? Indicator(string code, string field, List<Violation> violations)
    {
        if (code.Length == 0)
        {
            violations.Add(new(field, "an indicator code is required"));
            return null;
        }
        if (catalogue.FindIndicator(code) is { } indicator)
        {
            return indicator;
        }
        violations.Add(new(field, $"unknown indicator '{code}' (catalogue {catalogue.Version}; CatalogService.GetCatalog lists the indicators)"));
        return null;
    }

    /// <summary>A required period; with <paramref name="indicator"/>, of a granularity the indicator accepts.</summary>
    private static Period? PeriodOf(string text, string field, IndicatorRule? indicator, List<Violation> violations)
    {
        if (text.Length == 0)
        {
            violations.Add(new(field, $"a period is required: {Period.Format}"));
            return null;
        }
        if (!Period.TryParse(text, out var period))
        {
            violations.Add(new(field, $"'{text}' is not {Period.Format}"));
            return null;
        }
        if (indicator is not null && !indicator.Granularities.Contains(period.Granularity))
        {
            violations.Add(new(field, $"{indicator.Indicator.Code} is not reported by {Name(period.Granularity)}; it accepts {string.Join(", ", indicator.Granularities.Select(Name))}"));
            return null;
        }
        return period;
    }

    /// <summary>A valid timestamp, not in the future: a figure "as of" a time still to come could change before then and not be reproducible.</summary>
    private void CheckAsOf(Timestamp? asOf, List<Violation> violations)
    {
        if (asOf is null)
        {
            return;
        }
        if (asOf.Nanos is < 0 or > 999_999_999 || asOf.Seconds < 0 || asOf.Seconds > 253_402_300_799)
        {
            violations.Add(new("as_of_time", "as_of_time must be a valid time after 1970-01-01T00:00:00Z"));
        }
        else if (asOf.ToDateTimeOffset() > clock.GetUtcNow())
        {
            violations.Add(new("as_of_time", $"as_of_time {asOf.ToDateTimeOffset():O} is in the future; leave it unset for now"));
        }
    }

    /// <summary>A lifecycle filter this schema defines (a number from a newer client is refused, not read as "every figure").</summary>
    private static void CheckLifecycle(LifecycleFilter lifecycle, List<Violation> violations)
    {
        if (!System.Enum.IsDefined(lifecycle))
        {
            violations.Add(new("lifecycle", $"{(int)lifecycle} is not a LifecycleFilter value (0 every figure, 1 approved, 2 accepted)"));
        }
    }

    private static void ThrowIfInvalid(List<Violation> violations)
    {
        if (violations.Count > 0)
        {
            var message = violations.Count == 1 ? $"invalid request: {violations[0]}" : $"invalid request: {violations[0]} (and {violations.Count - 1} more in the details)";
            throw RpcErrors.InvalidArgument(message, violations.Select(v => (v.Field, v.Description)));
        }
    }

    private static string Declared(IndicatorRule indicator) =>
        indicator.Indicator.DimensionIds.Count == 0 ? "none" : string.Join(", ", indicator.Indicator.DimensionIds);

    private static string Name(AggregationRule rule) => rule switch
    {
        AggregationRule.Sum => "AGGREGATION_RULE_SUM",
        AggregationRule.NotAggregable => "AGGREGATION_RULE_NOT_AGGREGABLE",
        _ => "AGGREGATION_RULE_UNSPECIFIED",
    };

    private static string Name(PeriodGranularity granularity) => granularity switch
    {
        PeriodGranularity.Year => "year",
        PeriodGranularity.Quarter => "quarter",
        PeriodGranularity.Month => "month",
        _ => "unspecified granularity",
    };
}
