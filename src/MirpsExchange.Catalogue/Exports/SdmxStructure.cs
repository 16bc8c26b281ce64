using System.Xml;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// The SDMX structures of the catalogue, written as an SDMX-ML 2.1 Structure message: one dataflow
/// (<c>MIRPS:DF_MIRPS_PROTECTION</c>) over one data structure (<c>MIRPS:DSD_MIRPS_PROTECTION</c>) shared by every indicator,
/// its code lists and its concept scheme, each versioned as the catalogue. One dataflow rather than one per indicator:
/// the indicator is the first dimension, as the SDMX-CSV exports already write it, and a client (rsdmx, .Stat) reads every
/// indicator with one structure. The components are <see cref="SdmxCsv.ComponentsOf"/>'s, in that order; names are the
/// catalogue's, in English and Spanish.
/// </summary>
public sealed partial class SdmxStructure
{
    public const string Agency = ExportRow.RegionalAggregate;
    public const string DataflowId = ExportOptions.DefaultDataflowId;
    public const string DataStructureId = "DSD_MIRPS_PROTECTION";
    public const string ConceptSchemeId = "CS_MIRPS_PROTECTION";
    public const string IndicatorCodelist = "CL_INDICATOR";
    public const string StatusCodelist = "CL_OBS_STATUS";
    public const string ConfidentialityCodelist = "CL_CONF_STATUS";

    public const string MessageNamespace = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message";
    public const string StructureNamespace = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure";
    public const string CommonNamespace = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common";

    private readonly StandardCatalogue _catalogue;
    private readonly ExportLabelText _english;
    private readonly ExportLabelText _spanish;

    public SdmxStructure(StandardCatalogue catalogue)
    {
        _catalogue = catalogue;
        _english = new ExportLabelText(catalogue, ExportLabels.English);
        _spanish = new ExportLabelText(catalogue, ExportLabels.Spanish);
        Components = SdmxCsv.ComponentsOf(catalogue);
        Dimensions = SdmxCsv.DimensionsOf(Components);
        KeyDimensions = [.. Dimensions.Where(d => d != SdmxCsv.TimePeriodDimension)];
        Attributes = SdmxCsv.AttributesOf(Components);
        Codelists = BuildCodelists();
    }

    /// <summary>The catalogue's version: every structure here has it.</summary>
    public string Version => _catalogue.Version;

    public StandardCatalogue Catalogue => _catalogue;

    public IReadOnlyList<string> Components { get; }

    /// <summary>The dimensions, time last.</summary>
    public IReadOnlyList<string> Dimensions { get; }

    /// <summary>The dimensions of a series key (and of a data query's key), in order: all but the time period.</summary>
    public IReadOnlyList<string> KeyDimensions { get; }

    public IReadOnlyList<string> Attributes { get; }

    /// <summary>The code lists by id, with the component each enumerates.</summary>
    public IReadOnlyList<SdmxCodelist> Codelists { get; }

    /// <summary>The code list of a coded component, or null (time, value, comment, flags).</summary>
    public SdmxCodelist? CodelistOf(string component) => Codelists.FirstOrDefault(c => c.Component == component);

    public static string DataflowUrn(string version) => $"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={Agency}:{DataflowId}({version})";

    public static string DataStructureUrn(string version) => $"urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure={Agency}:{DataStructureId}({version})";

    private string CodelistUrn(string id) => $"urn:sdmx:org.sdmx.infomodel.codelist.Codelist={Agency}:{id}({Version})";

    private string CodeUrn(string list, string code) => $"urn:sdmx:org.sdmx.infomodel.codelist.Code={Agency}:{list}({Version}).{code}";

    private string ConceptSchemeUrn => $"urn:sdmx:org.sdmx.infomodel.conceptscheme.ConceptScheme={Agency}:{ConceptSchemeId}({Version})";

    private string ConceptUrn(string id) => $"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept={Agency}:{ConceptSchemeId}({Version}).{id}";

