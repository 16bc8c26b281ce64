using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// Regional totals as export rows (reference area MIRPS), the same for <c>mirps regional export</c>, <c>mirps regional
/// verify</c> and the web app's downloads: a partial total (a State missing) has no value and a note naming the missing
/// States and the partial sum; flags (provisional, estimated, lower bound, synthetic) name their States.
/// </summary>
public static class RegionalExport
{
    /// <summary>
    /// The rows of a regional export and their provenance, from <paramref name="answer"/>: the Secretariat's
    /// RegionalService, or (<c>regional verify</c>) the same computation over the States' verified logs. Without
    /// <paramref name="asOf"/>, every call after the first asks as of the first answer's time, so that all figures
    /// and the log heads named with them come from one cut of the Secretariat's store. Every figure counts the States
    /// <paramref name="lifecycle"/> counts (the provenance names it, the lifecycle log heads and the acceptances it read);
    /// with <paramref name="rates"/>, each period the rates' components are reported at ends with a row per protection rate.
    /// </summary>
    public static async Task<(List<ExportRow> Rows, ExportProvenance Provenance)> RowsAsync(
        Func<GetRegionalValueRequest, CancellationToken, Task<GetRegionalValueResponse>> answer, StandardCatalogue catalogue,
        IEnumerable<string> indicators, IEnumerable<string> periods, Breakdown breakdown, Timestamp? asOf, CancellationToken cancellationToken,
        LifecycleFilter lifecycle = LifecycleFilter.Unspecified,
        Func<GetProtectionRatesRequest, CancellationToken, Task<GetProtectionRatesResponse>>? rates = null)
    {
        var rows = new List<ExportRow>();
        var provenance = new ExportProvenance { Breakdown = breakdown, Lifecycle = lifecycle, Rates = rates is not null };
        provenance.IndicatorCodes.Add(indicators);
        provenance.Periods.Add(periods);
        if (asOf is not null)
        {
            provenance.AsOfTime = asOf;
        }
        foreach (var code in provenance.IndicatorCodes)
        {
            foreach (var period in provenance.Periods)
            {
                if (catalogue.FindIndicator(code) is { } known && Period.TryParse(period, out var parsed) && !known.Indicator.Granularities.Contains(parsed.Granularity))
                {
                    continue; // not reported at this granularity: nothing to export rather than an error for a mixed list
                }
                var request = new GetRegionalValueRequest { IndicatorCode = code, Period = period, Breakdown = breakdown, Lifecycle = lifecycle };
                if (provenance.AsOfTime is not null)
                {
                    request.AsOfTime = provenance.AsOfTime;
                }
                var response = await answer(request, cancellationToken);
                Named(provenance, response.AsOfTime, response.LogHeads, response.PendingChanges, response.LifecycleHeads);
                foreach (var cell in response.Cells.Where(c => c.ContributingCountries.Count > 0))
                {
                    Accepted(provenance, catalogue, code, period, cell.LifecycleStates);
                    var status = cell.ProvisionalCountries.Count > 0 ? ObservationStatus.Provisional
                        : cell.EstimatedCountries.Count > 0 ? ObservationStatus.Estimated : ObservationStatus.Normal;
                    var flags = Flags(cell.ProvisionalCountries, cell.EstimatedCountries, prefix: "; ", cell.LowerBoundCountries, cell.SyntheticCountries);
                    var note = cell.Complete
                        ? flags.TrimStart(';', ' ')
                        : $"partial: {cell.ContributingCountries.Count} of {cell.ContributingCountries.Count + cell.MissingCountries.Count} States reported (missing {string.Join(" ", cell.MissingCountries)}); " +
                          $"their sum is {cell.Value.ToString("0.###", CultureInfo.InvariantCulture)}{flags}";
                    rows.Add(new ExportRow(code, ExportRow.RegionalAggregate, period, cell.Sex, cell.Age, cell.CountryOfOrigin, cell.Complete ? cell.Value : null, status, note,
                        new Mirps.Log.AddedDimensions(cell.ApplicationType, cell.DecisionLevel, cell.ProcedureType, cell.CountBasis, cell.CountryOfDestination),
                        new Mirps.Log.ValueAttributes(cell.LowerBound, ConfidentialityStatus.Unspecified, cell.Synthetic)));
                }
            }
        }
        if (rates is not null)
        {
            foreach (var period in provenance.Periods)
            {
                await RateRowsAsync(rows, provenance, catalogue, period, rates, cancellationToken);
            }
        }
        return (rows, provenance);
    }

