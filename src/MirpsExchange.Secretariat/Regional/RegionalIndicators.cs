using Google.Protobuf.WellKnownTypes;
using Mirps.Approval.V1;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Secretariat.Regional;

/// <summary>
/// The regional indicators as the schema presents them, from validated requests: sums with who
/// contributed, rates from summed components, changes against the previous period, completeness.
/// </summary>
public sealed class RegionalIndicators(RegionalAggregator aggregator, ReceiveStamps stamps, NodeDbContext db, StandardCatalogue catalogue, ReportingCalendar? calendar = null)
{
    /// <summary>The catalogue ratios behind the two rates of <see cref="GetRatesAsync"/>.</summary>
    public static readonly IReadOnlyList<string> Rates = [StandardCatalogue.RecognitionRate, StandardCatalogue.TotalProtectionRate];

    /// <summary>Most results one validation report lists (the counts cover them all).</summary>
    public const int MaxReportResults = 1_000;

    public async Task<GetRegionalValueResponse> GetValueAsync(IndicatorRule indicator, Period period, Breakdown breakdown, Timestamp? asOf, CancellationToken cancellationToken,
        LifecycleFilter lifecycle = LifecycleFilter.Unspecified)
    {
        var (time, micros) = Resolve(asOf);
        var cut = await aggregator.CutAsync(micros, cancellationToken);
        var group = Node.Approval.ApprovalCells.GroupOf(catalogue, indicator.Indicator.Code);
        var cycle = await CycleAsync([(group, period.ToString())], micros, lifecycle, cancellationToken);
        var sums = await SumCountedAsync(indicator, [period], CellFilter.Totals(indicator, DimensionOf(breakdown)), micros, cut, cycle, cancellationToken);
        var response = new GetRegionalValueResponse { IndicatorCode = indicator.Indicator.Code, Period = period.ToString(), Breakdown = breakdown, AsOfTime = time };
        response.Cells.AddRange(sums.Select(sum => ToCell(sum, cycle, group)));
        if (breakdown == Breakdown.Unspecified && response.Cells.Count == 0)
        {
            // No State reported the total: still one cell, so the answer says who is missing.
            response.Cells.Add(EmptyCell(CellFilter.Totals(indicator)));
        }
        response.LogHeads.AddRange(aggregator.HeadsOf(cut));
        response.PendingChanges.AddRange(aggregator.PendingOf(cut));
        response.LifecycleHeads.AddRange(cycle.Heads);
        return response;
    }

    public async Task<GetRegionalChangeResponse> GetChangeAsync(IndicatorRule indicator, Period period, Breakdown breakdown, Timestamp? asOf, CancellationToken cancellationToken,
        LifecycleFilter lifecycle = LifecycleFilter.Unspecified)
    {
        var (time, micros) = Resolve(asOf);
        var previous = period.Previous();
        var filter = CellFilter.Totals(indicator, DimensionOf(breakdown));
        var cut = await aggregator.CutAsync(micros, cancellationToken);
        var group = Node.Approval.ApprovalCells.GroupOf(catalogue, indicator.Indicator.Code);
        var cycle = await CycleAsync([(group, period.ToString()), (group, previous.ToString())], micros, lifecycle, cancellationToken);
        var sums = await SumCountedAsync(indicator, [period, previous], filter, micros, cut, cycle, cancellationToken);
        var byPeriod = sums.ToLookup(s => s.Period);
        var later = byPeriod[period.ToString()].ToDictionary(CellKey);
        var earlier = byPeriod[previous.ToString()].ToDictionary(CellKey);
        var keys = later.Keys.Union(earlier.Keys).OrderBy(k => k.Sex, StringComparer.Ordinal)
            .ThenBy(k => k.Age, StringComparer.Ordinal).ThenBy(k => k.CountryOfOrigin, StringComparer.Ordinal).ThenBy(k => k.Added, AddedOrder.Instance).ToList();
        if (keys.Count == 0 && breakdown == Breakdown.Unspecified)
        {
            keys.Add(CellKey(EmptySum(CellFilter.Totals(indicator))));
        }

        var response = new GetRegionalChangeResponse
        {
            IndicatorCode = indicator.Indicator.Code, Period = period.ToString(), PreviousPeriod = previous.ToString(), Breakdown = breakdown, AsOfTime = time,
        };
        foreach (var key in keys)
        {
            var current = later.TryGetValue(key, out var c) ? c : EmptySum(key);
            var before = earlier.TryGetValue(key, out var p) ? p : EmptySum(key);
            var change = new RegionalChange
            {
                Current = ToCell(current, cycle, group, period.ToString()),
                Previous = ToCell(before, cycle, group, previous.ToString()),
                AbsoluteChange = current.Value - before.Value,
                SameCountries = current.Reported == before.Reported,
            };
            if (before.Value != 0)
            {
                change.RelativeChange = (current.Value - before.Value) / before.Value;
            }
            response.Changes.Add(change);
        }
        response.LogHeads.AddRange(aggregator.HeadsOf(cut));
        response.PendingChanges.AddRange(aggregator.PendingOf(cut));
        response.LifecycleHeads.AddRange(cycle.Heads);
        return response;
    }

