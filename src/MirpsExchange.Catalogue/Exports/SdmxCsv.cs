using Mirps.Log;
using Mirps.Observation.V1;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// The vocabulary of the SDMX-CSV 2.0.0 exports (sdmx-twg/sdmx-csv, data message field guide): the
/// fixed leading columns, the component ids and the codes written for statuses and absent dimensions.
/// </summary>
public static class SdmxCsv
{
    public const string StructureColumn = "STRUCTURE";
    public const string StructureIdColumn = "STRUCTURE_ID";
    public const string ActionColumn = "ACTION";

    /// <summary>The structure type of every row: the data are defined by a dataflow.</summary>
    public const string DataflowStructure = "dataflow";

    /// <summary>Action "I" (Information): the rows inform; loaded into an SDMX database they are appended.</summary>
    public const string InformationAction = "I";

    /// <summary>Action "D" (Delete): the row's key was deleted (<see cref="ExportRow.Deleted"/>; SDMX REST's updatedAfter and includeHistory).</summary>
    public const string DeleteAction = "D";

    /// <summary>SDMX-CSV 1.0.0 (SDMX 2.1)'s one leading column: the dataflow as <c>AGENCY:ID(VERSION)</c>.</summary>
    public const string DataflowColumn = "DATAFLOW";

    public const string IndicatorDimension = "INDICATOR";
    public const string ReferenceAreaDimension = "REF_AREA";
    public const string TimePeriodDimension = "TIME_PERIOD";
    public const string ValueMeasure = "OBS_VALUE";
    public const string StatusAttribute = "OBS_STATUS";

    /// <summary>The SDMX cross-domain concept for a free-text comment on one observation.</summary>
    public const string CommentAttribute = "COMMENT_OBS";

    /// <summary>The SDMX cross-domain confidentiality status (CL_CONF_STATUS: F free, N not for publication, C confidential); empty when unspecified.</summary>
    public const string ConfidentialityAttribute = "CONF_STATUS";

    /// <summary>This dataflow's own attributes (no SDMX cross-domain concept): <c>true</c>, or empty for false.</summary>
    public const string LowerBoundAttribute = "LOWER_BOUND", SyntheticAttribute = "SYNTHETIC";

    /// <summary>
    /// "Not applicable" in the SDMX cross-domain code lists: what a dimension the indicator does not
    /// declare holds. SDMX-CSV leaves a dimension cell empty only to wildcard it (partial-key rows and
    /// deletions), so an empty cell would change the row's meaning.
    /// </summary>
    public const string NotApplicable = "_Z";

    /// <summary>Separates a code from its label in a cell or header with labels (the spec's <c>labels=both</c>).</summary>
    public const string LabelSeparator = ": ";

    /// <summary>
    /// The component columns in the order a data structure lists them: dimensions with the time
    /// dimension last (SDMX 3.0 places it after the other dimensions), the measure, the attributes.
    /// Catalogue 2.0's dimensions (<see cref="AddedDimensions.DimensionIds"/>) are written only when the
    /// catalogue defines them (<see cref="ComponentsOf"/>).
    /// </summary>
    public static readonly IReadOnlyList<string> Components =
    [
        IndicatorDimension, ReferenceAreaDimension,
        StandardCatalogue.SexDimension, StandardCatalogue.AgeDimension, StandardCatalogue.CountryOfOriginDimension, .. AddedDimensions.DimensionIds,
        TimePeriodDimension, ValueMeasure, StatusAttribute, ConfidentialityAttribute, LowerBoundAttribute, SyntheticAttribute, CommentAttribute,
    ];

    /// <summary>The components of a dataflow of <paramref name="catalogue"/>: all but the dimensions it does not define.</summary>
    public static IReadOnlyList<string> ComponentsOf(StandardCatalogue catalogue) =>
        [.. Components.Where(c => !AddedDimensions.DimensionIds.Contains(c) || catalogue.Catalog.Dimensions.Any(d => d.Id == c))];

    /// <summary>The dimensions among <paramref name="components"/>, time last (the key of a data query is the others, in this order).</summary>
    public static IReadOnlyList<string> DimensionsOf(IReadOnlyList<string> components) => [.. components.Take(PositionOf(components, TimePeriodDimension) + 1)];

