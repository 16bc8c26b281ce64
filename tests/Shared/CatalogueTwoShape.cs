using Google.Protobuf;
using Mirps.Catalog.V1;
using Mirps.Log;
using MirpsExchange.Catalogue;

namespace MirpsExchange.TestShared;

/// <summary>
/// A catalogue for tests with catalogue 2.0's dimensions as agreed (their codelists and defaults), declared by a
/// few v1 indicators: the standard v1 catalogue plus APPLICATION_TYPE, PROCEDURE_TYPE and COUNT_BASIS on
/// ASYLUM_APPLICATIONS, DECISION_LEVEL, PROCEDURE_TYPE and COUNT_BASIS on DECISIONS_RECOGNIZED, and
/// COUNTRY_OF_DESTINATION on RESETTLEMENT_DEPARTURES. Linked into the unit and functional tests.
/// </summary>
public static class CatalogueTwoShape
{
    public const string Applications = "ASYLUM_APPLICATIONS", Recognized = "DECISIONS_RECOGNIZED", Resettlement = "RESETTLEMENT_DEPARTURES";

    public static Catalog Build()
    {
        var catalog = StandardCatalogue.LoadStandard().Catalog.Clone();
        if (catalog.Dimensions.Any(d => d.Id == "APPLICATION_TYPE"))
        {
            return catalog; // the standard catalogue is 2.0 already: it declares them so on these indicators
        }
        catalog.Version = "1.99.0"; // a test catalogue, not a release
        var countries = catalog.Codelists.Single(c => c.Id == "CL_COUNTRY_OF_ORIGIN").Codes;
        Add(catalog, "APPLICATION_TYPE", "CL_APPLICATION_TYPE", ["NEW", "REPEAT", "APPEAL", "_T"]);
        Add(catalog, "DECISION_LEVEL", "CL_DECISION_LEVEL", ["FIRST_INSTANCE", "APPEAL", "_T"]);
        Add(catalog, "PROCEDURE_TYPE", "CL_PROCEDURE_TYPE", ["GOVERNMENT", "JOINT", "UNHCR", "_T"]);
        Add(catalog, "COUNT_BASIS", "CL_COUNT_BASIS", ["PERSONS", "CASES"]);
        Add(catalog, "COUNTRY_OF_DESTINATION", "CL_COUNTRY_OF_DESTINATION", [.. countries.Select(c => c.Id)]);
        Declare(catalog, Applications, "APPLICATION_TYPE", "PROCEDURE_TYPE", "COUNT_BASIS");
        Declare(catalog, Recognized, "DECISION_LEVEL", "PROCEDURE_TYPE", "COUNT_BASIS");
        Declare(catalog, Resettlement, "COUNTRY_OF_DESTINATION");
        return catalog;
    }

    public static StandardCatalogue Load() => new(Build());

    /// <summary>Catalogue 1.0.0 as shipped (the catalogue-v1.json resource), which declares none of catalogue 2.0's dimensions.</summary>
    public static StandardCatalogue V1()
    {
        using var stream = typeof(StandardCatalogue).Assembly.GetManifestResourceStream("catalogue-v1.json")!;
        using var reader = new StreamReader(stream);
        return StandardCatalogue.Parse(reader.ReadToEnd());
    }

    /// <summary>Writes the catalogue as protobuf JSON into <paramref name="folder"/> (for Node:CatalogueFile) and returns its path.</summary>
    public static string WriteFile(string folder)
    {
        var path = Path.Combine(folder, "catalogue-two-shape.json");
        File.WriteAllText(path, JsonFormatter.Default.Format(Build()));
        return path;
    }

    private static void Add(Catalog catalog, string dimension, string codelist, string[] codes)
    {
        var list = new Codelist { Id = codelist, Name = Label(codelist) };
        list.Codes.AddRange(codes.Select(code => new Code { Id = code, Name = Label(code) }));
        catalog.Codelists.Add(list);
        catalog.Dimensions.Add(new Dimension { Id = dimension, Name = Label(dimension), CodelistId = codelist });
    }

    private static void Declare(Catalog catalog, string indicator, params string[] dimensions) =>
        catalog.Indicators.Single(i => i.Code == indicator).DimensionIds.AddRange(dimensions);

    private static LocalizedText Label(string id) => new() { En = id, Es = id };

    /// <summary>The dimensions' defaults, as the contract fixes them.</summary>
    public static AddedDimensions Defaults => AddedDimensions.Defaults;
}