    /// <summary>The representation of a component without a code list: the time period's, the measure's, a flag's or free text.</summary>
    private static string TextType(string id) => id switch
    {
        SdmxCsv.TimePeriodDimension => "ObservationalTimePeriod",
        SdmxCsv.ValueMeasure => "Double",
        SdmxCsv.LowerBoundAttribute or SdmxCsv.SyntheticAttribute => "Boolean",
        _ => "String",
    };

    /// <summary>Whether an attribute must be given: the observation status only.</summary>
    private static bool IsMandatory(string attribute) => attribute == SdmxCsv.StatusAttribute;

    /// <summary>What a structure message holds.</summary>
    [Flags]
    public enum Parts
    {
        None = 0,
        Dataflow = 1,
        DataStructure = 2,
        Codelists = 4,
        ConceptScheme = 8,
    }

    /// <summary>Writes a Structure message with <paramref name="parts"/> (the code lists named in <paramref name="codelistIds"/>, or all).</summary>
    public void Write(Stream stream, Parts parts, string messageId, DateTimeOffset prepared, IReadOnlySet<string>? codelistIds = null)
    {
        using var xml = XmlWriter.Create(stream, new XmlWriterSettings { Encoding = ExportWriter.Utf8, Indent = true, CloseOutput = false });
        xml.WriteStartDocument();
        xml.WriteStartElement("mes", "Structure", MessageNamespace);
        xml.WriteAttributeString("xmlns", "str", null, StructureNamespace);
        xml.WriteAttributeString("xmlns", "com", null, CommonNamespace);
        SdmxData.WriteHeader(xml, messageId, prepared, null);
        xml.WriteStartElement("Structures", MessageNamespace);
        if (parts.HasFlag(Parts.Dataflow))
        {
            xml.WriteStartElement("Dataflows", StructureNamespace);
            Maintainable(xml, "Dataflow", DataflowId, DataflowUrn(Version), Pick(e => e.Dataflow));
            xml.WriteStartElement("Structure", StructureNamespace);
            Ref(xml, DataStructureId, Version, "datastructure", "DataStructure");
            xml.WriteEndElement();
            xml.WriteEndElement(); // Dataflow
            xml.WriteEndElement();
        }
        if (parts.HasFlag(Parts.Codelists))
        {
            xml.WriteStartElement("Codelists", StructureNamespace);
            foreach (var list in Codelists.Where(c => codelistIds is null || codelistIds.Contains(c.Id)))
            {
                Maintainable(xml, "Codelist", list.Id, CodelistUrn(list.Id), list.Name);
                foreach (var code in list.Codes)
                {
                    xml.WriteStartElement("Code", StructureNamespace);
                    xml.WriteAttributeString("id", code.Id);
                    xml.WriteAttributeString("urn", CodeUrn(list.Id, code.Id));
                    Names(xml, code.Name);
                    xml.WriteEndElement();
                }
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
        }
        if (parts.HasFlag(Parts.ConceptScheme))
        {
            xml.WriteStartElement("Concepts", StructureNamespace);
            Maintainable(xml, "ConceptScheme", ConceptSchemeId, ConceptSchemeUrn, Pick(e => e.Dataflow));
            foreach (var id in Components)
            {
                xml.WriteStartElement("Concept", StructureNamespace);
                xml.WriteAttributeString("id", id);
                xml.WriteAttributeString("urn", ConceptUrn(id));
                Names(xml, Pick(e => e.Component(id)));
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
            xml.WriteEndElement();
        }
        if (parts.HasFlag(Parts.DataStructure))
        {
            xml.WriteStartElement("DataStructures", StructureNamespace);
            Maintainable(xml, "DataStructure", DataStructureId, DataStructureUrn(Version), Pick(e => e.Dataflow));
            xml.WriteStartElement("DataStructureComponents", StructureNamespace);
            xml.WriteStartElement("DimensionList", StructureNamespace);
            xml.WriteAttributeString("id", "DimensionDescriptor");
            for (var i = 0; i < Dimensions.Count; i++)
            {
                var id = Dimensions[i];
                var time = id == SdmxCsv.TimePeriodDimension;
                xml.WriteStartElement(time ? "TimeDimension" : "Dimension", StructureNamespace);
                xml.WriteAttributeString("id", id);
                xml.WriteAttributeString("position", (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
                Component(xml, id);
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
            xml.WriteStartElement("AttributeList", StructureNamespace);
            xml.WriteAttributeString("id", "AttributeDescriptor");
            foreach (var id in Attributes)
            {
                xml.WriteStartElement("Attribute", StructureNamespace);
                xml.WriteAttributeString("id", id);
                xml.WriteAttributeString("assignmentStatus", IsMandatory(id) ? "Mandatory" : "Conditional");
                Component(xml, id);
                xml.WriteStartElement("AttributeRelationship", StructureNamespace);
                xml.WriteStartElement("PrimaryMeasure", StructureNamespace);
                xml.WriteStartElement("Ref");
                xml.WriteAttributeString("id", SdmxCsv.ValueMeasure);
                xml.WriteEndElement();
                xml.WriteEndElement();
                xml.WriteEndElement();
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
            xml.WriteStartElement("MeasureList", StructureNamespace);
            xml.WriteAttributeString("id", "MeasureDescriptor");
            xml.WriteStartElement("PrimaryMeasure", StructureNamespace);
            xml.WriteAttributeString("id", SdmxCsv.ValueMeasure);
            Component(xml, SdmxCsv.ValueMeasure);
            xml.WriteEndElement();
            xml.WriteEndElement();
            xml.WriteEndElement(); // DataStructureComponents
            xml.WriteEndElement(); // DataStructure
            xml.WriteEndElement();
        }
        xml.WriteEndElement(); // Structures
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    /// <summary>A component's concept and its representation: its code list, or its <see cref="TextType"/>.</summary>
    private void Component(XmlWriter xml, string id)
    {
        xml.WriteStartElement("ConceptIdentity", StructureNamespace);
        xml.WriteStartElement("Ref");
        xml.WriteAttributeString("id", id);
        xml.WriteAttributeString("maintainableParentID", ConceptSchemeId);
        xml.WriteAttributeString("maintainableParentVersion", Version);
        xml.WriteAttributeString("agencyID", Agency);
        xml.WriteAttributeString("package", "conceptscheme");
        xml.WriteAttributeString("class", "Concept");
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteStartElement("LocalRepresentation", StructureNamespace);
        if (CodelistOf(id) is { } list)
        {
            xml.WriteStartElement("Enumeration", StructureNamespace);
            Ref(xml, list.Id, Version, "codelist", "Codelist");
            xml.WriteEndElement();
        }
        else
        {
            xml.WriteStartElement("TextFormat", StructureNamespace);
            xml.WriteAttributeString("textType", TextType(id));
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
    }

    private static void Ref(XmlWriter xml, string id, string version, string package, string @class)
    {
        xml.WriteStartElement("Ref");
        xml.WriteAttributeString("id", id);
        xml.WriteAttributeString("version", version);
        xml.WriteAttributeString("agencyID", Agency);
        xml.WriteAttributeString("package", package);
        xml.WriteAttributeString("class", @class);
        xml.WriteEndElement();
    }

    /// <summary>Opens a maintainable artefact (closed by the caller) and writes its names.</summary>
    private void Maintainable(XmlWriter xml, string element, string id, string urn, LocalizedText name)
    {
        xml.WriteStartElement(element, StructureNamespace);
        xml.WriteAttributeString("id", id);
        xml.WriteAttributeString("urn", urn);
        xml.WriteAttributeString("agencyID", Agency);
        xml.WriteAttributeString("version", Version);
        xml.WriteAttributeString("isFinal", "true");
        Names(xml, name);
    }

    private static void Names(XmlWriter xml, LocalizedText name)
    {
        foreach (var (language, text) in new[] { ("en", name.En), ("es", name.Es) })
        {
            if (text.Length > 0)
            {
                xml.WriteStartElement("com", "Name", CommonNamespace);
                xml.WriteAttributeString("xml", "lang", null, language);
                xml.WriteString(text);
                xml.WriteEndElement();
            }
        }
    }

    private LocalizedText Pick(Func<ExportLabelText, string> label) => new() { En = label(_english), Es = label(_spanish) };

    /// <summary>
    /// The code lists: the indicators (CL_INDICATOR), the States (the catalogue's CL_MIRPS_STATE) and each dimension's own,
    /// with <c>_Z</c> (not applicable: what a dimension the indicator does not declare holds); the observation status
    /// (A, P, E and C, which a withheld value carries) and the confidentiality status, from the catalogue where it has them.
    /// </summary>
    private List<SdmxCodelist> BuildCodelists()
    {
        var catalog = _catalogue.Catalog;
        var lists = new List<SdmxCodelist>
        {
            new(IndicatorCodelist, SdmxCsv.IndicatorDimension, Pick(e => e.Component(SdmxCsv.IndicatorDimension)),
                [.. catalog.Indicators.Select(i => new Code { Id = i.Code, Name = i.Name })]),
        };
        var states = catalog.Codelists.First(c => c.Id == StandardCatalogue.ReportingCountryCodelist);
        lists.Add(new(states.Id, SdmxCsv.ReferenceAreaDimension, states.Name, [.. states.Codes]));
        foreach (var id in KeyDimensions.Skip(2))
        {
            var dimension = catalog.Dimensions.First(d => d.Id == id);
            var list = catalog.Codelists.First(c => c.Id == dimension.CodelistId);
            lists.Add(new(list.Id, id, list.Name,
                [.. list.Codes, new Code { Id = SdmxCsv.NotApplicable, Name = Pick(e => e.DimensionCode(id, SdmxCsv.NotApplicable)) }]));
        }
        var status = catalog.Codelists.FirstOrDefault(c => c.Id == StatusCodelist);
        List<Code> statusCodes = [.. status?.Codes ?? []];
        foreach (var s in new[] { ObservationStatus.Normal, ObservationStatus.Provisional, ObservationStatus.Estimated, ObservationStatus.Confidential })
        {
            var code = SdmxCsv.StatusCode(s);
            if (statusCodes.All(c => c.Id != code))
            {
                statusCodes.Add(new Code { Id = code, Name = Pick(e => e.Status(s)) });
            }
        }
        lists.Add(new(StatusCodelist, SdmxCsv.StatusAttribute, status?.Name ?? Pick(e => e.Component(SdmxCsv.StatusAttribute)), statusCodes));
        var confidentiality = catalog.Codelists.FirstOrDefault(c => c.Id == ConfidentialityCodelist);
        lists.Add(new(ConfidentialityCodelist, SdmxCsv.ConfidentialityAttribute, confidentiality?.Name ?? Pick(e => e.Component(SdmxCsv.ConfidentialityAttribute)),
            confidentiality is null
                ? [new Code { Id = "F", Name = new() { En = "Free", Es = "Libre" } }, new Code { Id = "N", Name = new() { En = "Not for publication", Es = "No publicable" } },
                    new Code { Id = "C", Name = new() { En = "Confidential", Es = "Confidencial" } }]
                : [.. confidentiality.Codes]));
        return lists;
    }
}

/// <summary>A code list of the data structure, and the component whose values it enumerates.</summary>
public sealed record SdmxCodelist(string Id, string Component, LocalizedText Name, IReadOnlyList<Code> Codes)
{
    public bool Contains(string code) => Codes.Any(c => c.Id == code);
}
