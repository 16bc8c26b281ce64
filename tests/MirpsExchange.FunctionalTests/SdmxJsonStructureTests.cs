using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Json.Schema;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using static MirpsExchange.FunctionalTests.SdmxRestTests;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// SDMX-JSON structure messages, 1.0.0 and 2.0.0 (issue 14, item 4), from a real node over HTTP/1.1: each answer passes our own JSON
/// schema reading of its field guide (Sdmx/sdmx-json-structure-{1.0.0,2.0.0}.checks.json, not the published schemas) and says
/// exactly what the SDMX-ML structure message for the same query says (the same artefacts, codes, concepts, components and names),
/// in the reader's languages; and another State learns nothing from it that SDMX-ML does not tell it.
/// </summary>
public class SdmxJsonStructureTests
{
    internal const string Json1 = "application/vnd.sdmx.structure+json;version=1.0.0";
    internal const string Json2 = "application/vnd.sdmx.structure+json;version=2.0.0";
    private static readonly XNamespace Structure = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure";
    private static readonly XNamespace Common = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common";
    private static readonly XNamespace Xml = "http://www.w3.org/XML/1998/namespace";

    /// <summary>Structure queries: each resource alone and with each kind of reference, by id and by wildcards.</summary>
    private static readonly string[] Queries =
    [
        "dataflow/MIRPS/DF_MIRPS_PROTECTION/latest", "dataflow/MIRPS/DF_MIRPS_PROTECTION/latest?references=descendants",
        "dataflow/all/all/all?references=all", "datastructure/MIRPS/DSD_MIRPS_PROTECTION/latest?references=children",
        "datastructure/MIRPS/all/latest?references=parents", "codelist/MIRPS/CL_SEX", "codelist/MIRPS/CL_SEX+CL_AGE/latest?references=parentsandsiblings",
        "codelist/MIRPS/all/latest", "conceptscheme/MIRPS/CS_MIRPS_PROTECTION/latest", "conceptscheme/all/all/latest?references=all",
        "structure/MIRPS/all/latest", "datastructure/MIRPS/DSD_MIRPS_PROTECTION/latest?references=codelist",
    ];

    private static readonly Dictionary<string, Lazy<JsonSchema>> Schemas = new()
    {
        [Json1] = new(() => Load("sdmx-json-structure-1.0.0.checks.json")),
        [Json2] = new(() => Load("sdmx-json-structure-2.0.0.checks.json")),
    };