    /// <summary>
    /// Where each State's figures of <paramref name="cells"/> (group x period) stand in the reporting cycle as known at <paramref name="micros"/>
    /// (<see cref="Node.Approval.ApprovalCells.CellsAsync"/>), and which States <paramref name="filter"/> counts: the one reading of the
    /// cycle every regional answer filters by. With a filter, also the lifecycle log heads it read.
    /// </summary>
    private async Task<CycleCut> CycleAsync(IReadOnlyCollection<(string Group, string Period)> cells, long micros, LifecycleFilter filter, CancellationToken cancellationToken)
    {
        var states = await Node.Approval.ApprovalCells.CellsAsync(db, catalogue, aggregator.States, cells, micros, cancellationToken);
        var heads = filter == LifecycleFilter.Unspecified ? []
            : (await Node.Approval.ApprovalCells.LifecycleHeadsAsync(db, aggregator.States, micros, cancellationToken))
                .ConvertAll(h => new LifecycleLogHead { Origin = h.Origin, EntrySequence = h.EntrySequence, EntryHash = Google.Protobuf.ByteString.CopyFrom(h.EntryHash) });
        return new CycleCut(states, filter, heads);
    }

    /// <summary>
    /// The sums of <paramref name="periods"/> (as <see cref="RegionalAggregator.SumAsync"/>), each counting only the States <paramref name="cycle"/>
    /// counts for the indicator's group and that period: one read without a filter, one per period with one.
    /// </summary>
    private async Task<List<CellSum>> SumCountedAsync(IndicatorRule indicator, IReadOnlyList<Period> periods, CellFilter filter, long micros, RegionalCut cut, CycleCut cycle,
        CancellationToken cancellationToken)
    {
        var code = indicator.Indicator.Code;
        if (cycle.Filter == LifecycleFilter.Unspecified)
        {
            return await aggregator.SumAsync([code], [.. periods.Select(p => p.ToString())], filter, micros, cancellationToken, null, cut);
        }
        var group = Node.Approval.ApprovalCells.GroupOf(catalogue, code);
        var sums = new List<CellSum>();
        foreach (var period in periods)
        {
            var counted = aggregator.States.Where(s => cycle.Counts(s, group, period.ToString())).ToList();
            if (counted.Count > 0)
            {
                sums.AddRange(await aggregator.SumAsync([code], [period.ToString()], filter, micros, cancellationToken, counted, cut));
            }
        }
        return sums;
    }

    /// <summary>A sum as the schema presents it (<see cref="ToCell(CellSum)"/>), with where each contributing State's figures of <paramref name="group"/> stand.</summary>
    private RegionalCell ToCell(CellSum sum, CycleCut cycle, string group, string? period = null)
    {
        var cell = ToCell(sum);
        cell.LifecycleStates.AddRange(cell.ContributingCountries.Select(c => cycle.Of(c, group, period ?? sum.Period)));
        return cell;
    }

