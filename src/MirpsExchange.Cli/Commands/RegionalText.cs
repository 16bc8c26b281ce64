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

    public static string Coverage(RegionalCell cell, IEnumerable<PendingChanges>? pending = null) =>
        Coverage(cell.Complete, cell.ContributingCountries, cell.MissingCountries, cell.ProvisionalCountries, cell.EstimatedCountries,
            cell.LowerBoundCountries, cell.SyntheticCountries, pending);

    public static string Coverage(ProtectionRate rate, IEnumerable<PendingChanges>? pending = null) =>
        Coverage(rate.Complete, rate.IncludedCountries, rate.ExcludedCountries, rate.ProvisionalCountries, rate.EstimatedCountries,
            rate.LowerBoundCountries, rate.SyntheticCountries, pending);

    /// <summary>
    /// "all 7 States", or "6 of 7 States; missing PAN", then "; provisional: ...", "; estimated: ...", "; lower bound: ..." and
    /// "; synthetic: ..." when any; a State whose log is read only up to a change pending (<paramref name="pending"/>) is named
    /// so: "missing BLZ (change 1 pending)", or, contributing, "; pending: CRI from change 3".
    /// </summary>
    public static string Coverage(bool complete, IReadOnlyCollection<string> included, IReadOnlyCollection<string> missing,
        IReadOnlyCollection<string> provisional, IReadOnlyCollection<string> estimated,
        IReadOnlyCollection<string>? lowerBound = null, IReadOnlyCollection<string>? synthetic = null, IEnumerable<PendingChanges>? pending = null)
    {
        var from = (pending ?? []).ToDictionary(p => p.Country, p => p.FromSequence, StringComparer.Ordinal);
        var states = included.Count + missing.Count;
        var text = complete ? $"all {states} States"
            : $"{included.Count} of {states} States; missing {string.Join(", ", missing.Select(s => from.TryGetValue(s, out var first) ? $"{s} (change {first} pending)" : s))}";
        var capped = included.Where(from.ContainsKey).ToList();
        if (capped.Count > 0)
        {
            text += $"; pending: {string.Join(", ", capped.Select(s => $"{s} from change {from[s]}"))}";
        }
        return text + Flags(provisional, estimated, prefix: "; ", lowerBound, synthetic);
    }

    /// <summary>
    /// Two lines per State an answer reads only up to an earlier head because a change of its log is pending (PendingChanges):
    /// which change and why, then up to where its log is read and how far it is held. None when nothing is pending.
    /// </summary>
    public static IEnumerable<string> Pending(IEnumerable<PendingChanges> pending) => pending.SelectMany(p => new[]
    {
        $"Pending: {p.Country}'s change {p.FromSequence} ({Why(p.Reason)})",
        p.ReadSequence > 0
            ? $"  {p.Country}'s figures are read up to its head at change {p.ReadSequence}, of {p.LatestSequence} held"
            : $"  none of {p.Country}'s log is read (held up to change {p.LatestSequence}): {p.Country} is counted as missing",
    });

    private static string Why(Withholding reason) => reason switch
    {
        Withholding.NotHeld => "NOT_HELD: the relay it came through did not hold it, or a draft held back; asked for again",
        Withholding.Embargoed => "EMBARGOED: its embargo has ended, its value not fetched yet",
        _ => "held only as a placeholder at the as-of time, received since",
    };

    /// <summary>"provisional: CRI, MEX; ..." (<see cref="MirpsExchange.Catalogue.Exports.RegionalExport.Flags"/>).</summary>
    public static string Flags(IReadOnlyCollection<string> provisional, IReadOnlyCollection<string> estimated, string prefix = "",
        IReadOnlyCollection<string>? lowerBound = null, IReadOnlyCollection<string>? synthetic = null) =>
        MirpsExchange.Catalogue.Exports.RegionalExport.Flags(provisional, estimated, prefix, lowerBound, synthetic);

    /// <summary>"48.6% (25,274 / 52,045)", "partial ..." when a State is left out, "-" when none reported every component.</summary>
    /// <summary>"; approved: PAN; accepted: CRI" naming the contributing States whose figures are past draft (empty when none are).</summary>
    public static string Lifecycle(IEnumerable<CountryLifecycle> states)
    {
        var text = "";
        foreach (var group in states.Where(s => s.State != Mirps.Approval.V1.ApprovalState.Draft).GroupBy(s => s.State).OrderBy(g => g.Key))
        {
            var name = group.Key switch
            {
                Mirps.Approval.V1.ApprovalState.Approved => "approved",
                Mirps.Approval.V1.ApprovalState.Accepted => "accepted",
                Mirps.Approval.V1.ApprovalState.ChangedSinceApproval => "changed since approval",
                Mirps.Approval.V1.ApprovalState.Rejected => "rejected",
                _ => group.Key.ToString().ToLowerInvariant(),
            };
            text += $"; {name}: {string.Join(" ", group.Select(s => s.Country))}";
        }
        return text;
    }

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