    /// <summary>The attributes among <paramref name="components"/> (those after the measure).</summary>
    public static IReadOnlyList<string> AttributesOf(IReadOnlyList<string> components) => [.. components.Skip(PositionOf(components, ValueMeasure) + 1)];

    private static int PositionOf(IReadOnlyList<string> list, string id) =>
        Find(list, id) is var i and >= 0 ? i : throw new ArgumentException($"The components do not include {id}.", nameof(list));

    private static int Find(IReadOnlyList<string> list, string id)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] == id)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// The id-only cell of component <paramref name="id"/> of a row, as every SDMX format writes it (SDMX-CSV, SDMX-ML, SDMX-JSON):
    /// a dimension's code (<see cref="NotApplicable"/> for one the indicator does not declare), the time period, the value
    /// (empty when withheld or deleted), an attribute's code or text (empty when it has none: left out of XML and JSON).
    /// </summary>
    public static string Code(string id, ExportRow row)
    {
        var added = Find(AddedDimensions.DimensionIds, id);
        return id switch
        {
            IndicatorDimension => row.IndicatorCode,
            ReferenceAreaDimension => row.ReferenceArea,
            StandardCatalogue.SexDimension => Dimension(row.Sex),
            StandardCatalogue.AgeDimension => Dimension(row.Age),
            StandardCatalogue.CountryOfOriginDimension => Dimension(row.CountryOfOrigin),
            _ when added >= 0 => Dimension(row.Added[added]),
            TimePeriodDimension => row.Period,
            ValueMeasure => ExportWriter.FormatValue(row.Value),
            StatusAttribute => row.Deleted ? "" : StatusCode(row.Status),
            CommentAttribute => row.Note,
            ConfidentialityAttribute => row.Deleted ? "" : ConfidentialityCode(row.Attributes.Confidentiality),
            LowerBoundAttribute => Csv.ObservationCsv.FormatFlag(row.Attributes.LowerBound),
            SyntheticAttribute => Csv.ObservationCsv.FormatFlag(row.Attributes.Synthetic),
            _ => throw new InvalidOperationException($"The SDMX component '{id}' has no export."),
        };
    }

    private static string Dimension(string code) => code.Length == 0 ? NotApplicable : code;

    public static string ConfidentialityCode(ConfidentialityStatus confidentiality) => confidentiality switch
    {
        ConfidentialityStatus.Free => "F",
        ConfidentialityStatus.NotForPublication => "N",
        ConfidentialityStatus.Confidential => "C",
        _ => "",
    };

    public static bool TryParseConfidentialityCode(string code, out ConfidentialityStatus confidentiality)
    {
        confidentiality = code switch
        {
            "F" => ConfidentialityStatus.Free,
            "N" => ConfidentialityStatus.NotForPublication,
            "C" => ConfidentialityStatus.Confidential,
            _ => ConfidentialityStatus.Unspecified,
        };
        return code.Length == 0 || confidentiality != ConfidentialityStatus.Unspecified;
    }

    /// <summary>
    /// The SDMX observation status code (CL_OBS_STATUS: A normal, P provisional, E estimated; C for
    /// confidential, the code SDMX gives confidentiality).
    /// </summary>
    public static string StatusCode(ObservationStatus status) => status switch
    {
        ObservationStatus.Normal => "A",
        ObservationStatus.Provisional => "P",
        ObservationStatus.Estimated => "E",
        ObservationStatus.Confidential => "C",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "An exported observation needs a status."),
    };

    /// <summary>Reads an SDMX observation status code; an empty cell is a normal value.</summary>
    public static bool TryParseStatusCode(string code, out ObservationStatus status)
    {
        status = code switch
        {
            "" or "A" => ObservationStatus.Normal,
            "P" => ObservationStatus.Provisional,
            "E" => ObservationStatus.Estimated,
            "C" => ObservationStatus.Confidential,
            _ => ObservationStatus.Unspecified,
        };
        return status != ObservationStatus.Unspecified;
    }
}