    /// <summary>Where States' figures stand in the reporting cycle, by State, group and period, as one answer read them, and which a filter counts.</summary>
    private sealed class CycleCut(Dictionary<(string Country, string Group, string Period), Mirps.Approval.V1.ApprovalCell> cells, LifecycleFilter filter,
        List<LifecycleLogHead> heads)
    {
        public LifecycleFilter Filter => filter;

        public IReadOnlyList<LifecycleLogHead> Heads => heads;

        public CountryLifecycle Of(string country, string group, string period) => cells.TryGetValue((country, group, period), out var cell)
            ? new CountryLifecycle { Country = country, State = cell.State, EntrySequence = cell.EntrySequence }
            : new CountryLifecycle { Country = country, State = ApprovalState.Draft };

        public bool Counts(string country, string group, string period) => filter switch
        {
            LifecycleFilter.Approved => Of(country, group, period).State is ApprovalState.Approved or ApprovalState.Accepted,
            LifecycleFilter.Accepted => Of(country, group, period).State == ApprovalState.Accepted,
            _ => true,
        };
    }

    /// <summary>
    /// Both rates as the catalogue defines them (UNHCR's refugee recognition rate and total protection rate,
    /// both over every substantive decision), from the States' totals of their components: per rate, only the
    /// States that reported every component it reads count, so numerator and denominator cover the same States.
    /// </summary>
    public async Task<GetProtectionRatesResponse> GetRatesAsync(StandardCatalogue catalogue, Period period, Timestamp? asOf, CancellationToken cancellationToken,
        LifecycleFilter lifecycle = LifecycleFilter.Unspecified)
    {
        var (time, micros) = Resolve(asOf);
        var ratios = Rates.Select(id => catalogue.FindRatio(id)
            ?? throw new InvalidOperationException($"The catalogue {catalogue.Version} does not define the ratio {id}.")).ToList();
        var components = ratios.SelectMany(r => r.DenominatorIndicatorCodes.Concat(r.NumeratorIndicatorCodes)).Distinct(StringComparer.Ordinal)
            .Select(code => catalogue.FindIndicator(code) ?? throw new InvalidOperationException($"The catalogue {catalogue.Version} lacks the rate component {code}.")).ToList();
        var cut = await aggregator.CutAsync(micros, cancellationToken);
        var groupOf = components.ToDictionary(c => c.Indicator.Code, c => Node.Approval.ApprovalCells.GroupOf(catalogue, c.Indicator.Code));
        var cycle = await CycleAsync([.. groupOf.Values.Distinct().Select(g => (g, period.ToString()))], micros, lifecycle, cancellationToken);
        // A component of a State the filter does not count is as if not reported: the State is then excluded from the rate.
        var values = (await aggregator.TotalsByCountryAsync(components, period.ToString(), micros, cancellationToken, cut))
            .Where(v => cycle.Counts(v.Country, groupOf[v.IndicatorCode], period.ToString()))
            .ToDictionary(v => (v.Country, v.IndicatorCode));
        var response = new GetProtectionRatesResponse
        {
            Period = period.ToString(),
            AsOfTime = time,
            RecognitionRate = Rate(ratios[0], values),
            TotalProtectionRate = Rate(ratios[1], values),
        };
        foreach (var (rate, ratio) in new[] { (response.RecognitionRate, ratios[0]), (response.TotalProtectionRate, ratios[1]) })
        {
            // The components of a rate are of one group (ASYLUM_PROCEDURES): its first denominator component's stands for them.
            var group = groupOf[ratio.DenominatorIndicatorCodes[0]];
            rate.LifecycleStates.AddRange(rate.IncludedCountries.Select(c => cycle.Of(c, group, period.ToString())));
        }
        response.LogHeads.AddRange(aggregator.HeadsOf(cut));
        response.PendingChanges.AddRange(aggregator.PendingOf(cut));
        response.LifecycleHeads.AddRange(cycle.Heads);
        return response;
    }

