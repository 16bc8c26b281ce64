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
