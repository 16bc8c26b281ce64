using System.Collections.Frozen;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;

namespace MirpsExchange.Web;

/// <summary>
/// The catalogue's ES/EN labels a page shows for what an observation carries: indicators, States, dimensions and their
/// codes, and the attributes (OBS_STATUS, CONF_STATUS, LOWER_BOUND, SYNTHETIC) with their codes. Built once per process
/// from the catalogue it serves; a code the catalogue does not name is shown as itself.
/// </summary>
public sealed class CatalogueLabels
{
    private readonly FrozenDictionary<string, Indicator> _indicators;
    private readonly FrozenDictionary<string, FrozenDictionary<string, LocalizedText>> _codelists;
    private readonly FrozenDictionary<string, Dimension> _dimensions;
    private readonly FrozenDictionary<string, Mirps.Catalog.V1.Attribute> _attributes;
    private readonly FrozenDictionary<string, IndicatorGroup> _groups;

    public CatalogueLabels(StandardCatalogue catalogue)
    {
        Catalogue = catalogue;
        _indicators = catalogue.Catalog.Indicators.ToFrozenDictionary(i => i.Code, StringComparer.Ordinal);
        _codelists = catalogue.Catalog.Codelists.ToFrozenDictionary(c => c.Id, c => c.Codes.ToFrozenDictionary(code => code.Id, code => code.Name, StringComparer.Ordinal), StringComparer.Ordinal);
        _dimensions = catalogue.Catalog.Dimensions.ToFrozenDictionary(d => d.Id, StringComparer.Ordinal);
        _attributes = catalogue.Catalog.Attributes.ToFrozenDictionary(a => a.Id, StringComparer.Ordinal);
        _groups = catalogue.Catalog.IndicatorGroups.ToFrozenDictionary(g => g.Id, StringComparer.Ordinal);
    }

    public StandardCatalogue Catalogue { get; }

    /// <summary>The dimensions an observation may carry, in the catalogue's order of observation fields.</summary>
    public IReadOnlyList<Dimension> Dimensions => [.. StandardCatalogue.ObservationDimensions.Where(_dimensions.ContainsKey).Select(id => _dimensions[id])];

    public IEnumerable<Indicator> Indicators => Catalogue.Catalog.Indicators;

    public string Indicator(Texts t, string code) => _indicators.TryGetValue(code, out var i) ? t.Label(i.Name) : code;

    /// <summary>An indicator group's name ("Poblaciones"), the unit a State approves and the calendar dates; its id when unnamed.</summary>
    /// <summary>Where a State's figures stand in the reporting cycle, in words.</summary>
    public string Approval(Texts t, Mirps.Approval.V1.ApprovalState state) => state switch
    {
        Mirps.Approval.V1.ApprovalState.Approved => t["approval.approved"],
        Mirps.Approval.V1.ApprovalState.Accepted => t["approval.accepted"],
        Mirps.Approval.V1.ApprovalState.ChangedSinceApproval => t["approval.changed"],
        Mirps.Approval.V1.ApprovalState.Rejected => t["approval.rejected"],
        _ => t["approval.draft"],
    };

    public string Group(Texts t, string id) => _groups.TryGetValue(id, out var g) ? t.Label(g.Name) : id;

    public string Country(Texts t, string code) => Code(t, StandardCatalogue.ReportingCountryCodelist, code);

    /// <summary>A MIRPS State's name with its code ("Belice (BLZ)"), or the code alone when the catalogue lacks the name.</summary>
    public string CountryWithCode(Texts t, string code) => Country(t, code) is var name && name != code ? $"{name} ({code})" : code;

    /// <summary>A dimension's name ("Sexo"), or its field name when the catalogue lacks it.</summary>
    public string Dimension(Texts t, string id) => _dimensions.TryGetValue(id, out var d) ? t.Label(d.Name) : StandardCatalogue.FieldOf(id);

    /// <summary>A dimension's code ("Mujeres"); empty stays empty (the indicator does not declare it).</summary>
    public string DimensionCode(Texts t, string dimensionId, string code) =>
        code.Length == 0 ? "" : _dimensions.TryGetValue(dimensionId, out var d) ? Code(t, d.CodelistId, code) : code;