    public async Task<GetCompletenessResponse> GetCompletenessAsync(
        IReadOnlyList<string> indicators, IReadOnlyList<Period> periods, Timestamp? asOf, CancellationToken cancellationToken)
    {
        var (time, micros) = Resolve(asOf);
        var periodCodes = periods.Select(p => p.ToString()).ToList();
        var cut = await aggregator.CutAsync(micros, cancellationToken);
        var summaries = (await aggregator.ReportingAsync(indicators, periodCodes, micros, cancellationToken, cut))
            .ToDictionary(s => (s.IndicatorCode, s.Period, s.Country));
        var response = new GetCompletenessResponse { AsOfTime = time };
        var groups = indicators.ToDictionary(i => i, i => Node.Approval.ApprovalCells.GroupOf(catalogue, i));
        var lifecycle = await Node.Approval.ApprovalCells.StatesAsync(db, catalogue, aggregator.States,
            [.. groups.Values.Distinct().SelectMany(g => periodCodes.Select(p => (g, p)))], micros, cancellationToken);
        // When each cell was first approved: the later of the time the State signed (its own clock, which it can set back)
        // and the time this node received the entry; the same in GetTimeliness below.
        var firstApprovals = (await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(db.LifecycleEntries
            .Where(e => e.Action == LifecycleAction.Approve && e.ReceivedTime <= micros && periodCodes.Contains(e.Period))
            .GroupBy(e => new { e.Origin, e.GroupId, e.Period })
            .Select(g => new { g.Key.Origin, g.Key.GroupId, g.Key.Period, First = g.Min(e => e.ReceivedTime > e.RecordedTime ? e.ReceivedTime : e.RecordedTime) }), cancellationToken))
            .ToDictionary(x => (x.Origin, x.GroupId, x.Period), x => x.First);
        foreach (var indicator in indicators.Order(StringComparer.Ordinal))
        foreach (var period in periodCodes)
        foreach (var country in aggregator.States)
        {
            var cell = new CompletenessCell
            {
                IndicatorCode = indicator, Period = period, Country = country, State = ReportingState.Missing,
                ApprovalState = lifecycle.GetValueOrDefault((country, groups[indicator], period), ApprovalState.Draft),
            };
            if (calendar?.DueDate(country, groups[indicator], Period.Parse(period)) is { } due)
            {
                (cell.Timeliness, cell.DaysLate) = ReportingCalendar.Judge(due, firstApprovals.TryGetValue((country, groups[indicator], period), out var at) ? at : null, micros);
            }
            if (summaries.TryGetValue((indicator, period, country), out var summary))
            {
                cell.State = !summary.HasValue ? ReportingState.Missing : summary.Provisional ? ReportingState.Provisional : ReportingState.Reported;
                cell.LastChangeTime = StoreTime.ToTimestamp(summary.LastChangeTime);
            }
            response.Cells.Add(cell);
        }
        response.LogHeads.AddRange(aggregator.HeadsOf(cut));
        response.PendingChanges.AddRange(aggregator.PendingOf(cut));
        return response;
    }

    /// <summary>
    /// The catalogue's validation rules over each State's current values (as held now), every finding listed
    /// under its State and the period of its right side, within [<paramref name="from"/>, <paramref name="to"/>] when given.
    /// </summary>
    public async Task<GetValidationReportResponse> GetValidationReportAsync(MirpsExchange.Node.Rules.StoredRuleCells rules, IReadOnlyList<string> countries, Period? from, Period? to, CancellationToken cancellationToken)
    {
        var (_, micros) = Resolve(null);
        var findings = new List<MirpsExchange.Catalogue.Validation.Rules.RuleFinding>();
        foreach (var country in aggregator.States.Where(s => countries.Count == 0 || countries.Contains(s)))
        {
            var cells = await aggregator.CurrentCellsAsync(rules, country, micros, cancellationToken);
            findings.AddRange(rules.Rules.Evaluate(cells, requestOnly: false)
                .Where(f => (from is not { } start || f.Period.Start >= start.Start) && (to is not { } end || f.Period.End <= end.End)));
        }
        // By State in the catalogue's order, then period, rule and indicator.
        var order = aggregator.States.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i);
        findings.Sort((x, y) => order[x.Country] != order[y.Country] ? order[x.Country].CompareTo(order[y.Country]) : CompareWithinState(x, y));
        var errors = findings.Count(f => f.IsError);
        var response = new GetValidationReportResponse { ErrorCount = errors, WarningCount = findings.Count - errors };
        response.Results.AddRange(findings.Take(MaxReportResults).Select(f => f.ToResult()));
        response.LogHeads.AddRange(await aggregator.HeadsAsync(micros, cancellationToken));
        return response;

