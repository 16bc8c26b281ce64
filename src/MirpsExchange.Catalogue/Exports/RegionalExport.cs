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
    /// and the log heads named with them come from one cut of the Secretariat's store.
    /// </summary>
    public static async Task<(List<ExportRow> Rows, ExportProvenance Provenance)> RowsAsync(
        Func<GetRegionalValueRequest, CancellationToken, Task<GetRegionalValueResponse>> answer, StandardCatalogue catalogue,
        IEnumerable<string> indicators, IEnumerable<string> periods, Breakdown breakdown, Timestamp? asOf, CancellationToken cancellationToken)
    {
        var rows = new List<ExportRow>();
        var provenance = new ExportProvenance { Breakdown = breakdown };
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
                var request = new GetRegionalValueRequest { IndicatorCode = code, Period = period, Breakdown = breakdown };
                if (provenance.AsOfTime is not null)
                {
                    request.AsOfTime = provenance.AsOfTime;
                }
                var response = await answer(request, cancellationToken);
                if (provenance.AsOfTime is null)
                {
                    provenance.AsOfTime = response.AsOfTime;
                    provenance.LogHeads.Add(response.LogHeads);
                    provenance.PendingChanges.Add(response.PendingChanges);
                }
                else if (provenance.LogHeads.Count == 0 && provenance.PendingChanges.Count == 0)
                {
                    provenance.LogHeads.Add(response.LogHeads);
                    provenance.PendingChanges.Add(response.PendingChanges);
                }
                foreach (var cell in response.Cells.Where(c => c.ContributingCountries.Count > 0))
                {
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
        return (rows, provenance);
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
