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
/// SDMX-JSON 2.0.0 data messages (issue 14, item 4) from a real node: every answer validates against the standard's JSON schema
/// (sdmx-twg/sdmx-json, tag v2.0.0, data-message/tools/schemas/2.0.0, kept in Sdmx/) and, read back as the field guide describes,
/// holds the StreamObservations answer to the same caller, for time series, cross-sections, flat, series keys only and history.
/// The sharing policy over SDMX-JSON 2.0.0 is in <see cref="SdmxRestTests"/> beside the other formats.
/// </summary>
public class SdmxJson2Tests
{
    internal const string Json2 = "application/vnd.sdmx.data+json;version=2.0.0";
    private const string All = "/sdmx/rest/data/DF_MIRPS_PROTECTION/all";

    private static readonly Lazy<JsonSchema> Schema = new(() =>
    {
        // The published file names no draft ("$schema": "http://json-schema.org/schema#") and uses "definitions" and "id" of
        // draft 4; its keywords all mean the same in draft 7, which the validator knows, so it is read as draft 7.
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Sdmx", "sdmx-json-data-schema-2.0.0.json"));
        var node = JsonNode.Parse(text)!.AsObject();
        node["$schema"] = "http://json-schema.org/draft-07/schema#";
        node.Remove("id");
        return JsonSchema.FromText(node.ToJsonString());
    });

    /// <summary>Fails with the schema's errors unless <paramref name="body"/> is a valid SDMX-JSON 2.0.0 data message.</summary>
    internal static void AssertValid(string body)
    {
        using var document = JsonDocument.Parse(body);
        var result = Schema.Value.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        var errors = result.Details?.Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key} {e.Value}")) ?? [];
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
        // The check can fail: a 1.0.0 message (header, no meta), and a 2.0.0 one whose dimension has no values, are refused.
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertValid("""{"header":{"id":"X"},"meta":{"id":"X","sender":{"id":"MIRPS"}}}"""));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertValid(
            """{"meta":{"id":"X","prepared":"2026-12-07T10:00:00Z","sender":{"id":"MIRPS"}},"data":{"structures":[{"dimensions":{"series":[{"id":"SEX","keyPosition":0,"values":[]}]}}]}}"""));
        AssertValid("""{"meta":{"id":"X","prepared":"2026-12-07T10:00:00Z","sender":{"id":"MIRPS"}},"data":{"structures":[{"dimensions":{"series":[{"id":"SEX","keyPosition":0,"values":[{"id":"F","name":"Female"}]}]}}]}}""");
    }
}