        static int CompareWithinState(MirpsExchange.Catalogue.Validation.Rules.RuleFinding x, MirpsExchange.Catalogue.Validation.Rules.RuleFinding y)
        {
            var c = x.Period.Start.CompareTo(y.Period.Start);
            if (c == 0) c = x.Period.Granularity.CompareTo(y.Period.Granularity);
            return c != 0 ? c : MirpsExchange.Catalogue.Validation.Rules.RuleFinding.Compare(x, y);
        }
    }

    /// <summary>A sum as the schema presents it: the value with who contributed, who is missing, and the flags.</summary>
    public RegionalCell ToCell(CellSum sum)
    {
        var cell = new RegionalCell
        {
            Sex = sum.Sex,
            Age = sum.Age,
            CountryOfOrigin = sum.CountryOfOrigin,
            Value = sum.Value,
            Complete = sum.Reported == aggregator.AllStates,
            ApplicationType = sum.Added.ApplicationType,
            DecisionLevel = sum.Added.DecisionLevel,
            ProcedureType = sum.Added.ProcedureType,
            CountBasis = sum.Added.CountBasis,
            CountryOfDestination = sum.Added.CountryOfDestination,
            LowerBound = sum.LowerBound != 0,
            Synthetic = sum.Synthetic != 0,
        };
        cell.ContributingCountries.AddRange(aggregator.StatesOf(sum.Reported));
        cell.MissingCountries.AddRange(aggregator.StatesOf(aggregator.AllStates & ~sum.Reported));
        cell.ProvisionalCountries.AddRange(aggregator.StatesOf(sum.Provisional));
        cell.EstimatedCountries.AddRange(aggregator.StatesOf(sum.Estimated));
        cell.LowerBoundCountries.AddRange(aggregator.StatesOf(sum.LowerBound));
        cell.SyntheticCountries.AddRange(aggregator.StatesOf(sum.Synthetic));
        return cell;
    }

    /// <summary>The catalogue dimension a breakdown opens (null: none).</summary>
    public static string? DimensionOf(Breakdown breakdown) => breakdown switch
    {
        Breakdown.Sex => StandardCatalogue.SexDimension,
        Breakdown.Age => StandardCatalogue.AgeDimension,
        Breakdown.CountryOfOrigin => StandardCatalogue.CountryOfOriginDimension,
        Breakdown.ApplicationType or Breakdown.DecisionLevel or Breakdown.ProcedureType or Breakdown.CountBasis or Breakdown.CountryOfDestination =>
            Mirps.Log.AddedDimensions.DimensionIds[(int)breakdown - (int)Breakdown.ApplicationType],
        _ => null,
    };

    private ProtectionRate Rate(Ratio ratio, Dictionary<(string Country, string IndicatorCode), CountryValue> values)
    {
        var result = RatioOfSums.Compute(ratio, aggregator.States, (country, code) => values.TryGetValue((country, code), out var v) ? v.Value : null);
        var rate = new ProtectionRate { Numerator = result.Numerator, Denominator = result.Denominator, Complete = result.ExcludedStates.Count == 0 };
        if (result.Value is { } value)
        {
            rate.Rate = value;
        }
        rate.IncludedCountries.AddRange(result.IncludedStates);
        rate.ExcludedCountries.AddRange(result.ExcludedStates);
        foreach (var country in result.IncludedStates)
        {
            var components = ratio.DenominatorIndicatorCodes.Select(code => values[(country, code)]).ToList();
            var statuses = components.Select(value => value.Status).ToList();
            if (statuses.Contains(ObservationStatus.Provisional))
            {
                rate.ProvisionalCountries.Add(country);
            }
            if (statuses.Contains(ObservationStatus.Estimated))
            {
                rate.EstimatedCountries.Add(country);
            }
            if (components.Any(value => value.LowerBound))
            {
                rate.LowerBoundCountries.Add(country);
            }
            if (components.Any(value => value.Synthetic))
            {
                rate.SyntheticCountries.Add(country);
            }
        }
        return rate;
    }

    private sealed class AddedOrder : IComparer<Mirps.Log.AddedDimensions>
    {
        public static readonly AddedOrder Instance = new();

        public int Compare(Mirps.Log.AddedDimensions x, Mirps.Log.AddedDimensions y) => x.CompareTo(y);
    }

    private RegionalCell EmptyCell(CellFilter totals) => ToCell(EmptySum(totals));

    private static CellSum EmptySum(CellFilter totals) =>
        new("", "", totals.Sex ?? "", totals.Age ?? "", totals.CountryOfOrigin ?? "", 0, 0, 0, 0, totals.Added ?? default);

    private static CellSum EmptySum((string Sex, string Age, string CountryOfOrigin, Mirps.Log.AddedDimensions Added) key) =>
        new("", "", key.Sex, key.Age, key.CountryOfOrigin, 0, 0, 0, 0, key.Added);

    private static (string Sex, string Age, string CountryOfOrigin, Mirps.Log.AddedDimensions Added) CellKey(CellSum sum) => (sum.Sex, sum.Age, sum.CountryOfOrigin, sum.Added);

    /// <summary>
    /// The time figures are computed as of: the request's, or now. "Now" reads what was received by the
    /// time of the call, as an as-of does (the same scan of the key index), and answers that time: the
    /// figures and the log heads named with them then come from one cut of the store even while changes
    /// arrive, and asking again with that time reproduces both.
    /// </summary>
    /// <summary>
    /// Per State and every group x period of the calendar within [<paramref name="from"/>, <paramref name="to"/>]: on time, late,
    /// overdue or not due, judged from the time each State's first approval of the cell was recorded, as known at <paramref name="asOf"/>.
    /// </summary>
    public async Task<GetTimelinessResponse> GetTimelinessAsync(IReadOnlyList<string> countries, IReadOnlyList<string> groups, Period from, Period to, Timestamp? asOf,
        CancellationToken cancellationToken)
    {
        var (time, micros) = Resolve(asOf);
        var reporting = calendar ?? throw new InvalidOperationException("no reporting calendar");
        var cells = reporting.Rules.Where(r => groups.Count == 0 || groups.Contains(r.GroupId))
            .SelectMany(r => RegionalRequests.Within(r.Granularity, from.Start, to.End).Select(p => (r.GroupId, Period: p))).ToList();
        var first = (await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(db.LifecycleEntries
            .Where(e => countries.Contains(e.Origin) && e.Action == LifecycleAction.Approve && e.ReceivedTime <= micros)
            .GroupBy(e => new { e.Origin, e.GroupId, e.Period })
            .Select(g => new { g.Key.Origin, g.Key.GroupId, g.Key.Period, First = g.Min(e => e.ReceivedTime > e.RecordedTime ? e.ReceivedTime : e.RecordedTime) }), cancellationToken))
            .ToDictionary(x => (x.Origin, x.GroupId, x.Period), x => x.First);
        var states = await Node.Approval.ApprovalCells.StatesAsync(db, catalogue, countries, [.. cells.Select(c => (c.GroupId, c.Period.ToString()))], micros, cancellationToken);
        var response = new GetTimelinessResponse { AsOfTime = time };
        foreach (var country in countries)
        {
            var summary = new StateTimeliness { Country = country };
            foreach (var (group, period) in cells)
            {
                var due = reporting.DueDate(country, group, period)!.Value;
                long? approved = first.TryGetValue((country, group, period.ToString()), out var at) ? at : null;
                var (timeliness, daysLate) = ReportingCalendar.Judge(due, approved, micros);
                var cell = new TimelinessCell
                {
                    Country = country, GroupId = group, Period = period.ToString(), DueDate = due.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                    Timeliness = timeliness, DaysLate = daysLate, ApprovalState = states.GetValueOrDefault((country, group, period.ToString()), ApprovalState.Draft),
                };
                if (approved is { } recorded)
                {
                    cell.ApproveTime = StoreTime.ToTimestamp(recorded);
                }
                response.Cells.Add(cell);
                summary.OnTimeCount += timeliness == Timeliness.OnTime ? 1 : 0;
                summary.LateCount += timeliness == Timeliness.Late ? 1 : 0;
                summary.OverdueCount += timeliness == Timeliness.Overdue ? 1 : 0;
            }
            summary.DueCount = summary.OnTimeCount + summary.LateCount + summary.OverdueCount;
            if (summary.DueCount > 0)
            {
                summary.Rate = (double)summary.OnTimeCount / summary.DueCount;
            }
            response.States.Add(summary);
        }
        return response;
    }

    private (Timestamp Time, long Micros) Resolve(Timestamp? asOf)
    {
        // Unset: now, as far as it is settled: before any write in flight, whose received time is already taken
        // (ReceiveStamps), so the figures and heads of this answer are those asking again with its time gives.
        var time = asOf ?? StoreTime.ToTimestamp(stamps.Settled());
        return (time, StoreTime.ToMicros(time.ToDateTimeOffset()));
    }
}
