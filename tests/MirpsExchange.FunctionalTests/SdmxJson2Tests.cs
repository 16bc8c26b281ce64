using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using static MirpsExchange.FunctionalTests.SdmxRestTests;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// SDMX-JSON 2.0.0 data messages (issue 14, item 4) from a real node: every answer passes our own JSON schema check of the standard
/// (Sdmx/sdmx-json-data-2.0.0.checks.json, written from the SDMX-JSON 2.0.0 field guide, not the published schema) and, read back as the field guide describes,
/// holds the StreamObservations answer to the same caller, for time series, cross-sections, flat, series keys only and history.
/// The sharing policy over SDMX-JSON 2.0.0 is in <see cref="SdmxRestTests"/> beside the other formats.
/// </summary>
public class SdmxJson2Tests
{
    internal const string Json2 = "application/vnd.sdmx.data+json;version=2.0.0";
    private const string All = "/sdmx/rest/data/DF_MIRPS_PROTECTION/all";

    // Our own reading of SDMX-JSON 2.0.0 (draft 2020-12); its description names the field guide's sections it checks.
    private static readonly Lazy<JsonSchema> Schema = new(() =>
        JsonSchema.FromText(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Sdmx", "sdmx-json-data-2.0.0.checks.json"))));

    /// <summary>Fails with the check's errors unless <paramref name="body"/> is a valid SDMX-JSON 2.0.0 data message.</summary>
    internal static void AssertValid(string body)
    {
        using var document = JsonDocument.Parse(body);
        var result = Schema.Value.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        // The failures inside a "not" are what the check wants (a dimension has no relationship...): listed, they would hide the real
        // ones; those inside one branch of an anyOf or oneOf come last (another branch may have held).
        var errors = (result.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 } && !d.EvaluationPath.ToString().Contains("/not", StringComparison.Ordinal))
            .OrderBy(d => d.EvaluationPath.ToString() is var path && (path.Contains("/anyOf/", StringComparison.Ordinal) || path.Contains("/oneOf/", StringComparison.Ordinal)))
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key} {e.Value}"));
        Assert.True(result.IsValid, "not SDMX-JSON 2.0.0: " + string.Join("; ", errors.Take(20)));
    }

    /// <summary>
    /// An SDMX-JSON 2.0.0 data message read as its field guide describes (not from the server's code): the structure's dimensions at
    /// series and observation level, keys as positions in their values, an observation as its measures then its attributes (positions
    /// when the attribute lists values, the values themselves when not); series or, flat, observations at the data set.
    /// </summary>
    internal static List<string> ReadJson2(string body)
    {
        using var document = JsonDocument.Parse(body);
        var data = document.RootElement.GetProperty("data");
        var structure = Assert.Single(data.GetProperty("structures").EnumerateArray());
        List<(string Id, List<JsonElement>? Values)> Components(JsonElement level, string at) =>
            level.TryGetProperty(at, out var list)
                ? [.. list.EnumerateArray().Select(c => (c.GetProperty("id").GetString()!, c.TryGetProperty("values", out var v) ? v.EnumerateArray().ToList() : null))]
                : [];
        var dimensions = structure.GetProperty("dimensions");
        var series = Components(dimensions, "series");
        var observation = Components(dimensions, "observation");
        var measures = Components(structure.GetProperty("measures"), "observation");
        Assert.Equal("OBS_VALUE", Assert.Single(measures).Id);
        var attributes = Components(structure.GetProperty("attributes"), "observation");
        static string Id(JsonElement value) => value.TryGetProperty("id", out var id) ? id.GetString()! : value.GetProperty("value").ToString();
        IEnumerable<(string Id, string Value)> Key(string name, List<(string Id, List<JsonElement>? Values)> components) =>
            name.Length == 0 ? [] : name.Split(':').Select((index, i) => (components[i].Id, Id(components[i].Values![int.Parse(index, CultureInfo.InvariantCulture)])));
        var lines = new List<string>();
        void Add(IEnumerable<(string Id, string Value)> seriesKey, JsonProperty o)
        {
            var values = seriesKey.Concat(Key(o.Name, observation)).ToDictionary(v => v.Id, v => v.Value);
            var cells = o.Value.EnumerateArray().ToList();
            string Attribute(string id)
            {
                var i = attributes.FindIndex(a => a.Id == id);
                var cell = measures.Count + i < cells.Count ? cells[measures.Count + i] : default;
                return cell.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined ? ""
                    : attributes[i].Values is { } listed ? Id(listed[cell.GetInt32()]) : cell.ToString();
            }
            lines.Add(Line(Dimensions.Select(d => values[d]), cells[0].ValueKind == JsonValueKind.Null ? "" : cells[0].GetDouble().ToString("R", CultureInfo.InvariantCulture),
                Attribute("OBS_STATUS"), Attribute("CONF_STATUS")));
        }
        foreach (var dataSet in data.GetProperty("dataSets").EnumerateArray())
        {
            if (dataSet.TryGetProperty("observations", out var flat))
            {
                foreach (var o in flat.EnumerateObject())
                {
                    Add([], o);
                }
                continue;
            }
            foreach (var s in dataSet.GetProperty("series").EnumerateObject())
            {
                var seriesKey = Key(s.Name, series).ToList();
                foreach (var o in s.Value.GetProperty("observations").EnumerateObject())
                {
                    Add(seriesKey, o);
                }
            }
        }
        return [.. lines.Order(StringComparer.Ordinal)];
    }