    /// <summary>
    /// The regional rows of a chart page's download (<c>/charts</c>), the same for the web app and <c>mirps regional verify</c>: the regional
    /// total of <paramref name="indicator"/> in each of <paramref name="periods"/> (as <see cref="RowsAsync"/> writes them), then the last
    /// period's cells by sex, by age and by country of origin, their totals left out (a breakdown the indicator does not declare is skipped,
    /// as the page draws no such chart). The provenance is that of the totals.
    /// </summary>
    public static async Task<(List<ExportRow> Rows, ExportProvenance Provenance)> ChartRowsAsync(
        Func<GetRegionalValueRequest, CancellationToken, Task<GetRegionalValueResponse>> answer, StandardCatalogue catalogue,
        string indicator, IReadOnlyList<string> periods, Timestamp? asOf, CancellationToken cancellationToken)
    {
        var (rows, provenance) = await RowsAsync(answer, catalogue, [indicator], periods, Breakdown.Unspecified, asOf, cancellationToken);
        if (periods.Count == 0)
        {
            return (rows, provenance);
        }
        static bool Total(string code) => code is StandardCatalogue.TotalCode or "";
        foreach (var breakdown in new[] { Breakdown.Sex, Breakdown.Age, Breakdown.CountryOfOrigin })
        {
            try
            {
                var (cells, _) = await RowsAsync(answer, catalogue, [indicator], [periods[^1]], breakdown, provenance.AsOfTime, cancellationToken);
                rows.AddRange(cells.Where(r => !Total(breakdown switch { Breakdown.Sex => r.Sex, Breakdown.Age => r.Age, _ => r.CountryOfOrigin })));
            }
            catch (Grpc.Core.RpcException e) when (e.StatusCode is Grpc.Core.StatusCode.InvalidArgument or Grpc.Core.StatusCode.FailedPrecondition)
            {
                // The indicator has no such dimension: the page draws no such chart.
            }
        }
        return (rows, provenance);
    }