    private static JsonSchema Load(string file) => JsonSchema.FromText(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Sdmx", file)));

    /// <summary>Fails with the check's errors unless <paramref name="body"/> is a valid SDMX-JSON structure message of <paramref name="version"/> (a media type).</summary>
    internal static void AssertValid(string body, string version)
    {
        using var document = JsonDocument.Parse(body);
        var result = Schemas[version].Value.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        var errors = (result.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 } && !d.EvaluationPath.ToString().Contains("/not", StringComparison.Ordinal))
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key} {e.Value}"));
        Assert.True(result.IsValid, $"not SDMX-JSON {version}: " + string.Join("; ", errors.Take(20)));
        // What a schema cannot say: the items of an item scheme are unique by id.
        foreach (var scheme in Artefacts(document.RootElement, "codelists", "conceptSchemes"))
        {
            var items = scheme.Value.GetProperty(scheme.Items).EnumerateArray().Select(i => i.GetProperty("id").GetString()).ToList();
            Assert.Equal(items.Count, items.Distinct().Count());
        }
    }

    private static IEnumerable<(string Items, JsonElement Value)> Artefacts(JsonElement message, params string[] types)
    {
        if (!message.TryGetProperty("data", out var data))
        {
            yield break;
        }
        foreach (var type in types)
        {
            if (data.TryGetProperty(type, out var list))
            {
                foreach (var artefact in list.EnumerateArray())
                {
                    yield return (type == "codelists" ? "codes" : "concepts", artefact);
                }
            }
        }
    }

    /// <summary>What an SDMX-ML Structure message says: its artefacts, items, components (with their code lists) and every name in every language.</summary>
    internal static SortedSet<string> FactsOfXml(string body)
    {
        var facts = new SortedSet<string>(StringComparer.Ordinal);
        var document = XDocument.Parse(body);
        void Names(string owner, XElement element)
        {
            foreach (var name in element.Elements(Common + "Name"))
            {
                facts.Add($"{owner} name {(string)name.Attribute(Xml + "lang")!}: {name.Value}");
            }
        }
        foreach (var type in new[] { "Dataflow", "DataStructure", "ConceptScheme", "Codelist" })
        {
            foreach (var artefact in document.Descendants(Structure + type))
            {
                var owner = $"{type} {(string)artefact.Attribute("agencyID")!}:{(string)artefact.Attribute("id")!}({(string)artefact.Attribute("version")!})";
                facts.Add(owner);
                Names(owner, artefact);
                foreach (var item in artefact.Elements(Structure + "Code").Concat(artefact.Elements(Structure + "Concept")))
                {
                    facts.Add($"{owner} item {(string)item.Attribute("id")!}");
                    Names($"{owner} item {(string)item.Attribute("id")!}", item);
                }
                // The components (an attribute's relationship names the primary measure by reference, without an id of its own).
                foreach (var component in artefact.Descendants().Where(e => (e.Name == Structure + "Dimension" || e.Name == Structure + "TimeDimension"
                    || e.Name == Structure + "Attribute" || e.Name == Structure + "PrimaryMeasure") && e.Attribute("id") is not null))
                {
                    var representation = component.Element(Structure + "LocalRepresentation")!;
                    var list = representation.Element(Structure + "Enumeration")?.Element("Ref")?.Attribute("id")?.Value;
                    var text = representation.Element(Structure + "TextFormat")?.Attribute("textType")?.Value;
                    facts.Add($"{owner} component {(string)component.Attribute("id")!} {list ?? text}");
                }
                if (artefact.Element(Structure + "Structure")?.Element("Ref") is { } structure)
                {
                    facts.Add($"{owner} structure {(string)structure.Attribute("id")!}");
                }
            }
        }
        return facts;
    }

    /// <summary>What an SDMX-JSON structure message (1.0.0 or 2.0.0) says, read from its field guide, in the same terms as <see cref="FactsOfXml"/>.</summary>
    internal static SortedSet<string> FactsOfJson(string body)
    {
        var facts = new SortedSet<string>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(body);
        void Names(string owner, JsonElement element)
        {
            if (element.TryGetProperty("names", out var names))
            {
                foreach (var name in names.EnumerateObject())
                {
                    facts.Add($"{owner} name {name.Name}: {name.Value.GetString()}");
                }
            }
        }
        static string IdOfUrn(string urn) => urn[(urn.IndexOf(':', urn.IndexOf('=', StringComparison.Ordinal)) + 1)..urn.IndexOf('(', StringComparison.Ordinal)];
        var data = document.RootElement.GetProperty("data");
        foreach (var (type, property) in new[] { ("Dataflow", "dataflows"), ("DataStructure", "dataStructures"), ("ConceptScheme", "conceptSchemes"), ("Codelist", "codelists") })
        {
            if (!data.TryGetProperty(property, out var list))
            {
                continue;
            }
            foreach (var artefact in list.EnumerateArray())
            {
                var owner = $"{type} {artefact.GetProperty("agencyID").GetString()}:{artefact.GetProperty("id").GetString()}({artefact.GetProperty("version").GetString()})";
                facts.Add(owner);
                Names(owner, artefact);
                foreach (var items in new[] { "codes", "concepts" })
                {
                    if (!artefact.TryGetProperty(items, out var found))
                    {
                        continue;
                    }
                    foreach (var item in found.EnumerateArray())
                    {
                        facts.Add($"{owner} item {item.GetProperty("id").GetString()}");
                        Names($"{owner} item {item.GetProperty("id").GetString()}", item);
                    }
                }
                if (artefact.TryGetProperty("structure", out var structure))
                {
                    facts.Add($"{owner} structure {IdOfUrn(structure.GetString()!)}");
                }
                if (!artefact.TryGetProperty("dataStructureComponents", out var components))
                {
                    continue;
                }
                var all = new List<JsonElement>();
                foreach (var (listName, itemsName) in new[] { ("dimensionList", "dimensions"), ("dimensionList", "timeDimensions"), ("attributeList", "attributes"), ("measureList", "measures") })
                {
                    if (components.TryGetProperty(listName, out var group) && group.TryGetProperty(itemsName, out var members))
                    {
                        all.AddRange(members.EnumerateArray());
                    }
                }
                foreach (var single in new[] { ("dimensionList", "timeDimension"), ("measureList", "primaryMeasure") })
                {
                    if (components.TryGetProperty(single.Item1, out var group) && group.TryGetProperty(single.Item2, out var member))
                    {
                        all.Add(member);
                    }
                }
                foreach (var component in all)
                {
                    var representation = component.GetProperty("localRepresentation");
                    var shown = representation.TryGetProperty("enumeration", out var enumeration) ? IdOfUrn(enumeration.GetString()!)
                        : (representation.TryGetProperty("format", out var format) ? format : representation.GetProperty("textFormat"))
                            .EnumerateObject().Single(p => p.Name is "dataType" or "textType").Value.GetString();
                    facts.Add($"{owner} component {component.GetProperty("id").GetString()} {shown}");
                }
            }
        }
        return facts;
    }

    private static async Task<string> StructureAsync(TestNode node, string query, string token, string accept, string? language = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, node.HttpAddress + "/sdmx/rest/" + query) { Version = HttpVersion.Version11 };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        if (language is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Language", language);
        }
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query} ({accept}): {response.StatusCode} {body}");
        var type = response.Content.Headers.ContentType!;
        Assert.Equal(accept, $"{type.MediaType};version={type.Parameters.Single(p => p.Name == "version").Value}");
        if (accept != "application/vnd.sdmx.structure+xml;version=2.1")
        {
            AssertValid(body, accept);
        }
        return body;
    }

    [Fact]
    public async Task Structure_queries_in_SDMX_JSON_1_and_2_are_valid_and_say_exactly_what_the_SDMX_ML_structure_says()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        var token = await TokenAsync(node, "CRI");
        foreach (var query in Queries)
        {
            var xml = FactsOfXml(await StructureAsync(node, query, token, "application/vnd.sdmx.structure+xml;version=2.1"));
            Assert.NotEmpty(xml);
            foreach (var accept in new[] { Json1, Json2 })
            {
                Assert.Equal(xml, FactsOfJson(await StructureAsync(node, query, token, accept)));
            }
        }

        // The layout of each version: 1.0.0 a primary measure, time dimensions and attributes attached to it; 2.0.0 measures, one
        // time dimension and attributes at the observation; each artefact linking to itself.
        using (var v1 = JsonDocument.Parse(await StructureAsync(node, "datastructure/MIRPS/DSD_MIRPS_PROTECTION/latest", token, Json1)))
        {
            var components = v1.RootElement.GetProperty("data").GetProperty("dataStructures")[0].GetProperty("dataStructureComponents");
            Assert.Equal("OBS_VALUE", components.GetProperty("measureList").GetProperty("primaryMeasure").GetProperty("id").GetString());
            Assert.Equal("TIME_PERIOD", components.GetProperty("dimensionList").GetProperty("timeDimensions")[0].GetProperty("id").GetString());
            Assert.Equal(Dimensions[..^1], components.GetProperty("dimensionList").GetProperty("dimensions").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
            Assert.All(components.GetProperty("attributeList").GetProperty("attributes").EnumerateArray(),
                a => Assert.Equal("OBS_VALUE", a.GetProperty("attributeRelationship").GetProperty("primaryMeasure").GetString()));
        }
        using (var v2 = JsonDocument.Parse(await StructureAsync(node, "dataflow/MIRPS/DF_MIRPS_PROTECTION/latest?references=descendants", token, Json2)))
        {
            var data = v2.RootElement.GetProperty("data");
            var flow = data.GetProperty("dataflows")[0];
            Assert.Equal("/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/2.1.0", flow.GetProperty("links")[0].GetProperty("href").GetString());
            var components = data.GetProperty("dataStructures")[0].GetProperty("dataStructureComponents");
            Assert.Equal("OBS_VALUE", components.GetProperty("measureList").GetProperty("measures")[0].GetProperty("id").GetString());
            Assert.Equal("TIME_PERIOD", components.GetProperty("dimensionList").GetProperty("timeDimension").GetProperty("id").GetString());
            Assert.All(components.GetProperty("attributeList").GetProperty("attributes").EnumerateArray(),
                a => Assert.Equal(JsonValueKind.Object, a.GetProperty("attributeRelationship").GetProperty("observation").ValueKind));
            Assert.Equal(["CL_INDICATOR", "CL_MIRPS_STATE"], data.GetProperty("codelists").EnumerateArray().Take(2).Select(c => c.GetProperty("id").GetString()));
        }

        // format= for clients that cannot set Accept, with the SDMX REST extension's formatVersion.
        foreach (var (format, expected) in new[] { ("jsonstructure", Json1), ("jsonstructure&formatVersion=2.0.0", Json2), ("sdmx-json", Json1), ("sdmx-json2", Json2),
            ("structure", "application/vnd.sdmx.structure+xml;version=2.1") })
        {
            var (status, type, body, _) = await GetAsync(node, $"/sdmx/rest/codelist/MIRPS/CL_SEX?format={format}", token);
            Assert.Equal((HttpStatusCode.OK, expected), (status, type));
            Assert.Contains("CL_SEX", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task SDMX_JSON_structure_names_are_in_the_readers_languages_best_match_first()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        var token = await TokenAsync(node, "CRI");
        const string Query = "codelist/MIRPS/CL_INDICATOR";
        // The REFUGEES code's best-match name, its localised names and the message's languages, as one line.
        static string Refugees(string body)
        {
            using var document = JsonDocument.Parse(body);
            var code = document.RootElement.GetProperty("data").GetProperty("codelists")[0].GetProperty("codes").EnumerateArray().Single(c => c.GetProperty("id").GetString() == "REFUGEES");
            return $"{code.GetProperty("name").GetString()} | {string.Join(", ", code.GetProperty("names").EnumerateObject().Select(n => $"{n.Name}={n.Value.GetString()}"))} | "
                + string.Join(", ", document.RootElement.GetProperty("meta").GetProperty("contentLanguages").EnumerateArray().Select(l => l.GetString()));
        }
        foreach (var accept in new[] { Json1, Json2 })
        {
            // No preference (or none served): both, English first as in SDMX-ML.
            foreach (var language in new[] { null, "fr-FR", "*" })
            {
                Assert.Equal("Refugees | en=Refugees, es=Personas refugiadas | en, es", Refugees(await StructureAsync(node, Query, token, accept, language)));
            }
            // Spanish only; a regional Spanish first, then English.
            Assert.Equal("Personas refugiadas | es=Personas refugiadas | es", Refugees(await StructureAsync(node, Query, token, accept, "es")));
            Assert.Equal("Personas refugiadas | es=Personas refugiadas, en=Refugees | es, en", Refugees(await StructureAsync(node, Query, token, accept, "es-MX, en;q=0.5, fr;q=0.2")));
        }
        // The lang parameter overrides Accept-Language; a language not served is 406; Content-Language says what was written.
        var (status, _, body, response) = await GetAsync(node, $"/sdmx/rest/{Query}?lang=en&format=jsonstructure", token);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("en", Assert.Single(response.Content.Headers.ContentLanguage));
        Assert.Equal("Refugees | en=Refugees | en", Refugees(body));
        var refused = await GetAsync(node, $"/sdmx/rest/{Query}?lang=fr&format=jsonstructure", token);
        Assert.Equal((HttpStatusCode.NotAcceptable, "1000"), (refused.Status, ErrorCode(refused.Body)));
    }

    [Fact]
    public async Task Another_State_asking_for_SDMX_JSON_structures_learns_nothing_the_SDMX_ML_structure_does_not_say()
    {
        // Belize holds figures Costa Rica may not read (Secretariat-only, embargoed, a small count with a note), and its own figures.
        var release = DateTimeOffset.UtcNow.AddHours(1).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        await using var belize = await TestNode.StartAsync("BLZ", null, [HttpPort,
            .. SharingPolicyTests.Policy(("REFUGEES", "Readers", "all"), ("REFUGEES", "SmallCountThreshold", "5"),
                ("ASYLUM_APPLICATIONS", "Readers", "secretariat"), ("IDPS", "Readers", "all"), ("IDPS", "ReleaseTime", release))]);
        var small = Refugees(sex: "M", value: 3);
        small.Note = "3 men at the northern border";
        var idps = Refugees(value: 7777777);
        idps.IndicatorCode = "IDPS";
        idps.CountryOfOrigin = "";
        await belize.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 98761), small, Refugees(value: 98764),
            SharingPolicyTests.Applications(value: 4242424), idps));
        var costaRica = await TokenAsync(belize, "CRI");

        // Every structure query, in both versions and every language choice: valid, the SDMX-ML message's facts and no more, and
        // nothing of the data (no value, note, or sign of which codes hold figures: every code list is whole, isPartial false).
        foreach (var query in Queries)
        {
            var xml = FactsOfXml(await StructureAsync(belize, query, costaRica, "application/vnd.sdmx.structure+xml;version=2.1"));
            foreach (var accept in new[] { Json1, Json2 })
            {
                foreach (var language in new[] { null, "es", "en", "es-MX, en;q=0.1" })
                {
                    var body = await StructureAsync(belize, query, costaRica, accept, language);
                    var json = FactsOfJson(body);
                    Assert.Subset(xml, json);
                    Assert.Equal(xml.Where(f => !f.Contains(" name ", StringComparison.Ordinal)), json.Where(f => !f.Contains(" name ", StringComparison.Ordinal)));
                    foreach (var secret in new[] { "98761", "98764", "3 men", "4242424", "7777777", "northern" })
                    {
                        Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
                    }
                    using var document = JsonDocument.Parse(body);
                    Assert.All(Artefacts(document.RootElement, "codelists", "conceptSchemes"), a => Assert.False(a.Value.GetProperty("isPartial").GetBoolean()));
                }
            }
        }
        // The same message whoever asks: Costa Rica's answer is the owner's and the Secretariat's, but for the message's id and time.
        static string Stable(string body)
        {
            var message = JsonNode.Parse(body)!;
            message["meta"]!.AsObject().Remove("id");
            message["meta"]!.AsObject().Remove("prepared");
            return message.ToJsonString();
        }
        foreach (var accept in new[] { Json1, Json2 })
        {
            var theirs = Stable(await StructureAsync(belize, "structure/MIRPS/all/latest", costaRica, accept));
            foreach (var reader in new[] { "BLZ", "" })
            {
                Assert.Equal(Stable(await StructureAsync(belize, "structure/MIRPS/all/latest", await TokenAsync(belize, reader), accept)), theirs);
            }
        }
        // And without a valid token for this node, nothing at all.
        var anonymous = await GetAsync(belize, "/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest?references=all", null, Json2);
        Assert.Equal((HttpStatusCode.Unauthorized, "110"), (anonymous.Status, ErrorCode(anonymous.Body)));
    }

    [Fact]
    public void The_schema_checks_fail_a_message_that_breaks_the_standard()
    {
        // A small valid message of each version passes; each break below, made to a copy of it, fails.
        const string Valid1 = """
            {"meta":{"id":"X","prepared":"2026-12-07T10:00:00Z","sender":{"id":"MIRPS"}},
             "data":{"dataflows":[{"id":"DF","agencyID":"MIRPS","version":"1.0.0","isFinal":true,"name":"Flow","names":{"en":"Flow"},
                                   "links":[{"href":"/dataflow/MIRPS/DF/1.0.0","rel":"self","urn":"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=MIRPS:DF(1.0.0)"}],
                                   "structure":"urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=MIRPS:DSD(1.0.0)"}],
               "dataStructures":[{"id":"DSD","agencyID":"MIRPS","version":"1.0.0","name":"DSD","names":{"en":"DSD"},
                                  "links":[{"href":"/datastructure/MIRPS/DSD/1.0.0","rel":"self","urn":"urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=MIRPS:DSD(1.0.0)"}],
                 "dataStructureComponents":{
                   "attributeList":{"id":"AttributeDescriptor","attributes":[{"id":"OBS_STATUS","assignmentStatus":"Mandatory","attributeRelationship":{"primaryMeasure":"OBS_VALUE"},
                     "conceptIdentity":"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=MIRPS:CS(1.0.0).OBS_STATUS","localRepresentation":{"enumeration":"urn:sdmx:org.sdmx.infomodel.codelist.Codelist=MIRPS:CL_OBS_STATUS(1.0.0)"}}]},
                   "dimensionList":{"id":"DimensionDescriptor","dimensions":[{"id":"SEX","position":0,"type":"Dimension","conceptIdentity":"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=MIRPS:CS(1.0.0).SEX",
                     "localRepresentation":{"enumeration":"urn:sdmx:org.sdmx.infomodel.codelist.Codelist=MIRPS:CL_SEX(1.0.0)"}}],
                     "timeDimensions":[{"id":"TIME_PERIOD","position":1,"type":"TimeDimension","conceptIdentity":"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=MIRPS:CS(1.0.0).TIME_PERIOD",
                       "localRepresentation":{"textFormat":{"textType":"ObservationalTimePeriod"}}}]},
                   "measureList":{"id":"MeasureDescriptor","primaryMeasure":{"id":"OBS_VALUE","conceptIdentity":"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=MIRPS:CS(1.0.0).OBS_VALUE",
                     "localRepresentation":{"textFormat":{"textType":"Double"}}}}}}],
               "codelists":[{"id":"CL_SEX","agencyID":"MIRPS","version":"1.0.0","name":"Sex","names":{"en":"Sex","es":"Sexo"},"isPartial":false,
                             "links":[{"href":"/codelist/MIRPS/CL_SEX/1.0.0","rel":"self","urn":"urn:sdmx:org.sdmx.infomodel.codelist.Codelist=MIRPS:CL_SEX(1.0.0)"}],
                             "codes":[{"id":"F","name":"Female","names":{"en":"Female"}},{"id":"_Z","name":"Not applicable","names":{"en":"Not applicable"}}]}]}}
            """;
        AssertValid(Valid1, Json1);
        // The same message in 2.0.0's layout.
        var valid2 = JsonNode.Parse(Valid1)!;
        Dsd(valid2).AsObject().Remove("isFinal");
        valid2["data"]!["dataflows"]![0]!.AsObject().Remove("isFinal");
        valid2["data"]!["codelists"]![0]!.AsObject().Remove("isFinal");
        var components = Dsd(valid2)["dataStructureComponents"]!;
        var attribute = components["attributeList"]!["attributes"]![0]!.AsObject();
        attribute.Remove("assignmentStatus");
        attribute["usage"] = "mandatory";
        attribute["attributeRelationship"] = new JsonObject { ["observation"] = new JsonObject() };
        var dimensions = components["dimensionList"]!.AsObject();
        dimensions["dimensions"]![0]!.AsObject().Remove("type");
        var time = dimensions["timeDimensions"]![0]!.DeepClone().AsObject();
        dimensions.Remove("timeDimensions");
        time.Remove("type");
        time.Remove("position");
        time["localRepresentation"] = new JsonObject { ["format"] = new JsonObject { ["dataType"] = "ObservationalTimePeriod" } };
        dimensions["timeDimension"] = time;
        var measure = components["measureList"]!["primaryMeasure"]!.DeepClone().AsObject();
        measure["localRepresentation"] = new JsonObject { ["format"] = new JsonObject { ["dataType"] = "Double" } };
        components["measureList"] = new JsonObject { ["id"] = "MeasureDescriptor", ["measures"] = new JsonArray(measure) };
        var valid2Text = valid2.ToJsonString();
        AssertValid(valid2Text, Json2);

        static JsonNode Dsd(JsonNode m) => m["data"]!["dataStructures"]![0]!;
        static string Broken(string valid, Action<JsonNode> change)
        {
            var message = JsonNode.Parse(valid)!;
            change(message);
            return message.ToJsonString();
        }
        var broken = new List<(string What, string Version, string Message)>
        {
            ("a 1.0.0 message in place of a 2.0.0 one", Json2, Valid1),
            ("a 2.0.0 message in place of a 1.0.0 one", Json1, valid2Text),
        };
        foreach (var (version, valid) in new[] { (Json1, Valid1), (Json2, valid2Text) })
        {
            broken.AddRange(new (string, Action<JsonNode>)[]
            {
                ("no meta", m => m.AsObject().Remove("meta")),
                ("prepared without its time zone", m => m["meta"]!["prepared"] = "2026-12-07T10:00:00"),
                ("data and errors together", m => m["errors"] = new JsonArray(new JsonObject { ["code"] = 500 })),
                ("an artefact type the standard does not have", m => m["data"]!["dataflowz"] = new JsonArray(new JsonObject())),
                ("an empty list of artefacts", m => m["data"]!["codelists"] = new JsonArray()),
                ("an artefact without its agency", m => m["data"]!["codelists"]![0]!.AsObject().Remove("agencyID")),
                ("a name without its localised names", m => m["data"]!["codelists"]![0]!.AsObject().Remove("names")),
                ("names keyed by something not a language", m => m["data"]!["codelists"]![0]!["names"] = new JsonObject { ["English language"] = "Sex" }),
                ("a link without its rel", m => m["data"]!["codelists"]![0]!["links"]![0]!.AsObject().Remove("rel")),
                ("an artefact whose first link is not itself", m => m["data"]!["codelists"]![0]!["links"]![0]!["rel"] = "codelist"),
                ("a code without an id", m => m["data"]!["codelists"]![0]!["codes"]![0]!.AsObject().Remove("id")),
                ("a dimension without its concept", m => Dsd(m)["dataStructureComponents"]!["dimensionList"]!["dimensions"]![0]!.AsObject().Remove("conceptIdentity")),
                ("a representation both coded and not", m => Dsd(m)["dataStructureComponents"]!["dimensionList"]!["dimensions"]![0]!["localRepresentation"]![version == Json1 ? "textFormat" : "format"] =
                    new JsonObject { [version == Json1 ? "textType" : "dataType"] = "String" }),
                ("a concept identity that is not a URN", m => Dsd(m)["dataStructureComponents"]!["attributeList"]!["attributes"]![0]!["conceptIdentity"] = "OBS_STATUS"),
                ("an attribute without its relationship", m => Dsd(m)["dataStructureComponents"]!["attributeList"]!["attributes"]![0]!.AsObject().Remove("attributeRelationship")),
                ("a data structure without dimensions", m => Dsd(m)["dataStructureComponents"]!.AsObject().Remove("dimensionList")),
                ("a time dimension with a code list", m => (version == Json1
                    ? Dsd(m)["dataStructureComponents"]!["dimensionList"]!["timeDimensions"]![0]!
                    : Dsd(m)["dataStructureComponents"]!["dimensionList"]!["timeDimension"]!)["localRepresentation"] =
                        new JsonObject { ["enumeration"] = "urn:sdmx:org.sdmx.infomodel.codelist.Codelist=MIRPS:CL_SEX(1.0.0)" }),
                ("an unknown data type", m => Dsd(m)["dataStructureComponents"]!["dimensionList"]!["dimensions"]![0]!["localRepresentation"] = version == Json1
                    ? new JsonObject { ["textFormat"] = new JsonObject { ["textType"] = "Colour" } }
                    : new JsonObject { ["format"] = new JsonObject { ["dataType"] = "Colour" } }),
            }.Select(b => ($"{b.Item1} ({version})", version, Broken(valid, b.Item2))));
        }
        broken.Add(("an attribute attached two ways (2.0.0)", Json2, Broken(valid2Text, m =>
            Dsd(m)["dataStructureComponents"]!["attributeList"]!["attributes"]![0]!["attributeRelationship"]!["dataflow"] = new JsonObject())));
        broken.Add(("isFinal in 2.0.0", Json2, Broken(valid2Text, m => m["data"]!["codelists"]![0]!["isFinal"] = true)));
        broken.Add(("a usage the standard does not have (2.0.0)", Json2, Broken(valid2Text, m =>
            Dsd(m)["dataStructureComponents"]!["attributeList"]!["attributes"]![0]!["usage"] = "Conditional")));
        broken.Add(("an assignment status the standard does not have (1.0.0)", Json1, Broken(Valid1, m =>
            Dsd(m)["dataStructureComponents"]!["attributeList"]!["attributes"]![0]!["assignmentStatus"] = "optional")));
        broken.Add(("a duplicate code (1.0.0)", Json1, Broken(Valid1, m => m["data"]!["codelists"]![0]!["codes"]!.AsArray().Add(new JsonObject { ["id"] = "F", ["name"] = "F", ["names"] = new JsonObject { ["en"] = "F" } }))));
        foreach (var (what, version, message) in broken)
        {
            var failed = Record.Exception(() => AssertValid(message, version));
            Assert.True(failed is Xunit.Sdk.XunitException, $"the check passed {what}");
        }
    }
}
