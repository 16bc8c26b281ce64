using Mirps.Log;
using Mirps.Observation.V1;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// One figure as the exports write it: an observation's key, value, status and note, where the
/// reference area may also be the region as a whole. Unlike <see cref="Observation"/>, the value can be
/// missing, because the Secretariat's regional tables must still list a figure that is withheld
/// (confidential, suppressed small count) or not reported, rather than silently drop the row.
/// </summary>
/// <param name="IndicatorCode">An indicator code of the catalogue, for example <c>REFUGEES</c>.</param>
/// <param name="ReferenceArea">
/// A MIRPS State's ISO 3166-1 alpha-3 code, or <see cref="RegionalAggregate"/> for the figure of the
/// whole region.
/// </param>
/// <param name="Period">ISO 8601: a year <c>2023</c>, a quarter <c>2023-Q1</c> or a month <c>2023-01</c>.</param>
/// <param name="Sex">A CL_SEX code; empty when the indicator does not declare the dimension.</param>
/// <param name="Age">A CL_AGE code; empty when the indicator does not declare the dimension.</param>
/// <param name="CountryOfOrigin">A CL_COUNTRY_OF_ORIGIN code; empty when the indicator does not declare the dimension.</param>
/// <param name="Value">The figure; null when it is withheld or missing.</param>
/// <param name="Status">Normal, provisional, estimated or confidential (never unspecified).</param>
/// <param name="Note">Free text; empty when there is none.</param>
/// <param name="Added">Catalogue 2.0's dimensions; each empty when the indicator does not declare it.</param>
/// <param name="Attributes">
/// Catalogue 2.0's attributes: a lower bound ("more than"), the confidentiality (CONF_STATUS), a synthetic
/// (illustrative) figure. A regional row is a lower bound, or synthetic, when any figure it adds up is.
/// </param>
/// <param name="Deleted">The key was deleted (SDMX action D; no value, no status): in SDMX REST answers that list changes.</param>
public sealed record ExportRow(
    string IndicatorCode,
    string ReferenceArea,
    string Period,
    string Sex,
    string Age,
    string CountryOfOrigin,
    double? Value,
    ObservationStatus Status,
    string Note = "",
    AddedDimensions Added = default,
    ValueAttributes Attributes = default,
    bool Deleted = false)
{
    /// <summary>
    /// The reference area of the regional aggregate. It is not an ISO 3166 code, so it cannot collide
    /// with a State, and it is the agency id of the SDMX dataflow, so SDMX users meet one name for the region.
    /// </summary>
    public const string RegionalAggregate = "MIRPS";

    /// <summary>A State's observation as a row (its value is always present).</summary>
    public static ExportRow From(Observation observation) => new(
        observation.IndicatorCode, observation.Country, observation.Period, observation.Sex, observation.Age,
        observation.CountryOfOrigin, observation.Value, observation.Status, observation.Note,
        AddedDimensions.Of(observation), ValueAttributes.Of(observation));

    /// <summary>
    /// A State's observation as a reader was served it: as it is, or, when anything of it is withheld from that reader (a small count, a
    /// complementary cell), with no value, the status confidential and no note. The web app's chart downloads write State rows so, and
    /// <c>mirps regional verify</c> checks them so against the State's signed log.
    /// </summary>
    public static ExportRow Of(StoredObservation stored) => stored.Withholding == Withholding.Unspecified
        ? From(stored.Observation)
        : From(stored.Observation) with { Value = null, Status = ObservationStatus.Confidential, Note = "" };

    /// <summary>This row's key: the indicator, reference area, period and dimensions (value, status, note and attributes cleared). A method,
    /// not a property, so that the record's printing does not recurse into it.</summary>
    public ExportRow Key() => this with { Value = null, Status = ObservationStatus.Unspecified, Note = "", Attributes = default, Deleted = false };
}

/// <summary>The file layouts an export can take.</summary>
public enum ExportFormat
{
    /// <summary>The standard CSV layout of <see cref="Csv.ObservationCsv"/> (re-importable without labels).</summary>
    Csv,

    /// <summary>SDMX-CSV 2.0.0 (SDMX 3.0), one row per observation of a dataflow.</summary>
    SdmxCsv,

    /// <summary>SDMX-CSV 1.0.0 (SDMX 2.1): a <c>DATAFLOW</c> column, then the components as in <see cref="SdmxCsv"/>.</summary>
    SdmxCsv1,
}

/// <summary>Whether labels from the catalogue accompany the codes, and in which of the MIRPS working languages.</summary>
public enum ExportLabels
{
    None,
    English,
    Spanish,
}

/// <summary>
/// How to write an export. The SDMX dataflow is identified as <c>AGENCY:ID(VERSION)</c>; the version
/// defaults to the catalogue's, because the catalogue defines the structure the data follow and a
/// new catalogue version is a new structure.
/// </summary>
public sealed record ExportOptions(
    ExportFormat Format = ExportFormat.Csv,
    ExportLabels Labels = ExportLabels.None,
    string DataflowAgency = ExportRow.RegionalAggregate,
    string DataflowId = ExportOptions.DefaultDataflowId,
    string? DataflowVersion = null)
{
    public const string DefaultDataflowId = "DF_MIRPS_PROTECTION";

    /// <summary>The SDMX structure id, for example <c>MIRPS:DF_MIRPS_PROTECTION(1.0.0)</c>.</summary>
    public string StructureId(StandardCatalogue catalogue) =>
        $"{DataflowAgency}:{DataflowId}({DataflowVersion ?? catalogue.Version})";
}
