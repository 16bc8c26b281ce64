using System.Globalization;
using System.Text.Json;
using Mirps.Catalog.V1;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// The same structures as the SDMX-ML Structure message (<see cref="Write"/>), as an SDMX-JSON structure message: 1.0.0 (SDMX 2.1)
/// or 2.0.0 (SDMX 3.0), written from the SDMX-JSON structure message field guides (sdmx-twg/sdmx-json, tags v1.0 and v2.0.0). The
/// same parts, artefacts, codes, concepts and names, never more: only the layout differs. Names follow the field guides' localised
/// text elements: <c>name</c> in the first of <paramref name="languages"/> (the reader's best match), <c>names</c> in each of them.
/// </summary>
public sealed partial class SdmxStructure
{
    /// <summary>The published SDMX-JSON 1.0 structure message schema a 1.0.0 message names in <c>meta.schema</c>.</summary>
    public const string Json1StructureSchema = "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v1.0/structure-message/tools/schemas/1.0/sdmx-json-structure-schema.json";

    /// <summary>The published SDMX-JSON 2.0.0 structure message schema a 2.0.0 message names in <c>meta.schema</c>.</summary>
    public const string Json2StructureSchema = "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/structure-message/tools/schemas/2.0.0/sdmx-json-structure-schema.json";

    /// <summary>The languages the catalogue names things in, English first (the SDMX-ML order): what a reader without a preference gets.</summary>
    public static readonly IReadOnlyList<string> Languages = ["en", "es"];