    /// <summary>The codes of a dimension's codelist, for a filter.</summary>
    public IEnumerable<(string Code, string Label)> DimensionCodes(Texts t, string dimensionId) =>
        _dimensions.TryGetValue(dimensionId, out var d) && _codelists.TryGetValue(d.CodelistId, out var codes)
            ? codes.Select(c => (c.Key, t.Label(c.Value))).OrderBy(c => c.Key == StandardCatalogue.TotalCode ? 0 : 1).ThenBy(c => c.Item2, StringComparer.CurrentCulture)
            : [];

    /// <summary>An attribute's name ("Estado de la observación", "Cota inferior"); its id when the catalogue (1.0) lacks it.</summary>
    public string Attribute(Texts t, string id) => _attributes.TryGetValue(id, out var a) ? t.Label(a.Name) : id;

    /// <summary>The observation status as CL_OBS_STATUS names it (A, P, E); a withheld value's CONFIDENTIAL as CL_CONF_STATUS's C.</summary>
    public string Status(Texts t, ObservationStatus status) => status switch
    {
        ObservationStatus.Unspecified => "",
        ObservationStatus.Confidential => Code(t, "CL_CONF_STATUS", "C"),
        _ => Code(t, "CL_OBS_STATUS", SdmxCsv.StatusCode(status)),
    };

    /// <summary>The confidentiality as CL_CONF_STATUS names it; empty when unset (free).</summary>
    public string Confidentiality(Texts t, ConfidentialityStatus confidentiality) => confidentiality switch
    {
        ConfidentialityStatus.Free => Code(t, "CL_CONF_STATUS", "F"),
        ConfidentialityStatus.NotForPublication => Code(t, "CL_CONF_STATUS", "N"),
        ConfidentialityStatus.Confidential => Code(t, "CL_CONF_STATUS", "C"),
        _ => "",
    };

    /// <summary>The attributes an observation carries beyond the defaults, each named by the catalogue.</summary>
    public IEnumerable<string> Flags(Texts t, Observation o)
    {
        if (o.LowerBound)
        {
            yield return Attribute(t, "LOWER_BOUND");
        }
        if (o.Confidentiality is ConfidentialityStatus.NotForPublication or ConfidentialityStatus.Confidential)
        {
            yield return Confidentiality(t, o.Confidentiality);
        }
        if (o.Synthetic)
        {
            yield return Attribute(t, "SYNTHETIC");
        }
    }

    /// <summary>A column of the standard file layout named in the page's language: the dimension's or attribute's name, else the column.</summary>
    public string Column(Texts t, string column) => column switch
    {
        "" => "",
        "indicator_code" => t["col.indicator"],
        "country" => t["col.country"],
        "period" => t["col.period"],
        "value" => t["col.value"],
        "status" => Attribute(t, "OBS_STATUS"),
        "confidentiality" => Attribute(t, "CONF_STATUS"),
        "lower_bound" => Attribute(t, "LOWER_BOUND"),
        "synthetic" => Attribute(t, "SYNTHETIC"),
        "note" => t["col.note"],
        _ => _dimensions.ContainsKey(column.ToUpperInvariant()) ? Dimension(t, column.ToUpperInvariant()) : column,
    };

    /// <summary>An observation's code for a dimension (its field named after the dimension).</summary>
    public static string DimensionValue(Observation o, string dimensionId) => dimensionId switch
    {
        StandardCatalogue.SexDimension => o.Sex,
        StandardCatalogue.AgeDimension => o.Age,
        StandardCatalogue.CountryOfOriginDimension => o.CountryOfOrigin,
        _ => Mirps.Log.AddedDimensions.Of(o)[AddedIndex(dimensionId)],
    };

    private static int AddedIndex(string dimensionId)
    {
        for (var i = 0; i < Mirps.Log.AddedDimensions.Count; i++)
        {
            if (Mirps.Log.AddedDimensions.DimensionIds[i] == dimensionId)
            {
                return i;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(dimensionId), dimensionId, "Not an observation dimension.");
    }

    private string Code(Texts t, string codelist, string code) =>
        _codelists.TryGetValue(codelist, out var codes) && codes.TryGetValue(code, out var name) ? t.Label(name) : code;
}
