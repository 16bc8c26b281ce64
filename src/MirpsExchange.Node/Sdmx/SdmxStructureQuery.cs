using MirpsExchange.Catalogue.Exports;
using Parts = MirpsExchange.Catalogue.Exports.SdmxStructure.Parts;

namespace MirpsExchange.Node.Sdmx;

/// <summary>
/// A structure query, <c>/{resource}/{agencyID}/{resourceID}/{version}?references=&amp;detail=</c> (SDMX REST 2.1), over the one
/// dataflow, data structure, concept scheme and code lists of <see cref="SdmxStructure"/>: <c>all</c> (or nothing) matches any
/// agency, id or version, <c>latest</c> the catalogue's version, <c>+</c> separates alternatives. The other structural resources of
/// the standard are 501; nothing matching is 404.
/// </summary>
public static class SdmxStructureQuery
{
    /// <summary>The resources this service holds, and those the standard defines that it does not implement.</summary>
    public static readonly IReadOnlySet<string> Served = new HashSet<string>(StringComparer.Ordinal) { "dataflow", "datastructure", "codelist", "conceptscheme", "structure" };

    public static readonly IReadOnlySet<string> NotServed = new HashSet<string>(StringComparer.Ordinal)
    {
        "metadatastructure", "metadataflow", "categoryscheme", "categorisation", "hierarchicalcodelist", "organisationscheme",
        "agencyscheme", "dataproviderscheme", "dataconsumerscheme", "organisationunitscheme", "contentconstraint", "actualconstraint",
        "allowedconstraint", "attachmentconstraint", "structureset", "process", "reportingtaxonomy", "provisionagreement",
        "availableconstraint", "schema", "metadata",
    };

    private static readonly string[] ReferenceValues = ["none", "parents", "parentsandsiblings", "children", "descendants", "all", "dataflow", "datastructure", "codelist", "conceptscheme"];
    private static readonly string[] DetailValues = ["full", "allstubs", "referencestubs", "referencepartial", "allcompletestubs", "referencecompletestubs"];

    /// <summary>The parts of the message answering the query, and which code lists (null: all). Throws <see cref="SdmxError"/>.</summary>
    public static (Parts Parts, IReadOnlySet<string>? Codelists) Resolve(SdmxStructure structure, string resource, string? agency, string? id, string? version, IQueryCollection query)
    {
        if (NotServed.Contains(resource))
        {
            throw SdmxError.NotImplemented($"the {resource} resource is not implemented here; this service serves dataflow, datastructure, codelist, conceptscheme and data");
        }
        if (!Served.Contains(resource))
        {
            throw SdmxError.Syntax($"'{resource}' is not a resource of the SDMX RESTful API");
        }
        var references = One(query, "references", ReferenceValues) ?? "none";
        One(query, "detail", DetailValues); // every answer is complete ("full"): a stub would say less than the full artefact, never more
        if (!Matches(agency, SdmxStructure.Agency) || !Matches(version, structure.Version, latest: true))
        {
            throw SdmxError.NoResults($"no {resource} {agency ?? "all"}/{id ?? "all"}/{version ?? "latest"} here: this service holds agency {SdmxStructure.Agency}, version {structure.Version}");
        }
        var (own, ownIds) = resource switch
        {
            "dataflow" => (Parts.Dataflow, (IReadOnlyList<string>)[SdmxStructure.DataflowId]),
            "datastructure" => (Parts.DataStructure, [SdmxStructure.DataStructureId]),
            "conceptscheme" => (Parts.ConceptScheme, [SdmxStructure.ConceptSchemeId]),
            "codelist" => (Parts.Codelists, [.. structure.Codelists.Select(c => c.Id)]),
            _ => (Parts.Dataflow | Parts.DataStructure | Parts.ConceptScheme | Parts.Codelists, [SdmxStructure.DataflowId, SdmxStructure.DataStructureId, SdmxStructure.ConceptSchemeId, .. structure.Codelists.Select(c => c.Id)]),
        };
        var matched = ownIds.Where(i => Matches(id, i)).ToHashSet(StringComparer.Ordinal);
        if (matched.Count == 0)
        {
            throw SdmxError.NoResults($"no {resource} with id '{id}' here (agency {SdmxStructure.Agency}, version {structure.Version}): {string.Join(", ", ownIds)}");
        }
        if (resource == "structure")
        {
            return (own, null);
        }
        // Dataflow -> data structure -> concept scheme and code lists: the references of each resource, by the standard's names.
        var parents = resource switch
        {
            "datastructure" => Parts.Dataflow,
            "codelist" or "conceptscheme" => Parts.DataStructure,
            _ => Parts.None,
        };
        var children = resource switch
        {
            "dataflow" => Parts.DataStructure,
            "datastructure" => Parts.Codelists | Parts.ConceptScheme,
            _ => Parts.None,
        };
        var descendants = resource == "dataflow" ? Parts.DataStructure | Parts.Codelists | Parts.ConceptScheme : children;
        var added = references switch
        {
            "parents" => parents,
            "parentsandsiblings" => parents == Parts.None ? Parts.None : parents | (resource == "datastructure" ? Parts.None : Parts.Codelists | Parts.ConceptScheme),
            "children" => children,
            "descendants" => descendants,
            "all" => parents | descendants | (resource is "codelist" or "conceptscheme" ? Parts.Dataflow | Parts.Codelists | Parts.ConceptScheme : Parts.None)
                | (resource == "datastructure" ? Parts.Dataflow : Parts.None),
            "dataflow" => Parts.Dataflow,
            "datastructure" => Parts.DataStructure,
            "codelist" => Parts.Codelists,
            "conceptscheme" => Parts.ConceptScheme,
            _ => Parts.None,
        };
        // The code lists: those the query names, plus every one when a reference brings them in.
        IReadOnlySet<string>? codelists = resource == "codelist" && !added.HasFlag(Parts.Codelists) ? matched : null;
        return (own | added, codelists);
    }

    private static bool Matches(string? asked, string value, bool latest = false) =>
        asked is null || asked.Length == 0 || asked == "all" || (latest && asked == "latest")
        || asked.Split('+').Contains(value, StringComparer.Ordinal);

    /// <summary>The value of a query parameter that must be one of <paramref name="allowed"/>; null when absent; 400 otherwise.</summary>
    internal static string? One(IQueryCollection query, string name, string[] allowed)
    {
        if (!query.TryGetValue(name, out var values))
        {
            return null;
        }
        var value = values.ToString();
        return allowed.Contains(value, StringComparer.Ordinal) ? value
            : throw SdmxError.Syntax($"{name} must be one of {string.Join(", ", allowed)}; got '{value}'");
    }
}