    private static async Task<string> Json2Async(TestNode node, string path, string token, string? accept = Json2)
    {
        var (status, type, body, _) = await GetAsync(node, path, token, accept);
        Assert.True(status == HttpStatusCode.OK, $"{path}: {status} {body}");
        Assert.Equal(Json2, type);
        AssertValid(body);
        return body;
    }

    [Fact]
    public async Task SDMX_JSON_2_answers_are_valid_against_the_standard_schema_and_hold_the_StreamObservations_answer()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort, ShareWithAll);
        var provisional = Refugees(sex: "F", value: 120);
        provisional.Status = ObservationStatus.Provisional;
        provisional.Confidentiality = ConfidentialityStatus.NotForPublication;
        provisional.Note = "preliminary: two offices still to report";
        var atLeast = Refugees(sex: "M", value: 120);
        atLeast.LowerBound = true;
        atLeast.Synthetic = true;
        await node.Observations.SubmitObservationsAsync(Submit(provisional, atLeast, Refugees(value: 240), Refugees(period: "2022", value: 200),
            SharingPolicyTests.Applications(value: 100)));
        var token = await TokenAsync(node, "BLZ");
        var expected = (await GrpcAsync(node, token)).Select(Expected).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(5, expected.Count);

        // Time series (the default), by Accept and by format=; cross-sections at SEX; flat.
        var series = await Json2Async(node, All, token);
        Assert.Equal(expected, ReadJson2(series));
        Assert.Equal(expected, ReadJson2(await Json2Async(node, All + "?format=jsondata2", token, accept: null)));
        Assert.Equal(expected, ReadJson2(await Json2Async(node, All + "?format=jsondata&formatVersion=2.0.0", token, accept: null)));
        var section = await Json2Async(node, All + "?dimensionAtObservation=SEX", token);
        Assert.Equal(expected, ReadJson2(section));
        Assert.Equal(expected, ReadJson2(await Json2Async(node, All + "?dimensionAtObservation=AllDimensions", token)));

        using (var document = JsonDocument.Parse(series))
        {
            var structure = document.RootElement.GetProperty("data").GetProperty("structures")[0];
            // Names in both languages; the note and the flags as values of their (non-coded) attributes; links to the dataflow.
            var indicator = structure.GetProperty("dimensions").GetProperty("series").EnumerateArray().Single(d => d.GetProperty("id").GetString() == "INDICATOR");
            var refugees = indicator.GetProperty("values").EnumerateArray().Single(v => v.GetProperty("id").GetString() == "REFUGEES");
            Assert.Equal(("Refugees", "Personas refugiadas"), (refugees.GetProperty("names").GetProperty("en").GetString(), refugees.GetProperty("names").GetProperty("es").GetString()));
            var attributes = structure.GetProperty("attributes").GetProperty("observation").EnumerateArray().ToDictionary(a => a.GetProperty("id").GetString()!);
            Assert.Equal("preliminary: two offices still to report", attributes["COMMENT_OBS"].GetProperty("values")[0].GetProperty("value").GetString());
            Assert.True(attributes["LOWER_BOUND"].GetProperty("values")[0].GetProperty("value").GetBoolean());
            Assert.Contains("Dataflow=MIRPS:DF_MIRPS_PROTECTION(", document.RootElement.GetProperty("data").GetProperty("dataSets")[0].GetProperty("links")[0].GetProperty("urn").GetString(),
                StringComparison.Ordinal);
        }
        using (var document = JsonDocument.Parse(section))
        {
            // A cross-section: SEX at the observation, the time period in the series key.
            var dimensions = document.RootElement.GetProperty("data").GetProperty("structures")[0].GetProperty("dimensions");
            Assert.Equal(["SEX"], dimensions.GetProperty("observation").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
            Assert.Contains("TIME_PERIOD", dimensions.GetProperty("series").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        }

        // Series keys only and no data: the time series' keys, no observation, and still a valid message.
        var keys = expected.Select(l => l[..l.LastIndexOf('.', l.IndexOf('=', StringComparison.Ordinal))]).Distinct().Count();
        foreach (var detail in new[] { "serieskeysonly", "nodata" })
        {
            using var document = JsonDocument.Parse(await Json2Async(node, $"{All}?detail={detail}", token));
            var jsonSeries = document.RootElement.GetProperty("data").GetProperty("dataSets")[0].GetProperty("series").EnumerateObject().ToList();
            Assert.Equal(keys, jsonSeries.Count);
            Assert.All(jsonSeries, s => Assert.Empty(s.Value.GetProperty("observations").EnumerateObject()));
            Assert.DoesNotContain("240", document.RootElement.GetRawText());
        }

        // History: a data set per revision received, each Replace with its validity, each valid.
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 210)));
        using (var history = JsonDocument.Parse(await Json2Async(node, All + "?includeHistory=true", token)))
        {
            var sets = history.RootElement.GetProperty("data").GetProperty("dataSets").EnumerateArray().ToList();
            Assert.True(sets.Count >= 2);
            Assert.All(sets, s => Assert.Equal("Replace", s.GetProperty("action").GetString()));
            Assert.All(sets, s => Assert.True(DateTimeOffset.TryParse(s.GetProperty("validFrom").GetString(), CultureInfo.InvariantCulture, out _)));
        }
    }

    [Fact]
    public void The_schema_check_fails_a_message_that_breaks_the_standard()
    {
        // A small valid 2.0.0 message passes; each break of the standard below, made to a copy of it, fails.
        const string Valid = """
            {"meta":{"id":"X","prepared":"2026-12-07T10:00:00Z","sender":{"id":"MIRPS"}},
             "data":{"structures":[{"links":[{"rel":"dataflow","urn":"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=MIRPS:DF(1.0)"}],
               "dimensions":{"series":[{"id":"SEX","keyPosition":0,"values":[{"id":"F","name":"Female"}]}],
                             "observation":[{"id":"TIME_PERIOD","keyPosition":1,"roles":["TIME_PERIOD"],"values":[{"id":"2022","start":"2022-01-01T00:00:00Z","end":"2022-12-31T23:59:59Z"}]}]},
               "measures":{"observation":[{"id":"OBS_VALUE"}]},
               "attributes":{"observation":[{"id":"OBS_STATUS","relationship":{"observation":{}},"values":[{"id":"A"}]},
                                            {"id":"COMMENT_OBS","relationship":{"observation":{}},"format":{"dataType":"String"},"values":[{"value":"a note"}]}]}}],
               "dataSets":[{"structure":0,"action":"Replace","links":[{"rel":"dataflow","urn":"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=MIRPS:DF(1.0)"}],
                            "series":{"0":{"attributes":[],"observations":{"0":[120,0,0],"1":[null,null,null]}}}}]}}
            """;
        AssertValid(Valid);
        static string Broken(Action<JsonNode> change)
        {
            var message = JsonNode.Parse(Valid)!;
            change(message);
            return message.ToJsonString();
        }
        static JsonNode Structure(JsonNode m) => m["data"]!["structures"]![0]!;
        static JsonNode DataSet(JsonNode m) => m["data"]!["dataSets"]![0]!;
        var broken = new Dictionary<string, string>
        {
            ["a 1.0.0 message (header, no prepared)"] = """{"header":{"id":"X"},"meta":{"id":"X","sender":{"id":"MIRPS"}}}""",
            ["prepared without its time zone"] = Broken(m => m["meta"]!["prepared"] = "2026-12-07T10:00:00"),
            ["data and errors together"] = Broken(m => m["errors"] = new JsonArray(new JsonObject { ["code"] = 500 })),
            ["a dimension with no values"] = Broken(m => Structure(m)["dimensions"]!["series"]![0]!["values"] = new JsonArray()),
            ["a dimension without its keyPosition"] = Broken(m => Structure(m)["dimensions"]!["series"]![0]!.AsObject().Remove("keyPosition")),
            ["a value listed twice"] = Broken(m => Structure(m)["dimensions"]!["series"]![0]!["values"]!.AsArray().Add(new JsonObject { ["id"] = "F", ["name"] = "Female" })),
            ["a value both coded and not"] = Broken(m => Structure(m)["dimensions"]!["series"]![0]!["values"]![0]!["value"] = "F"),
            ["an attribute without its relationship"] = Broken(m => Structure(m)["attributes"]!["observation"]![0]!.AsObject().Remove("relationship")),
            ["an attribute attached two ways"] = Broken(m => Structure(m)["attributes"]!["observation"]![0]!["relationship"]!["dimensions"] = new JsonArray("SEX")),
            ["a structure with no link to its dataflow or data structure"] = Broken(m => Structure(m)["links"]![0]!["rel"] = "self"),
            ["a level the standard does not have"] = Broken(m => Structure(m)["dimensions"]!["group"] = new JsonArray()),
            ["an unknown action"] = Broken(m => DataSet(m)["action"] = "Update"),
            ["a data set without links"] = Broken(m => DataSet(m).AsObject().Remove("links")),
            ["a series keyed by a code, not an index"] = Broken(m =>
            {
                var series = DataSet(m)["series"]!.AsObject();
                var only = series["0"]!;
                series.Remove("0");
                series["F"] = only;
            }),
            ["series and flat observations together"] = Broken(m => DataSet(m)["observations"] = new JsonObject { ["0:0"] = new JsonArray(1) }),
        };
        foreach (var (what, message) in broken)
        {
            var failed = Record.Exception(() => AssertValid(message));
            Assert.True(failed is Xunit.Sdk.XunitException, $"the check passed {what}");
        }
    }
}
