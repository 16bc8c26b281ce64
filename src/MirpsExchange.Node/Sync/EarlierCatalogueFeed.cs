using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Sharing;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// The change feed for a reader whose node holds an earlier catalogue version that this node's catalogue maps
/// (<see cref="CatalogueUpgrade.Relation.ReaderEarlier"/>, for example a State still on 1.0.0 pulling from a node on
/// 2.0.0). A change is served as the earlier version expresses it: the dimensions that version lacks, held at their
/// defaults, are left empty. That is the same signed change (the change log's encoding leaves a dimension at its
/// default out), so the reader verifies it against the origin's heads. A change the earlier version cannot hold (a
/// new dimension not at its default, a new attribute set, an indicator or code it does not have) ends the feed
/// before it: <see cref="Refusal"/> names the change and why, and the service answers FAILED_PRECONDITION. Serving
/// such a change as a placeholder instead would leave a gap the reader could never fill in its version, and a
/// later figure of the same cell would read as the earlier one's revision: the reader is told to upgrade instead.
/// </summary>
public sealed class EarlierCatalogueFeed(StandardCatalogue served, string readerVersion)
{
    /// <summary>The reason the feed stops <see cref="Mapped"/> uses in its error, for machines.</summary>
    public const string Reason = "CHANGE_NOT_IN_READER_CATALOGUE";

    /// <summary>The feed's reason when the reader's catalogue version is neither mapped by this node's nor maps it: nothing is served.</summary>
    public const string CatalogueNotMapped = "CATALOGUE_NOT_MAPPED";

    private readonly StandardCatalogue _earlier = CatalogueUpgrade.Shipped(readerVersion);
    private readonly ObservationValidator _validator = new(CatalogueUpgrade.Shipped(readerVersion));

    /// <summary>Why the last enumeration of <see cref="Mapped"/> stopped before a change, or null when it served them all.</summary>
    public string? Refusal { get; private set; }

    /// <summary>The changes as the earlier version expresses them, up to the first it cannot hold (<see cref="Refusal"/> then says which).</summary>
    public async IAsyncEnumerable<StoredObservation> Mapped(IAsyncEnumerable<StoredObservation> changes,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var change in changes.WithCancellation(cancellationToken))
        {
            if (WhyNot(change) is { } why)
            {
                Refusal = $"{change.Origin}'s change {change.OriginSequence} cannot be held in catalogue {readerVersion}: {why}. " +
                    $"This node runs catalogue {served.Version}; upgrade the reading node to catalogue {served.Version} (Node:CatalogueVersion) to receive it";
                yield break;
            }
            yield return change;
        }
    }

    /// <summary>Maps <paramref name="change"/> in place to the earlier version, or says why it cannot be.</summary>
    private string? WhyNot(StoredObservation change)
    {
        if (ServedObservations.IsPlaceholder(change) || change.Observation is not { } o)
        {
            return null; // a placeholder carries no content: any version holds it
        }
        var added = AddedDimensions.Of(o);
        var mapped = added;
        for (var d = 0; d < AddedDimensions.Count; d++)
        {
            if (added[d].Length == 0 || _earlier.FindIndicator(o.IndicatorCode)?.Added[d] is not null)
            {
                continue;
            }
            if (!added.IsEmptyOrDefault(d))
            {
                return $"{o.IndicatorCode} {o.Period} has {AddedDimensions.DimensionIds[d]} = {added[d]}, a dimension catalogue {readerVersion} does not have for it (only its default {AddedDimensions.Defaults[d]} maps)";
            }
            mapped = mapped.With(d, ""); // at its default: left out, as the earlier version has no such dimension
        }
        if (o.LowerBound || o.Confidentiality != ConfidentialityStatus.Unspecified || o.Synthetic)
        {
            var attribute = o.LowerBound ? "LOWER_BOUND" : o.Confidentiality != ConfidentialityStatus.Unspecified ? $"CONF_STATUS {o.Confidentiality}" : "SYNTHETIC";
            return $"{o.IndicatorCode} {o.Period} carries the attribute {attribute}, which catalogue {readerVersion} does not have";
        }
        mapped.CopyTo(o);
        var content = change.Deleted ? ChangeContent.Deletion
            : change.Withholding.IsValueWithheld() ? ChangeContent.ValueWithheld
            : ChangeContent.Complete;
        var today = DateOnly.FromDateTime((change.RecordedTime?.ToDateTime() ?? DateTime.UtcNow).Date);
        return _validator.ValidateChange(o, content, o.Country, today) is [var first, ..] ? $"{first.Field}: {first.Description}" : null;
    }
}