    /// <summary>
    /// The two protection rates of <paramref name="period"/> as rows named by the catalogue's ratio ids (no dimensions): the rate when every State
    /// is included, else no value and a note naming the States left out and the partial rate; nothing when the components are not reported at the
    /// period's granularity.
    /// </summary>
    private static async Task RateRowsAsync(List<ExportRow> rows, ExportProvenance provenance, StandardCatalogue catalogue, string period,
        Func<GetProtectionRatesRequest, CancellationToken, Task<GetProtectionRatesResponse>> rates, CancellationToken cancellationToken)
    {
        var component = catalogue.FindRatio(StandardCatalogue.RecognitionRate)?.DenominatorIndicatorCodes.FirstOrDefault() is { } first ? catalogue.FindIndicator(first) : null;
        if (component is null || !Period.TryParse(period, out var parsed) || !component.Indicator.Granularities.Contains(parsed.Granularity))
        {
            return;
        }
        var request = new GetProtectionRatesRequest { Period = period, Lifecycle = provenance.Lifecycle };
        if (provenance.AsOfTime is not null)
        {
            request.AsOfTime = provenance.AsOfTime;
        }
        var response = await rates(request, cancellationToken);
        Named(provenance, response.AsOfTime, response.LogHeads, response.PendingChanges, response.LifecycleHeads);
        foreach (var (id, rate) in new[] { (StandardCatalogue.RecognitionRate, response.RecognitionRate), (StandardCatalogue.TotalProtectionRate, response.TotalProtectionRate) })
        {
            if (rate is null || rate.IncludedCountries.Count == 0)
            {
                continue;
            }
            Accepted(provenance, catalogue, component.Indicator.Code, period, rate.LifecycleStates);
            var status = rate.ProvisionalCountries.Count > 0 ? ObservationStatus.Provisional : rate.EstimatedCountries.Count > 0 ? ObservationStatus.Estimated : ObservationStatus.Normal;
            var flags = Flags(rate.ProvisionalCountries, rate.EstimatedCountries, prefix: "; ", rate.LowerBoundCountries, rate.SyntheticCountries);
            var of = $"{rate.Numerator.ToString("0.###", CultureInfo.InvariantCulture)} / {rate.Denominator.ToString("0.###", CultureInfo.InvariantCulture)}";
            var note = rate.Complete
                ? $"{of}{flags}"
                : $"partial: {rate.IncludedCountries.Count} of {rate.IncludedCountries.Count + rate.ExcludedCountries.Count} States included (excluded {string.Join(" ", rate.ExcludedCountries)}); " +
                  $"their rate is {(rate.HasRate ? rate.Rate.ToString("0.######", CultureInfo.InvariantCulture) : "none")} ({of}){flags}";
            rows.Add(new ExportRow(id, ExportRow.RegionalAggregate, period, "", "", "", rate.Complete && rate.HasRate ? rate.Rate : null, status, note, default,
                new Mirps.Log.ValueAttributes(rate.LowerBoundCountries.Count > 0, ConfidentialityStatus.Unspecified, rate.SyntheticCountries.Count > 0)));
        }
    }

    /// <summary>The time and heads of the first answer an export reads (every later one is asked as of that time, so it reads the same cut).</summary>
    private static void Named(ExportProvenance provenance, Timestamp asOf, IEnumerable<LogHead> heads, IEnumerable<PendingChanges> pending, IEnumerable<LifecycleLogHead> lifecycle)
    {
        if (provenance.AsOfTime is null)
        {
            provenance.AsOfTime = asOf;
        }
        else if (provenance.LogHeads.Count > 0 || provenance.PendingChanges.Count > 0)
        {
            return;
        }
        provenance.LogHeads.Add(heads);
        provenance.PendingChanges.Add(pending);
        provenance.LifecycleHeads.Add(lifecycle);
    }

    /// <summary>Under an accepted-only filter, the acceptances a figure of <paramref name="code"/>'s group and <paramref name="period"/> rests on, each once.</summary>
    private static void Accepted(ExportProvenance provenance, StandardCatalogue catalogue, string code, string period, IEnumerable<CountryLifecycle> states)
    {
        if (provenance.Lifecycle != LifecycleFilter.Accepted)
        {
            return;
        }
        var group = catalogue.FindIndicator(code)?.Indicator.GroupId ?? "";
        foreach (var state in states.Where(s => s.State == Mirps.Approval.V1.ApprovalState.Accepted))
        {
            var accepted = new AcceptedApproval { Country = state.Country, GroupId = group, Period = period, EntrySequence = state.EntrySequence };
            if (!provenance.Acceptances.Contains(accepted))
            {
                provenance.Acceptances.Add(accepted);
            }
        }
    }

    /// <summary>"provisional: CRI, MEX; estimated: MEX; lower bound: MEX; synthetic: BLZ" (empty when none), after <paramref name="prefix"/>.</summary>
    public static string Flags(IReadOnlyCollection<string> provisional, IReadOnlyCollection<string> estimated, string prefix = "",
        IReadOnlyCollection<string>? lowerBound = null, IReadOnlyCollection<string>? synthetic = null)
    {
        var text = "";
        foreach (var (name, states) in new[] { ("provisional", provisional), ("estimated", estimated), ("lower bound", lowerBound ?? []), ("synthetic", synthetic ?? []) })
        {
            if (states.Count > 0)
            {
                text += $"{(text.Length > 0 ? "; " : prefix)}{name}: {string.Join(", ", states)}";
            }
        }
        return text;
    }
}
