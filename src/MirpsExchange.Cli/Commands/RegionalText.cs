using System.Globalization;
using Mirps.Observation.V1;
using Mirps.Regional.V1;

namespace MirpsExchange.Cli.Commands;

/// <summary>How the CLI writes regional figures for people, the same in <c>devnet</c> and <c>regional</c>.</summary>
internal static class RegionalText
{
    /// <summary>A figure with its status as one letter: "140,000 e" (estimated), "p" provisional, "c" confidential.</summary>
    public static string Figure(double value, ObservationStatus status) =>
        value.ToString("#,0.#", CultureInfo.InvariantCulture) + status switch
        {
            ObservationStatus.Estimated => " e",
            ObservationStatus.Provisional => " p",
            ObservationStatus.Confidential => " c",
            _ => "",
        };

    /// <summary>
    /// A regional value, "partial" when a State is missing, "≥" when a contributor's value is a lower bound (so the sum is
    /// one), flagged provisional or estimated when any contributor's is, and "synthetic" when any contributor's value is an
    /// illustrative figure; "-" when nobody reported.
    /// </summary>
    public static string Value(RegionalCell? cell) => cell is null || cell.ContributingCountries.Count == 0
        ? "-"
        : (cell.Complete ? "" : "partial ") + (cell.LowerBound ? "≥ " : "") + Figure(cell.Value, cell.ProvisionalCountries.Count > 0 ? ObservationStatus.Provisional
            : cell.EstimatedCountries.Count > 0 ? ObservationStatus.Estimated : ObservationStatus.Normal) + (cell.Synthetic ? " synthetic" : "");

    public static string Coverage(RegionalCell cell) =>
        Coverage(cell.Complete, cell.ContributingCountries, cell.MissingCountries, cell.ProvisionalCountries, cell.EstimatedCountries,
            cell.LowerBoundCountries, cell.SyntheticCountries);

    public static string Coverage(ProtectionRate rate) =>
        Coverage(rate.Complete, rate.IncludedCountries, rate.ExcludedCountries, rate.ProvisionalCountries, rate.EstimatedCountries,
            rate.LowerBoundCountries, rate.SyntheticCountries);

    /// <summary>"all 7 States", or "6 of 7 States; missing PAN", then "; provisional: ...", "; estimated: ...", "; lower bound: ..." and "; synthetic: ..." when any.</summary>
    public static string Coverage(bool complete, IReadOnlyCollection<string> included, IReadOnlyCollection<string> missing,
        IReadOnlyCollection<string> provisional, IReadOnlyCollection<string> estimated,
        IReadOnlyCollection<string>? lowerBound = null, IReadOnlyCollection<string>? synthetic = null)
    {
        var states = included.Count + missing.Count;
        var text = complete ? $"all {states} States" : $"{included.Count} of {states} States; missing {string.Join(", ", missing)}";
        return text + Flags(provisional, estimated, prefix: "; ", lowerBound, synthetic);
    }

    /// <summary>"provisional: CRI, MEX; ..." (<see cref="MirpsExchange.Catalogue.Exports.RegionalExport.Flags"/>).</summary>
    public static string Flags(IReadOnlyCollection<string> provisional, IReadOnlyCollection<string> estimated, string prefix = "",
        IReadOnlyCollection<string>? lowerBound = null, IReadOnlyCollection<string>? synthetic = null) =>
        MirpsExchange.Catalogue.Exports.RegionalExport.Flags(provisional, estimated, prefix, lowerBound, synthetic);

    /// <summary>"48.6% (25,274 / 52,045)", "partial ..." when a State is left out, "-" when none reported every component.</summary>
    public static string Rate(ProtectionRate rate) => rate.HasRate
        ? $"{(rate.Complete ? "" : "partial ")}{rate.Rate.ToString("0.0%", CultureInfo.InvariantCulture)} " +
          $"({rate.Numerator.ToString("#,0", CultureInfo.InvariantCulture)} / {rate.Denominator.ToString("#,0", CultureInfo.InvariantCulture)})"
        : "-";

    /// <summary>A completeness cell: ✓ reported, p provisional, - missing.</summary>
    public static string Mark(ReportingState state) => state switch
    {
        ReportingState.Reported => "✓",
        ReportingState.Provisional => "p",
        _ => "-",
    };

    /// <summary>
    /// Which catalogue version each State reported in, grouped: "Catalogue versions reported in: 1.0.0 BLZ CRI; 2.0.0 GTM HND"
    /// (a State whose node the Secretariat has not seen directly: "not seen"). States upgrade on different days.
    /// </summary>
    public static string Catalogues(IEnumerable<Mirps.Regional.V1.ReportingCatalog> catalogs)
    {
        var listed = string.Join("; ", catalogs
            .GroupBy(c => c.CatalogVersion.Length == 0 ? "not seen" : c.CatalogVersion)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key} {string.Join(" ", g.Select(c => c.Country).Order(StringComparer.Ordinal))}"));
        return $"Catalogue versions reported in: {(listed.Length == 0 ? "(no State)" : listed)}";
    }
}