    /// <summary>
    /// Writes an SDMX-JSON structure message with <paramref name="parts"/> (the code lists named in <paramref name="codelistIds"/>, or
    /// all), in <paramref name="languages"/> (a non-empty ordered subset of <see cref="Languages"/>). Each artefact links to itself
    /// under <paramref name="restRoot"/> (the SDMX REST entry point's path, for example <c>/sdmx/rest</c>) and by its URN.
    /// </summary>
    public void WriteJson(Stream stream, Parts parts, string messageId, DateTimeOffset prepared, SdmxJsonVersion version, IReadOnlyList<string> languages,
        string restRoot, IReadOnlySet<string>? codelistIds = null)
    {
        if (languages.Count == 0 || languages.Any(l => !Languages.Contains(l)))
        {
            throw new ArgumentException($"languages must be some of {string.Join(", ", Languages)}", nameof(languages));
        }
        var v2 = version == SdmxJsonVersion.V2;
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });

        static string In(LocalizedText text, string language) => language == "es" ? text.Es : text.En;
        // The best match first: the first asked language the text has (else any it has), then every asked language it has.
        void Names(LocalizedText text)
        {
            var present = languages.Where(l => In(text, l).Length > 0).ToList();
            if (present.Count == 0)
            {
                present = [.. Languages.Where(l => In(text, l).Length > 0)];
            }
            if (present.Count == 0)
            {
                return;
            }
            json.WriteString("name", In(text, present[0]));
            json.WriteStartObject("names");
            foreach (var language in present)
            {
                json.WriteString(language, In(text, language));
            }
            json.WriteEndObject();
        }
        void Link(string rel, string href, string urn)
        {
            json.WriteStartObject();
            json.WriteString("href", href);
            json.WriteString("rel", rel);
            json.WriteString("urn", urn);
            json.WriteEndObject();
        }
        // The properties every maintainable artefact has; the caller closes the object.
        void Maintainable(string resource, string id, string urn, LocalizedText name)
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("agencyID", Agency);
            json.WriteString("version", Version);
            if (!v2)
            {
                json.WriteBoolean("isFinal", true);
            }
            Names(name);
            json.WriteStartArray("links");
            Link("self", $"{restRoot}/{resource}/{Agency}/{id}/{Version}", urn);
            json.WriteEndArray();
        }
        // A component's concept and representation: its code list, or its text type (1.0.0's textFormat, 2.0.0's format).
        void Component(string id)
        {
            json.WriteString("conceptIdentity", ConceptUrn(id));
            json.WriteStartObject("localRepresentation");
            if (CodelistOf(id) is { } list)
            {
                json.WriteString("enumeration", CodelistUrn(list.Id));
            }
            else
            {
                json.WriteStartObject(v2 ? "format" : "textFormat");
                json.WriteString(v2 ? "dataType" : "textType", TextType(id));
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }

        json.WriteStartObject();
        json.WriteStartObject("meta");
        json.WriteString("schema", v2 ? Json2StructureSchema : Json1StructureSchema);
        json.WriteString("id", messageId);
        json.WriteBoolean("test", false);
        json.WriteString("prepared", prepared.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        json.WriteStartArray("contentLanguages");
        foreach (var language in languages)
        {
            json.WriteStringValue(language);
        }
        json.WriteEndArray();
        json.WriteStartObject("sender");
        json.WriteString("id", Agency);
        json.WriteEndObject();
        json.WriteEndObject();

        json.WriteStartObject("data");
        if (parts.HasFlag(Parts.Dataflow))
        {
            json.WriteStartArray("dataflows");
            Maintainable("dataflow", DataflowId, DataflowUrn(Version), Pick(e => e.Dataflow));
            json.WriteString("structure", DataStructureUrn(Version));
            json.WriteEndObject();
            json.WriteEndArray();
        }
        if (parts.HasFlag(Parts.DataStructure))
        {
            json.WriteStartArray("dataStructures");
            Maintainable("datastructure", DataStructureId, DataStructureUrn(Version), Pick(e => e.Dataflow));
            json.WriteStartObject("dataStructureComponents");
            json.WriteStartObject("attributeList");
            json.WriteString("id", "AttributeDescriptor");
            json.WriteStartArray("attributes");
            foreach (var id in Attributes)
            {
                json.WriteStartObject();
                json.WriteString("id", id);
                // Attached to the observation: 1.0.0 names the primary measure, 2.0.0 the observation level.
                if (v2)
                {
                    json.WriteString("usage", IsMandatory(id) ? "mandatory" : "optional");
                }
                else
                {
                    json.WriteString("assignmentStatus", IsMandatory(id) ? "Mandatory" : "Conditional");
                }
                json.WriteStartObject("attributeRelationship");
                if (v2)
                {
                    json.WriteStartObject("observation");
                    json.WriteEndObject();
                }
                else
                {
                    json.WriteString("primaryMeasure", SdmxCsv.ValueMeasure);
                }
                json.WriteEndObject();
                Component(id);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject(); // attributeList
            json.WriteStartObject("dimensionList");
            json.WriteString("id", "DimensionDescriptor");
            json.WriteStartArray("dimensions");
            for (var i = 0; i < KeyDimensions.Count; i++)
            {
                json.WriteStartObject();
                json.WriteString("id", KeyDimensions[i]);
                json.WriteNumber("position", i);
                if (!v2)
                {
                    json.WriteString("type", "Dimension");
                }
                Component(KeyDimensions[i]);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            // The time dimension: 1.0.0 lists time dimensions, 2.0.0 has one.
            if (v2)
            {
                json.WriteStartObject("timeDimension");
            }
            else
            {
                json.WriteStartArray("timeDimensions");
                json.WriteStartObject();
            }
            json.WriteString("id", SdmxCsv.TimePeriodDimension);
            if (!v2)
            {
                json.WriteNumber("position", KeyDimensions.Count);
                json.WriteString("type", "TimeDimension");
            }
            Component(SdmxCsv.TimePeriodDimension);
            json.WriteEndObject();
            if (!v2)
            {
                json.WriteEndArray();
            }
            json.WriteEndObject(); // dimensionList
            json.WriteStartObject("measureList");
            json.WriteString("id", "MeasureDescriptor");
            // 1.0.0 has one primary measure, 2.0.0 a list of measures.
            if (v2)
            {
                json.WriteStartArray("measures");
                json.WriteStartObject();
            }
            else
            {
                json.WriteStartObject("primaryMeasure");
            }
            json.WriteString("id", SdmxCsv.ValueMeasure);
            Component(SdmxCsv.ValueMeasure);
            if (v2)
            {
                json.WriteString("usage", "optional"); // a withheld or deleted value has none
                json.WriteEndObject();
                json.WriteEndArray();
            }
            else
            {
                json.WriteEndObject();
            }
            json.WriteEndObject(); // measureList
            json.WriteEndObject(); // dataStructureComponents
            json.WriteEndObject();
            json.WriteEndArray();
        }
        if (parts.HasFlag(Parts.ConceptScheme))
        {
            json.WriteStartArray("conceptSchemes");
            Maintainable("conceptscheme", ConceptSchemeId, ConceptSchemeUrn, Pick(e => e.Dataflow));
            json.WriteBoolean("isPartial", false);
            json.WriteStartArray("concepts");
            foreach (var id in Components)
            {
                json.WriteStartObject();
                json.WriteString("id", id);
                Names(Pick(e => e.Component(id)));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
        }
        if (parts.HasFlag(Parts.Codelists))
        {
            json.WriteStartArray("codelists");
            foreach (var list in Codelists.Where(c => codelistIds is null || codelistIds.Contains(c.Id)))
            {
                Maintainable("codelist", list.Id, CodelistUrn(list.Id), list.Name);
                json.WriteBoolean("isPartial", false);
                json.WriteStartArray("codes");
                foreach (var code in list.Codes)
                {
                    json.WriteStartObject();
                    json.WriteString("id", code.Id);
                    Names(code.Name);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        json.WriteEndObject(); // data
        json.WriteEndObject();
        json.Flush();
    }
}
