using System.Globalization;
using System.Text.Json;
using System.Xml;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// One data set of an SDMX data message: its rows, its action (Information for a plain answer; Replace and Delete for
/// an answer with history or changes, as SDMX REST's includeHistory describes) and, with history, from when (or until
/// when) its values held.
/// </summary>
public sealed record SdmxDataSet(IReadOnlyList<ExportRow> Rows, SdmxAction Action = SdmxAction.Information, DateTimeOffset? ValidFrom = null, DateTimeOffset? ValidTo = null);

/// <summary>The SDMX-JSON data message versions written: 1.0.0 (SDMX 2.1) and 2.0.0 (SDMX 3.0).</summary>
public enum SdmxJsonVersion
{
    V1,
    V2,
}

public enum SdmxAction
{
    Information,
    Replace,
    Delete,
}

/// <summary>
/// Writes data messages of the dataflow <see cref="SdmxStructure"/> describes: SDMX-ML 2.1 generic and structure-specific
/// data, and SDMX-JSON 1.0.0, with the observation at the time period (series: <see cref="TimeSeries"/>), at another dimension
/// (cross-sections: a series per key of every other dimension, the time period included) or at every dimension
/// (<see cref="AllDimensions"/>, flat). Without observations (<paramref name="withObservations"/> false: SDMX REST's
/// detail=serieskeysonly or nodata) only the series and their keys are written (every attribute here is an observation's). Cells are <see cref="SdmxCsv.Code"/>'s, the same as the SDMX-CSV exports'; a row without
/// a value (withheld from the reader, or deleted) has no OBS_VALUE; an attribute without a value is left out.
/// </summary>
public sealed class SdmxData(SdmxStructure structure, IReadOnlyList<SdmxDataSet> dataSets, string dimensionAtObservation, bool withAttributes = true,
    bool withObservations = true)
{
    public const string TimeSeries = SdmxCsv.TimePeriodDimension;
    public const string AllDimensions = "AllDimensions";

    public const string GenericNamespace = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic";
    public const string StructureSpecificNamespace = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific";
    private const string InstanceNamespace = "http://www.w3.org/2001/XMLSchema-instance";

    /// <summary>The id a data message's header gives the structure its data sets name.</summary>
    public const string StructureRef = "MIRPS_PROTECTION";

    private bool Flat => dimensionAtObservation == AllDimensions;

    /// <summary>The dimensions of a series key: every dimension but the one at the observation (none when flat).</summary>
    private IReadOnlyList<string> SeriesDimensions => Flat ? [] : [.. structure.Dimensions.Where(d => d != dimensionAtObservation)];

    /// <summary>The dimensions of an observation: the one at the observation, or every dimension when flat.</summary>
    private IReadOnlyList<string> ObservationDimensions => Flat ? structure.Dimensions : [dimensionAtObservation];

    private IReadOnlyList<string> Attributes => withAttributes ? structure.Attributes : [];

    /// <summary>The structure-specific namespace of the DSD at this observation level (SDMX 2.1: URN + ObsLevelDim).</summary>
    private string DataSetNamespace => $"{SdmxStructure.DataStructureUrn(structure.Version)}:ObsLevelDim:{dimensionAtObservation}";

    public int Count => dataSets.Sum(d => d.Rows.Count);

    /// <summary>The header every message shares; with a structure, the reference data messages need.</summary>
    internal static void WriteHeader(XmlWriter xml, string id, DateTimeOffset prepared, Action<XmlWriter>? structure)
    {
        var message = SdmxStructure.MessageNamespace;
        xml.WriteStartElement("Header", message);
        xml.WriteElementString("ID", message, id);
        xml.WriteElementString("Test", message, "false");
        xml.WriteElementString("Prepared", message, prepared.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        xml.WriteStartElement("Sender", message);
        xml.WriteAttributeString("id", SdmxStructure.Agency);
        xml.WriteEndElement();
        structure?.Invoke(xml);
        xml.WriteEndElement();
    }

    private void WriteStructureReference(XmlWriter xml, bool structureSpecific)
    {
        xml.WriteStartElement("Structure", SdmxStructure.MessageNamespace);
        xml.WriteAttributeString("structureID", StructureRef);
        if (structureSpecific)
        {
            xml.WriteAttributeString("namespace", DataSetNamespace);
        }
        xml.WriteAttributeString("dimensionAtObservation", dimensionAtObservation);
        xml.WriteStartElement("Structure", SdmxStructure.CommonNamespace);
        xml.WriteStartElement("Ref");
        xml.WriteAttributeString("agencyID", SdmxStructure.Agency);
        xml.WriteAttributeString("id", SdmxStructure.DataStructureId);
        xml.WriteAttributeString("version", structure.Version);
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    private static XmlWriter Open(Stream stream) =>
        XmlWriter.Create(stream, new XmlWriterSettings { Encoding = ExportWriter.Utf8, Indent = true, CloseOutput = false });

    private void DataSetAttributes(XmlWriter xml, SdmxDataSet set)
    {
        xml.WriteAttributeString("action", set.Action.ToString());
        if (set.ValidFrom is { } from)
        {
            xml.WriteAttributeString("validFromDate", XmlTime(from));
        }
        if (set.ValidTo is { } to)
        {
            xml.WriteAttributeString("validToDate", XmlTime(to));
        }
    }

    private static string XmlTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>SDMX-ML 2.1 generic data (the default of SDMX REST 2.1's data queries).</summary>
    public void WriteGeneric(Stream stream, string messageId, DateTimeOffset prepared) => WriteXml(stream, structureSpecific: false, messageId, prepared);

    /// <summary>SDMX-ML 2.1 structure-specific data: components as XML attributes named by their ids.</summary>
    public void WriteStructureSpecific(Stream stream, string messageId, DateTimeOffset prepared) => WriteXml(stream, structureSpecific: true, messageId, prepared);

    private void WriteXml(Stream stream, bool structureSpecific, string messageId, DateTimeOffset prepared)
    {
        using var xml = Open(stream);
        StartMessage(xml, structureSpecific, messageId, prepared);
        foreach (var set in dataSets)
        {
            StartDataSet(xml, structureSpecific, set);
            if (Flat)
            {
                foreach (var row in set.Rows)
                {
                    WriteFlat(xml, structureSpecific, row);
                }
            }
            else
            {
                foreach (var series in Series(set.Rows))
                {
                    WriteSeries(xml, structureSpecific, series);
                }
            }
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    /// <summary>Bytes an answer written as it is read holds before they go to the client.</summary>
    public const int StreamChunkBytes = 64 * 1024;

    /// <summary>
    /// Writes SDMX-ML 2.1 (generic or structure-specific) of one Information data set from rows as they are read, sending it to
    /// <paramref name="output"/> every <see cref="StreamChunkBytes"/>: memory holds one chunk and one series, whatever the answer's
    /// size. With the observation at the time period, <paramref name="rows"/> must come in series order (the key without the time
    /// period, then the time): a series is the run of rows that share their key. The data sets given to the constructor are not used.
    /// </summary>
    public async Task StreamXmlAsync(Stream output, bool structureSpecific, string messageId, DateTimeOffset prepared, IAsyncEnumerable<ExportRow> rows,
        CancellationToken cancellationToken)
    {
        if (!Flat && dimensionAtObservation != TimeSeries)
        {
            throw new InvalidOperationException("Cross-sections are grouped in memory (WriteGeneric, WriteStructureSpecific), not streamed.");
        }
        using var buffer = new MemoryStream();
        async Task SendAsync(XmlWriter xml)
        {
            xml.Flush();
            await output.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), cancellationToken);
            buffer.SetLength(0);
        }
        using var xml = Open(buffer);
        StartMessage(xml, structureSpecific, messageId, prepared);
        StartDataSet(xml, structureSpecific, new SdmxDataSet([]));
        var series = new List<ExportRow>();
        string? seriesKey = null;
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            if (Flat)
            {
                WriteFlat(xml, structureSpecific, row);
            }
            else
            {
                var key = SeriesKey(row);
                if (seriesKey is not null && key != seriesKey)
                {
                    WriteSeries(xml, structureSpecific, InTime(series));
                    series.Clear();
                }
                seriesKey = key;
                series.Add(row);
            }
            if (buffer.Length >= StreamChunkBytes)
            {
                await SendAsync(xml);
            }
        }
        if (series.Count > 0)
        {
            WriteSeries(xml, structureSpecific, InTime(series));
        }
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndDocument();
        await SendAsync(xml);
    }

    private void StartMessage(XmlWriter xml, bool structureSpecific, string messageId, DateTimeOffset prepared)
    {
        xml.WriteStartDocument();
        if (structureSpecific)
        {
            xml.WriteStartElement("message", "StructureSpecificData", SdmxStructure.MessageNamespace);
            xml.WriteAttributeString("xmlns", "ss", null, StructureSpecificNamespace);
            xml.WriteAttributeString("xmlns", "ns1", null, DataSetNamespace);
            xml.WriteAttributeString("xmlns", "xsi", null, InstanceNamespace);
        }
        else
        {
            xml.WriteStartElement("message", "GenericData", SdmxStructure.MessageNamespace);
            xml.WriteAttributeString("xmlns", "generic", null, GenericNamespace);
        }
        xml.WriteAttributeString("xmlns", "common", null, SdmxStructure.CommonNamespace);
        WriteHeader(xml, messageId, prepared, x => WriteStructureReference(x, structureSpecific));
    }

    private void StartDataSet(XmlWriter xml, bool structureSpecific, SdmxDataSet set)
    {
        xml.WriteStartElement("DataSet", SdmxStructure.MessageNamespace);
        if (structureSpecific)
        {
            xml.WriteAttributeString("ss", "structureRef", StructureSpecificNamespace, StructureRef);
            xml.WriteAttributeString("xsi", "type", InstanceNamespace, "ns1:DataSetType");
            xml.WriteAttributeString("ss", "dataScope", StructureSpecificNamespace, "DataStructure");
        }
        else
        {
            xml.WriteAttributeString("structureRef", StructureRef);
        }
        DataSetAttributes(xml, set);
    }

    /// <summary>An observation at every dimension (flat).</summary>
    private void WriteFlat(XmlWriter xml, bool structureSpecific, ExportRow row)
    {
        if (structureSpecific)
        {
            xml.WriteStartElement("Obs");
            SpecificValues(xml, structure.Dimensions, row);
            SpecificObservation(xml, row);
        }
        else
        {
            xml.WriteStartElement("Obs", GenericNamespace);
            GenericValues(xml, "ObsKey", structure.Dimensions, row);
            GenericObservation(xml, row);
        }
        xml.WriteEndElement();
    }

    /// <summary>One series: its key, then (unless without observations) its observations at the observation dimension, in the order given.</summary>
    private void WriteSeries(XmlWriter xml, bool structureSpecific, List<ExportRow> series)
    {
        if (structureSpecific)
        {
            xml.WriteStartElement("Series");
            SpecificValues(xml, SeriesDimensions, series[0]);
        }
        else
        {
            xml.WriteStartElement("Series", GenericNamespace);
            GenericValues(xml, "SeriesKey", SeriesDimensions, series[0]);
        }
        foreach (var row in withObservations ? series : [])
        {
            if (structureSpecific)
            {
                xml.WriteStartElement("Obs");
                xml.WriteAttributeString(dimensionAtObservation, SdmxCsv.Code(dimensionAtObservation, row));
                SpecificObservation(xml, row);
            }
            else
            {
                xml.WriteStartElement("Obs", GenericNamespace);
                xml.WriteStartElement("ObsDimension", GenericNamespace);
                xml.WriteAttributeString("value", SdmxCsv.Code(dimensionAtObservation, row));
                xml.WriteEndElement();
                GenericObservation(xml, row);
            }
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
    }

    private void GenericObservation(XmlWriter xml, ExportRow row)
    {
        if (row.Value is not null)
        {
            xml.WriteStartElement("ObsValue", GenericNamespace);
            xml.WriteAttributeString("value", SdmxCsv.Code(SdmxCsv.ValueMeasure, row));
            xml.WriteEndElement();
        }
        if (Attributes.Any(a => SdmxCsv.Code(a, row).Length > 0))
        {
            GenericValues(xml, "Attributes", Attributes, row);
        }
    }

    private static void GenericValues(XmlWriter xml, string element, IReadOnlyList<string> components, ExportRow row)
    {
        xml.WriteStartElement(element, GenericNamespace);
        foreach (var id in components)
        {
            var value = SdmxCsv.Code(id, row);
            if (value.Length > 0)
            {
                xml.WriteStartElement("Value", GenericNamespace);
                xml.WriteAttributeString("id", id);
                xml.WriteAttributeString("value", value);
                xml.WriteEndElement();
            }
        }
        xml.WriteEndElement();
    }

    private void SpecificObservation(XmlWriter xml, ExportRow row)
    {
        if (row.Value is not null)
        {
            xml.WriteAttributeString(SdmxCsv.ValueMeasure, SdmxCsv.Code(SdmxCsv.ValueMeasure, row));
        }
        SpecificValues(xml, Attributes, row);
    }

    private static void SpecificValues(XmlWriter xml, IReadOnlyList<string> components, ExportRow row)
    {
        foreach (var id in components)
        {
            var value = SdmxCsv.Code(id, row);
            if (value.Length > 0)
            {
                xml.WriteAttributeString(id, value);
            }
        }
    }

    /// <summary>
    /// SDMX-JSON data, 1.0.0 (<see cref="SdmxJsonVersion.V1"/>: <c>header</c>, <c>dataSets</c>, <c>structure</c>) or 2.0.0
    /// (<see cref="SdmxJsonVersion.V2"/>: <c>meta</c>, then <c>data</c> with its <c>structures</c> and <c>dataSets</c>). Both key each
    /// data set's series (or observations, flat) by the positions of their values in the structure's dimensions; an observation
    /// is <c>[value, attribute positions...]</c> with null where there is none. 2.0.0 also names every component and value in
    /// English and Spanish (<c>names</c>), gives OBS_VALUE as its measure, links each data set to the dataflow, lists a non-coded
    /// attribute's values as <c>{"value": ...}</c>, and leaves out what its schema forbids empty: an attribute's <c>values</c> when
    /// no observation has it, and the observation dimension when there are no observations (detail=serieskeysonly or nodata).
    /// </summary>
    public void WriteJson(Stream stream, string messageId, DateTimeOffset prepared, SdmxJsonVersion version = SdmxJsonVersion.V1)
    {
        var v2 = version == SdmxJsonVersion.V2;
        var keyDimensions = SeriesDimensions;
        var observationDimensions = ObservationDimensions;
        // Each component's values in the order first met, and their positions: what the keys and observations point into.
        var values = structure.Components.ToDictionary(c => c, _ => new List<string>());
        var positions = structure.Components.ToDictionary(c => c, _ => new Dictionary<string, int>(StringComparer.Ordinal));
        int Position(string component, string value)
        {
            var known = positions[component];
            if (!known.TryGetValue(value, out var i))
            {
                var list = values[component];
                known[value] = i = list.Count;
                list.Add(value);
            }
            return i;
        }
        var english = new ExportLabelText(structure.Catalogue, ExportLabels.English);
        var spanish = new ExportLabelText(structure.Catalogue, ExportLabels.Spanish);
        var preparedText = prepared.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        // A name (English, as 1.0.0 has it), and in 2.0.0 the localised names too.
        void Names(string inEnglish, string inSpanish)
        {
            json.WriteString("name", inEnglish);
            if (v2)
            {
                json.WriteStartObject("names");
                json.WriteString("en", inEnglish);
                json.WriteString("es", inSpanish);
                json.WriteEndObject();
            }
        }
        json.WriteStartObject();
        // 1.0.0's header is 2.0.0's meta, which also names its schema and languages; 2.0.0 puts the rest in data.
        json.WriteStartObject(v2 ? "meta" : "header");
        if (v2)
        {
            json.WriteString("schema", Json2Schema);
        }
        json.WriteString("id", messageId);
        json.WriteBoolean("test", false);
        json.WriteString("prepared", preparedText);
        if (v2)
        {
            json.WriteStartArray("contentLanguages");
            json.WriteStringValue("en");
            json.WriteStringValue("es");
            json.WriteEndArray();
        }
        json.WriteStartObject("sender");
        json.WriteString("id", SdmxStructure.Agency);
        json.WriteEndObject();
        json.WriteEndObject();
        if (v2)
        {
            json.WriteStartObject("data");
        }
        json.WriteStartArray("dataSets");
        foreach (var set in dataSets)
        {
            json.WriteStartObject();
            if (v2)
            {
                json.WriteNumber("structure", 0);
            }
            json.WriteString("action", set.Action.ToString());
            if (set.ValidFrom is { } from)
            {
                json.WriteString("validFrom", XmlTime(from));
            }
            if (set.ValidTo is { } to)
            {
                json.WriteString("validTo", XmlTime(to));
            }
            if (v2)
            {
                // The 2.0.0 schema requires a data set's links: the dataflow it belongs to.
                json.WriteStartArray("links");
                Link("dataflow", SdmxStructure.DataflowUrn(structure.Version));
                json.WriteEndArray();
            }
            void Observation(ExportRow row, IReadOnlyList<string> dimensions)
            {
                json.WritePropertyName(string.Join(':', dimensions.Select(d => Position(d, SdmxCsv.Code(d, row)))));
                json.WriteStartArray();
                if (row.Value is { } value)
                {
                    json.WriteNumberValue(value);
                }
                else
                {
                    json.WriteNullValue();
                }
                foreach (var attribute in Attributes)
                {
                    var code = SdmxCsv.Code(attribute, row);
                    if (code.Length == 0)
                    {
                        json.WriteNullValue();
                    }
                    else
                    {
                        json.WriteNumberValue(Position(attribute, code));
                    }
                }
                json.WriteEndArray();
            }
            if (Flat)
            {
                json.WriteStartObject("observations");
                foreach (var row in set.Rows)
                {
                    Observation(row, observationDimensions);
                }
                json.WriteEndObject();
            }
            else
            {
                json.WriteStartObject("series");
                foreach (var series in Series(set.Rows))
                {
                    json.WritePropertyName(string.Join(':', keyDimensions.Select(d => Position(d, SdmxCsv.Code(d, series[0])))));
                    json.WriteStartObject();
                    json.WriteStartArray("attributes");
                    json.WriteEndArray();
                    json.WriteStartObject("observations");
                    foreach (var row in withObservations ? series : [])
                    {
                        Observation(row, observationDimensions);
                    }
                    json.WriteEndObject();
                    json.WriteEndObject();
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();

        void Link(string rel, string urn)
        {
            json.WriteStartObject();
            json.WriteString("rel", rel);
            json.WriteString("urn", urn);
            json.WriteEndObject();
        }
        if (v2)
        {
            json.WriteStartArray("structures");
            json.WriteStartObject();
        }
        else
        {
            json.WriteStartObject("structure");
        }
        Names(english.Dataflow, spanish.Dataflow);
        json.WriteStartArray("links");
        if (v2)
        {
            Link("dataflow", SdmxStructure.DataflowUrn(structure.Version));
        }
        Link("datastructure", SdmxStructure.DataStructureUrn(structure.Version));
        json.WriteEndArray();
        void Components(string property, IReadOnlyList<string> ids, bool dimensions)
        {
            json.WriteStartArray(property);
            foreach (var id in ids)
            {
                var coded = dimensions || structure.CodelistOf(id) is not null;
                if (v2 && dimensions && values[id].Count == 0)
                {
                    // A dimension must list its values (at least one): without observations the observation dimension has none.
                    continue;
                }
                json.WriteStartObject();
                json.WriteString("id", id);
                Names(english.Component(id), spanish.Component(id));
                if (dimensions)
                {
                    json.WriteNumber("keyPosition", structure.Dimensions.ToList().IndexOf(id));
                    if (id == SdmxCsv.TimePeriodDimension)
                    {
                        if (v2)
                        {
                            json.WriteStartArray("roles");
                            json.WriteStringValue(SdmxCsv.TimePeriodDimension);
                            json.WriteEndArray();
                        }
                        else
                        {
                            json.WriteString("role", "time");
                        }
                    }
                }
                else if (v2)
                {
                    json.WriteStartObject("relationship");
                    json.WriteStartObject("observation");
                    json.WriteEndObject();
                    json.WriteEndObject();
                    if (!coded)
                    {
                        json.WriteStartObject("format");
                        json.WriteString("dataType", id is SdmxCsv.LowerBoundAttribute or SdmxCsv.SyntheticAttribute ? "Boolean" : "String");
                        json.WriteEndObject();
                    }
                }
                if (v2 && values[id].Count == 0)
                {
                    // An attribute no observation has: no values (the schema wants at least one when they are listed).
                    json.WriteEndObject();
                    continue;
                }
                json.WriteStartArray("values");
                foreach (var value in values[id])
                {
                    json.WriteStartObject();
                    if (v2 && !coded)
                    {
                        // Free text or a flag (not coded): the value itself.
                        if (id is SdmxCsv.LowerBoundAttribute or SdmxCsv.SyntheticAttribute)
                        {
                            json.WriteBoolean("value", value == "true");
                        }
                        else
                        {
                            json.WriteString("value", value);
                        }
                        json.WriteEndObject();
                        continue;
                    }
                    json.WriteString("id", value);
                    var name = Label(english, id, value);
                    var spanishName = Label(spanish, id, value);
                    Names(name.Length > 0 ? name : value, spanishName.Length > 0 ? spanishName : value);
                    if (id == SdmxCsv.TimePeriodDimension && Period.TryParse(value, out var period))
                    {
                        var zone = v2 ? "Z" : "";
                        json.WriteString("start", period.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "T00:00:00" + zone);
                        json.WriteString("end", period.End.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "T23:59:59" + zone);
                    }
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        json.WriteStartObject("dimensions");
        Components("dataSet", [], true);
        Components("series", keyDimensions, true);
        Components("observation", observationDimensions, true);
        json.WriteEndObject();
        if (v2)
        {
            json.WriteStartObject("measures");
            json.WriteStartArray("observation");
            json.WriteStartObject();
            json.WriteString("id", SdmxCsv.ValueMeasure);
            Names(english.Component(SdmxCsv.ValueMeasure), spanish.Component(SdmxCsv.ValueMeasure));
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteStartObject("attributes");
        Components("dataSet", [], false);
        Components("series", [], false);
        Components("observation", Attributes, false);
        json.WriteEndObject();
        json.WriteEndObject();
        if (v2)
        {
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.Flush();
    }

    /// <summary>The published SDMX-JSON 2.0.0 data message schema a 2.0.0 message names in <c>meta.schema</c> (at the v2.0.0 tag: master no longer holds it).</summary>
    public const string Json2Schema = "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/data-message/tools/schemas/2.0.0/sdmx-json-data-schema.json";

    private string Label(ExportLabelText labels, string component, string code) => component switch
    {
        SdmxCsv.IndicatorDimension => labels.Indicator(code),
        SdmxCsv.ReferenceAreaDimension => labels.ReferenceArea(code),
        _ when structure.CodelistOf(component) is { } list => list.Codes.FirstOrDefault(c => c.Id == code)?.Name.En ?? "",
        _ => "",
    };

    /// <summary>SDMX's firstNObservations and lastNObservations: of each series, the first <paramref name="first"/> and the last <paramref name="last"/> observations in time.</summary>
    public static IReadOnlyList<ExportRow> Trim(SdmxStructure structure, IReadOnlyList<ExportRow> rows, int? first, int? last) =>
        [.. new SdmxData(structure, [], TimeSeries).Series(rows).SelectMany(series =>
        {
            IEnumerable<ExportRow> kept = series;
            if (first is { } f)
            {
                kept = kept.Take(f);
            }
            if (last is { } l)
            {
                kept = kept.TakeLast(l);
            }
            return kept;
        })];

    /// <summary>The rows grouped into series (same key but the observation dimension), each in order along it; series in key order.</summary>
    private List<List<ExportRow>> Series(IReadOnlyList<ExportRow> rows) =>
        [.. rows
            .Select((row, index) => (row, index, key: SeriesKey(row)))
            .GroupBy(r => r.key, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => Along([.. g.Select(r => r.row)]))];

    /// <summary>A row's series key: its codes of the series dimensions (all but the one at the observation).</summary>
    private string SeriesKey(ExportRow row) => string.Join('.', SeriesDimensions.Select(d => SdmxCsv.Code(d, row)));

    /// <summary>A series' rows in order along the observation dimension: time for time series, codes (ordinal) for cross-sections.</summary>
    private List<ExportRow> Along(List<ExportRow> series) => dimensionAtObservation == TimeSeries ? InTime(series)
        : [.. series.Select((row, index) => (row, index)).OrderBy(r => SdmxCsv.Code(dimensionAtObservation, r.row), StringComparer.Ordinal)
            .ThenBy(r => r.index).Select(r => r.row)];

    /// <summary>A series' rows in time order (by the first day of their periods; rows starting the same day keep their order).</summary>
    private static List<ExportRow> InTime(List<ExportRow> series) =>
        [.. series.Select((row, index) => (row, index, start: Period.TryParse(row.Period, out var p) ? p.Start : DateOnly.MinValue))
            .OrderBy(r => r.start).ThenBy(r => r.index).Select(r => r.row)];
}
