using System.Collections.Frozen;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// Labels in one language for what an export writes: indicators, States and dimension codes come from
/// the catalogue's LocalizedText; the few things the catalogue does not name (the region, the SDMX
/// components that are not catalogue dimensions, statuses, "not applicable") are named here, in the
/// same two languages. Built once per export, looked up per cell.
/// </summary>
internal sealed class ExportLabelText
{
    private static readonly FrozenDictionary<string, LocalizedText> Components = new Dictionary<string, LocalizedText>
    {
        [SdmxCsv.IndicatorDimension] = Text("Indicator", "Indicador"),
        [SdmxCsv.ReferenceAreaDimension] = Text("Reference area", "Área de referencia"),
        [SdmxCsv.TimePeriodDimension] = Text("Time period", "Período"),
        [SdmxCsv.ValueMeasure] = Text("Observation value", "Valor de la observación"),
        [SdmxCsv.StatusAttribute] = Text("Observation status", "Estado de la observación"),
        [SdmxCsv.CommentAttribute] = Text("Observation comment", "Comentario de la observación"),
        [SdmxCsv.ConfidentialityAttribute] = Text("Confidentiality status", "Estado de confidencialidad"),
        [SdmxCsv.LowerBoundAttribute] = Text("Lower bound (the figure is at least the value)", "Cota inferior (la cifra es al menos el valor)"),
        [SdmxCsv.SyntheticAttribute] = Text("Illustrative figure (not an official statistic)", "Cifra ilustrativa (no una estadística oficial)"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<ObservationStatus, LocalizedText> Statuses = new Dictionary<ObservationStatus, LocalizedText>
    {
        [ObservationStatus.Normal] = Text("Normal value", "Valor normal"),
        [ObservationStatus.Provisional] = Text("Provisional value", "Valor provisional"),
        [ObservationStatus.Estimated] = Text("Estimated value", "Valor estimado"),
        [ObservationStatus.Confidential] = Text("Confidential value", "Valor confidencial"),
    }.ToFrozenDictionary();

    private static readonly LocalizedText Region = Text("MIRPS region", "Región MIRPS");
    private static readonly LocalizedText NotApplicable = Text("Not applicable", "No aplicable");

    private readonly ExportLabels _language;
    private readonly FrozenDictionary<string, LocalizedText> _indicators;
    private readonly FrozenDictionary<string, LocalizedText> _states;
    private readonly FrozenDictionary<string, (LocalizedText Name, FrozenDictionary<string, LocalizedText> Codes)> _dimensions;
    private readonly LocalizedText _catalogueName;

    public ExportLabelText(StandardCatalogue catalogue, ExportLabels language)
    {
        _language = language;
        var codelists = catalogue.Catalog.Codelists.ToDictionary(
            c => c.Id, c => c.Codes.ToFrozenDictionary(code => code.Id, code => code.Name, StringComparer.Ordinal));
        _indicators = catalogue.Catalog.Indicators.ToFrozenDictionary(i => i.Code, i => i.Name, StringComparer.Ordinal);
        _states = codelists[StandardCatalogue.ReportingCountryCodelist];
        _dimensions = catalogue.Catalog.Dimensions.ToFrozenDictionary(d => d.Id, d => (d.Name, codelists[d.CodelistId]), StringComparer.Ordinal);
        _catalogueName = catalogue.Catalog.Name;
    }

    /// <summary>The dataflow's name: the catalogue's, since the catalogue defines the data's structure.</summary>
    public string Dataflow => Pick(_catalogueName);

    /// <summary>The name of an SDMX component (a dimension, the measure, an attribute).</summary>
    public string Component(string id) =>
        _dimensions.TryGetValue(id, out var dimension) ? Pick(dimension.Name) : Components.TryGetValue(id, out var text) ? Pick(text) : "";

    public string Indicator(string code) => _indicators.TryGetValue(code, out var text) ? Pick(text) : "";

    public string ReferenceArea(string code) =>
        code == ExportRow.RegionalAggregate ? Pick(Region) : _states.TryGetValue(code, out var text) ? Pick(text) : "";

    /// <summary>The label of a dimension's code; SDMX's <c>_Z</c> is "not applicable", an empty code has none.</summary>
    public string DimensionCode(string dimension, string code) =>
        code == SdmxCsv.NotApplicable ? Pick(NotApplicable)
        : _dimensions.TryGetValue(dimension, out var d) && d.Codes.TryGetValue(code, out var text) ? Pick(text) : "";

    public string Status(ObservationStatus status) => Statuses.TryGetValue(status, out var text) ? Pick(text) : "";

    /// <summary>The chosen language, or the other one where a label lacks it (an unknown code has none).</summary>
    private string Pick(LocalizedText text)
    {
        var (first, second) = _language == ExportLabels.Spanish ? (text.Es, text.En) : (text.En, text.Es);
        return first.Length > 0 ? first : second;
    }

    private static LocalizedText Text(string en, string es) => new() { En = en, Es = es };
}
