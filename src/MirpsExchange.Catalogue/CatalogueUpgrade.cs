using Mirps.Catalog.V1;

namespace MirpsExchange.Catalogue;

/// <summary>
/// How nodes of two catalogue versions sync while States upgrade on different days. A catalogue declares the
/// earlier versions it maps (<see cref="Catalog.UpgradesFrom"/>, data in Data/catalogue-v2.json): an observation
/// of such a version means the same in the later one, codes unchanged (or renamed as listed), each dimension the
/// earlier version lacks at its default. Because the change log leaves a dimension at its default out of its
/// encoding, an earlier version's signed change verifies unchanged in a later node, and a later node's change
/// whose new dimensions and attributes are all at their defaults is the same signed change in the earlier version.
/// </summary>
public static class CatalogueUpgrade
{
    /// <summary>How a reader's catalogue version stands to the node that serves it.</summary>
    public enum Relation
    {
        /// <summary>The same catalogue: everything is served as held.</summary>
        Same,

        /// <summary>The reader's version is one this node's catalogue maps from: served as the earlier version expresses it.</summary>
        ReaderEarlier,

        /// <summary>The reader's catalogue maps from this node's: served as held (the reader maps what it receives).</summary>
        ReaderLater,

        /// <summary>Neither maps the other: nothing is served.</summary>
        Unrelated,
    }

    /// <summary>The declaration of <paramref name="later"/> that maps <paramref name="earlierVersion"/>, if it has one.</summary>
    public static CatalogUpgrade? Declared(StandardCatalogue later, string earlierVersion) =>
        later.Catalog.UpgradesFrom.FirstOrDefault(u => u.FromVersion == earlierVersion);

    /// <summary>
    /// How a node on <paramref name="mine"/> stands to a peer on <paramref name="version"/> with <paramref name="digest"/>
    /// (null: not checked, the peer names its version only). Across versions both must be shipped catalogues (the
    /// digest the release ships), and the later one must map the earlier without renames.
    /// </summary>
    public static Relation RelationTo(StandardCatalogue mine, string version, string? digest)
    {
        if (version == mine.Version && (digest is null || digest == mine.Digest))
        {
            return Relation.Same;
        }
        if (!IsShipped(mine) || !StandardCatalogue.ShippedVersions.ContainsKey(version))
        {
            return Relation.Unrelated;
        }
        var theirs = Shipped(version);
        if (digest is not null && digest != theirs.Digest)
        {
            return Relation.Unrelated;
        }
        if (Declared(mine, version) is { RenamedCodes.Count: 0 })
        {
            return Relation.ReaderEarlier;
        }
        return Declared(theirs, mine.Version) is { RenamedCodes.Count: 0 } ? Relation.ReaderLater : Relation.Unrelated;
    }

    /// <summary>Whether <paramref name="catalogue"/> is the one this release ships under its version (not a file of its own).</summary>
    public static bool IsShipped(StandardCatalogue catalogue) =>
        StandardCatalogue.ShippedVersions.ContainsKey(catalogue.Version) && Shipped(catalogue.Version).Digest == catalogue.Digest;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, StandardCatalogue> ShippedCatalogues = new(StringComparer.Ordinal);

    /// <summary>A shipped catalogue version (<see cref="StandardCatalogue.ShippedVersions"/>), loaded once.</summary>
    public static StandardCatalogue Shipped(string version) => ShippedCatalogues.GetOrAdd(version, StandardCatalogue.LoadVersion);

    /// <summary>
    /// What keeps <paramref name="later"/>'s declared mapping of <paramref name="earlier"/> from covering every
    /// observation <paramref name="earlier"/> accepts: an indicator, dimension, code or period granularity it lost,
    /// a dimension added without a default. Empty when every earlier series maps.
    /// </summary>
    public static IReadOnlyList<string> Problems(StandardCatalogue earlier, StandardCatalogue later)
    {
        var problems = new List<string>();
        if (Declared(later, earlier.Version) is not { } upgrade)
        {
            problems.Add($"catalogue {later.Version} declares no mapping from {earlier.Version} (upgrades_from)");
            return problems;
        }
        string Renamed(string codelist, string code) =>
            upgrade.RenamedCodes.FirstOrDefault(r => r.CodelistId == codelist && r.FromCode == code)?.ToCode ?? code;
        foreach (var codelist in earlier.Catalog.Codelists)
        {
            var codes = later.Catalog.Codelists.FirstOrDefault(c => c.Id == codelist.Id)?.Codes.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
            if (codes is null)
            {
                problems.Add($"codelist {codelist.Id} of {earlier.Version} is missing from {later.Version}");
                continue;
            }
            problems.AddRange(codelist.Codes.Where(c => !codes.Contains(Renamed(codelist.Id, c.Id)))
                .Select(c => $"code {codelist.Id}/{c.Id} of {earlier.Version} is missing from {later.Version}"));
        }
        foreach (var indicator in earlier.Catalog.Indicators)
        {
            var code = Renamed("", indicator.Code);
            if (later.FindIndicator(code) is not { } mapped)
            {
                problems.Add($"indicator {indicator.Code} of {earlier.Version} is missing from {later.Version}");
                continue;
            }
            problems.AddRange(indicator.DimensionIds.Where(d => !mapped.Indicator.DimensionIds.Contains(d))
                .Select(d => $"indicator {indicator.Code}: dimension {d} of {earlier.Version} is missing from {later.Version}"));
            problems.AddRange(mapped.Indicator.DimensionIds.Where(d => !indicator.DimensionIds.Contains(d) && later.FindDimension(d)?.DefaultCode is null)
                .Select(d => $"indicator {indicator.Code}: dimension {d}, new in {later.Version}, has no default for {earlier.Version}'s observations"));
            problems.AddRange(indicator.Granularities.Where(g => !mapped.Indicator.Granularities.Contains(g))
                .Select(g => $"indicator {indicator.Code}: {g} periods of {earlier.Version} are not accepted in {later.Version}"));
        }
        return problems;
    }
}
