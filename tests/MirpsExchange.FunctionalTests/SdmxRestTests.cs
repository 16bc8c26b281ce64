using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Xml.Linq;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// SDMX REST 2.1 (issue 14, item 4) against real nodes over HTTP/1.1 (Node:HttpPort): structures from the catalogue, data in every
/// format compared with the gRPC StreamObservations answer to the same caller, the sharing policy (the attack of another State),
/// authentication, and the SDMX error codes.
/// </summary>
public class SdmxRestTests
{
    internal const string HttpPort = "--Node:HttpPort=0";
    private static readonly XNamespace Message = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message";
    private static readonly XNamespace Structure = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure";
    private static readonly XNamespace Generic = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic";
    private static readonly XNamespace Common = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common";

    /// <summary>The dataflow's key dimensions, in key order, then the time period.</summary>
    internal static readonly string[] Dimensions =
        ["INDICATOR", "REF_AREA", "SEX", "AGE", "COUNTRY_OF_ORIGIN", "APPLICATION_TYPE", "DECISION_LEVEL", "PROCEDURE_TYPE", "COUNT_BASIS", "COUNTRY_OF_DESTINATION", "TIME_PERIOD"];

    internal static async Task<string> TokenAsync(TestNode node, string reader, string scope = MirpsAuth.ReadScope)
    {
        using var tokens = node.TokensFor(await SharedIdentity.CredentialAsync(reader), scope);
        return await tokens.GetTokenAsync();
    }

    /// <summary>A GET over HTTP/1.1 exactly (as R's client), with the token (or none) and Accept header given.</summary>
    internal static Task<(HttpStatusCode Status, string Type, string Body, HttpResponseMessage Response)> GetAsync(TestNode node, string path, string? token, string? accept = null) =>
        GetAsync(node.HttpAddress!, path, token, accept);

    internal static async Task<(HttpStatusCode Status, string Type, string Body, HttpResponseMessage Response)> GetAsync(string address, string path, string? token, string? accept = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, address + path) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }
        var response = await http.SendAsync(request);
        Assert.Equal(HttpVersion.Version11, response.Version);
        // The media type with its version parameter, as SDMX names formats ("application/vnd.sdmx.genericdata+xml;version=2.1").
        var type = response.Content.Headers.ContentType;
        var version = type?.Parameters.FirstOrDefault(p => p.Name == "version")?.Value;
        return (response.StatusCode, type is null ? "" : version is null ? type.MediaType! : $"{type.MediaType};version={version}", await response.Content.ReadAsStringAsync(), response);
    }

    internal static async Task<List<StoredObservation>> GrpcAsync(TestNode node, string token, StreamObservationsRequest? request = null)
    {
        var result = new List<StoredObservation>();
        using var call = node.ObservationsWith(token).StreamObservations(request ?? new StreamObservationsRequest());
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            result.AddRange(message.Observations);
        }
        return result;
    }

    /// <summary>
    /// An observation as the test expects SDMX to show it: the key (<c>_Z</c> for a dimension the indicator does not declare), the
    /// value (empty when withheld), OBS_STATUS and CONF_STATUS (C and C when withheld), sorted for comparison.
    /// </summary>
    internal static string Expected(StoredObservation s)
    {
        var o = s.Observation;
        var withheld = s.Withholding is Withholding.SmallCount or Withholding.Complementary;
        string[] key = [o.IndicatorCode, o.Country, o.Sex, o.Age, o.CountryOfOrigin, o.ApplicationType, o.DecisionLevel, o.ProcedureType, o.CountBasis, o.CountryOfDestination];
        var status = withheld ? "C" : o.Status switch
        {
            ObservationStatus.Normal => "A",
            ObservationStatus.Provisional => "P",
            ObservationStatus.Estimated => "E",
            _ => "C",
        };
        var confidentiality = withheld ? "C" : o.Confidentiality switch
        {
            ConfidentialityStatus.Free => "F",
            ConfidentialityStatus.NotForPublication => "N",
            ConfidentialityStatus.Confidential => "C",
            _ => "",
        };
        return Line([.. key.Select(k => k.Length == 0 ? "_Z" : k), o.Period], withheld ? "" : o.Value.ToString("R", CultureInfo.InvariantCulture), status, confidentiality);
    }

    internal static string Line(IEnumerable<string> dimensions, string value, string status, string confidentiality) =>
        $"{string.Join('.', dimensions)}={value}|{status}|{confidentiality}";

    // ---- Readers of each format, written from the standard (not from the server's code). ----

    internal static List<string> ReadGeneric(string body)
    {
        var document = XDocument.Parse(body);
        Assert.Equal(Message + "GenericData", document.Root!.Name);
        var lines = new List<string>();
        // The dimension at the observation, as the header states it: TIME_PERIOD (time series) or another one (cross-sections).
        var atObservation = (string)document.Root.Element(Message + "Header")!.Element(Message + "Structure")!.Attribute("dimensionAtObservation")!;
        foreach (var series in document.Descendants(Generic + "Series"))
        {
            var key = series.Element(Generic + "SeriesKey")!.Elements(Generic + "Value").ToDictionary(v => (string)v.Attribute("id")!, v => (string)v.Attribute("value")!);
            foreach (var obs in series.Elements(Generic + "Obs"))
            {
                var attributes = obs.Element(Generic + "Attributes")?.Elements(Generic + "Value").ToDictionary(v => (string)v.Attribute("id")!, v => (string)v.Attribute("value")!) ?? [];
                var values = new Dictionary<string, string>(key) { [atObservation] = (string)obs.Element(Generic + "ObsDimension")!.Attribute("value")! };
                lines.Add(Line(Dimensions.Select(d => values[d]), (string?)obs.Element(Generic + "ObsValue")?.Attribute("value") ?? "",
                    attributes.GetValueOrDefault("OBS_STATUS", ""), attributes.GetValueOrDefault("CONF_STATUS", "")));
            }
        }
        return [.. lines.Order(StringComparer.Ordinal)];
    }

    internal static List<string> ReadStructureSpecific(string body, bool flat = false)
    {
        var document = XDocument.Parse(body);
        Assert.Equal(Message + "StructureSpecificData", document.Root!.Name);
        var lines = new List<string>();
        var dataSet = document.Root.Element(Message + "DataSet")!;
        IEnumerable<(XElement? Series, XElement Obs)> observations = flat
            ? dataSet.Elements("Obs").Select(o => ((XElement?)null, o))
            : dataSet.Elements("Series").SelectMany(s => s.Elements("Obs").Select(o => ((XElement?)s, o)));
        foreach (var (series, obs) in observations)
        {
            string Value(string id) => (string?)obs.Attribute(id) ?? (string?)series?.Attribute(id) ?? "";
            lines.Add(Line(Dimensions.Select(Value), Value("OBS_VALUE"), Value("OBS_STATUS"), Value("CONF_STATUS")));
        }
        return [.. lines.Order(StringComparer.Ordinal)];
    }

    internal static List<string> ReadJson(string body)
    {
        using var document = JsonDocument.Parse(body);
        var structure = document.RootElement.GetProperty("structure");
        List<(string Id, List<string> Values)> Components(JsonElement list) =>
            [.. list.EnumerateArray().Select(c => (c.GetProperty("id").GetString()!, c.GetProperty("values").EnumerateArray().Select(v => v.GetProperty("id").GetString()!).ToList()))];
        var series = Components(structure.GetProperty("dimensions").GetProperty("series"));
        var observation = Components(structure.GetProperty("dimensions").GetProperty("observation"));
        var attributes = Components(structure.GetProperty("attributes").GetProperty("observation"));
        var lines = new List<string>();
        foreach (var dataSet in document.RootElement.GetProperty("dataSets").EnumerateArray())
        {
            foreach (var s in dataSet.GetProperty("series").EnumerateObject())
            {
                var seriesKey = s.Name.Split(':').Select((index, i) => (series[i].Id, Value: series[i].Values[int.Parse(index, CultureInfo.InvariantCulture)]));
                foreach (var o in s.Value.GetProperty("observations").EnumerateObject())
                {
                    var values = seriesKey.Concat(o.Name.Split(':').Select((index, i) => (observation[i].Id, Value: observation[i].Values[int.Parse(index, CultureInfo.InvariantCulture)])))
                        .ToDictionary(v => v.Id, v => v.Value);
                    var cells = o.Value.EnumerateArray().ToList();
                    string Attribute(string id)
                    {
                        var i = attributes.FindIndex(a => a.Id == id);
                        return cells[i + 1].ValueKind == JsonValueKind.Null ? "" : attributes[i].Values[cells[i + 1].GetInt32()];
                    }
                    lines.Add(Line(Dimensions.Select(d => values[d]), cells[0].ValueKind == JsonValueKind.Null ? "" : cells[0].GetDouble().ToString("R", CultureInfo.InvariantCulture),
                        Attribute("OBS_STATUS"), Attribute("CONF_STATUS")));
                }
            }
        }
        return [.. lines.Order(StringComparer.Ordinal)];
    }

    /// <summary>SDMX-JSON 2.0.0, checked against the standard's schema first.</summary>
    internal static List<string> ReadJson2Valid(string body)
    {
        SdmxJson2Tests.AssertValid(body);
        return SdmxJson2Tests.ReadJson2(body);
    }

    /// <summary>SDMX-CSV (1.0.0: DATAFLOW first; 2.0.0: STRUCTURE, STRUCTURE_ID, ACTION first), by header names.</summary>
    internal static List<string> ReadCsv(string body, string firstHeader)
    {
        var rows = body.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(',')).ToList();
        var header = rows[0].ToList();
        Assert.Equal(firstHeader, header[0]);
        return [.. rows.Skip(1).Select(r => Line(Dimensions.Select(d => r[header.IndexOf(d)]), r[header.IndexOf("OBS_VALUE")], r[header.IndexOf("OBS_STATUS")], r[header.IndexOf("CONF_STATUS")]))
            .Order(StringComparer.Ordinal)];
    }

    private static Observation Applications(double value) => SharingPolicyTests.Applications(value: value);

    // ---- Structure. ----

    [Fact]
    public async Task The_dataflow_with_its_descendants_is_one_SDMX_ML_structure_message_generated_from_the_catalogue()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        var token = await TokenAsync(node, "CRI");

        var (status, type, body, _) = await GetAsync(node, "/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest?references=descendants", token);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("application/vnd.sdmx.structure+xml;version=2.1", type);
        var document = XDocument.Parse(body);
        var flow = Assert.Single(document.Descendants(Structure + "Dataflow"));
        Assert.Equal(("DF_MIRPS_PROTECTION", "MIRPS", "2.1.0"), ((string)flow.Attribute("id")!, (string)flow.Attribute("agencyID")!, (string)flow.Attribute("version")!));
        var dsd = Assert.Single(document.Descendants(Structure + "DataStructure"));
        Assert.Equal(Dimensions, dsd.Descendants().Where(e => e.Name == Structure + "Dimension" || e.Name == Structure + "TimeDimension").Select(e => (string)e.Attribute("id")!));
        Assert.Equal(["OBS_STATUS", "CONF_STATUS", "LOWER_BOUND", "SYNTHETIC", "COMMENT_OBS"], dsd.Descendants(Structure + "Attribute").Select(e => (string)e.Attribute("id")!));
        var codelists = document.Descendants(Structure + "Codelist").ToDictionary(c => (string)c.Attribute("id")!, c => c.Elements(Structure + "Code").Select(code => (string)code.Attribute("id")!).ToList());
        Assert.Equal(["F", "M", "_T", "_Z"], codelists["CL_SEX"]);
        Assert.Equal(["BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN"], codelists["CL_MIRPS_STATE"]);
        Assert.Contains("REFUGEES", codelists["CL_INDICATOR"]);
        Assert.Equal(["A", "P", "E", "C"], codelists["CL_OBS_STATUS"]);
        Assert.Equal(["F", "N", "C"], codelists["CL_CONF_STATUS"]);
        var refugees = document.Descendants(Structure + "Code").First(c => (string)c.Attribute("id")! == "REFUGEES");
        Assert.Equal(["Refugees", "Personas refugiadas"], refugees.Elements(Common + "Name").Select(n => n.Value));
        Assert.Equal(Dimensions.Length + 6, document.Descendants(Structure + "Concept").Count());

        // Without references, only the dataflow; a data structure by any id, and a code list alone.
        Assert.Empty(XDocument.Parse((await GetAsync(node, "/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/2.1.0", token)).Body).Descendants(Structure + "DataStructure"));
        var structures = XDocument.Parse((await GetAsync(node, "/sdmx/rest/datastructure/all/all/latest", token, "application/vnd.sdmx.structure+xml;version=2.1")).Body);
        Assert.Single(structures.Descendants(Structure + "DataStructure"));
        var sex = XDocument.Parse((await GetAsync(node, "/sdmx/rest/codelist/MIRPS/CL_SEX", token)).Body);
        Assert.Equal(["CL_SEX"], sex.Descendants(Structure + "Codelist").Select(c => (string)c.Attribute("id")!));
    }

    // ---- Data. ----

    [Fact]
    public async Task Data_in_every_format_is_the_StreamObservations_answer_and_the_key_filters_as_gRPC_does()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort, ShareWithAll);
        var provisional = Refugees(sex: "F", value: 120);
        provisional.Status = ObservationStatus.Provisional;
        provisional.Confidentiality = ConfidentialityStatus.NotForPublication;
        await node.Observations.SubmitObservationsAsync(Submit(provisional, Refugees(sex: "M", value: 120), Refugees(value: 240),
            Refugees(period: "2022", value: 200), Applications(100)));
        var token = await TokenAsync(node, "BLZ");
        var expected = (await GrpcAsync(node, token)).Select(Expected).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(5, expected.Count);

        const string All = "/sdmx/rest/data/DF_MIRPS_PROTECTION/all";
        var generic = await GetAsync(node, All, token);
        Assert.Equal(HttpStatusCode.OK, generic.Status);
        Assert.StartsWith("application/vnd.sdmx.genericdata+xml;version=2.1", generic.Type);
        Assert.Equal(expected, ReadGeneric(generic.Body));
        Assert.Equal(expected, ReadStructureSpecific((await GetAsync(node, All, token, "application/vnd.sdmx.structurespecificdata+xml;version=2.1")).Body));
        Assert.Equal(expected, ReadStructureSpecific((await GetAsync(node, All + "?dimensionAtObservation=AllDimensions&format=structurespecificdata", token)).Body, flat: true));
        Assert.Equal(expected, ReadJson((await GetAsync(node, All, token, "application/vnd.sdmx.data+json;version=1.0.0")).Body));
        var csv = await GetAsync(node, "/sdmx/rest/data/MIRPS,DF_MIRPS_PROTECTION,2.1.0/", token, "application/vnd.sdmx.data+csv;version=2.0.0");
        Assert.StartsWith("application/vnd.sdmx.data+csv;version=2.0.0", csv.Type);
        Assert.Equal(expected, ReadCsv(csv.Body, "STRUCTURE"));
        Assert.Equal(expected, ReadCsv((await GetAsync(node, All, token, "application/vnd.sdmx.data+csv;version=1.0.0")).Body, "DATAFLOW"));

        // A key and periods: the same filters as the gRPC request.
        var filtered = (await GrpcAsync(node, token, new StreamObservationsRequest { IndicatorCodes = { "REFUGEES" }, Sexes = { "F", "_T" }, PeriodFrom = "2023" }))
            .Select(Expected).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, filtered.Count);
        Assert.Equal(filtered, ReadGeneric((await GetAsync(node, "/sdmx/rest/data/MIRPS,DF_MIRPS_PROTECTION/REFUGEES..F+_T.......?startPeriod=2023", token)).Body));
        // _Z: the indicators that do not declare the dimension (ASYLUM_APPLICATIONS has no COUNTRY_OF_DESTINATION, nor has REFUGEES).
        Assert.Equal(5, ReadGeneric((await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/.BLZ........_Z", token)).Body).Count);
        // firstNObservations: one per series (the earliest period).
        var first = ReadGeneric((await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/REFUGEES.BLZ._T.......?firstNObservations=1", token)).Body);
        Assert.Equal(["REFUGEES.BLZ._T._T._T._Z._Z._Z._Z._Z.2022=200|A|"], first);
    }

    [Fact]
    public async Task As_of_a_time_updated_after_it_and_with_history_the_answers_follow_the_node_s_revisions()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        await Task.Delay(50);
        var between = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 250)));
        var token = await TokenAsync(node, "BLZ");
        var asOf = Uri.EscapeDataString(between.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));

        var then = await GrpcAsync(node, token, new StreamObservationsRequest { AsOfTime = Timestamp.FromDateTimeOffset(between) });
        Assert.Equal(then.Select(Expected), ReadGeneric((await GetAsync(node, $"/sdmx/rest/data/DF_MIRPS_PROTECTION/all?asOf={asOf}", token)).Body));
        Assert.Equal(240, Assert.Single(then).Observation.Value);
        Assert.EndsWith("=250|A|", Assert.Single(ReadGeneric((await GetAsync(node, $"/sdmx/rest/data/DF_MIRPS_PROTECTION/all?updatedAfter={asOf}", token)).Body)));

        var history = XDocument.Parse((await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all?includeHistory=true", token)).Body);
        var sets = history.Root!.Elements(Message + "DataSet").ToList();
        Assert.Equal(["Replace", "Replace"], sets.Select(s => (string)s.Attribute("action")!));
        Assert.Equal(["240", "250"], sets.Select(s => (string)s.Descendants(Generic + "ObsValue").Single().Attribute("value")!));
        Assert.True(DateTimeOffset.Parse((string)sets[0].Attribute("validFromDate")!, CultureInfo.InvariantCulture) < between);

        // A deletion: updatedAfter lists it in a Delete data set; the current answer is then empty (404).
        var deletedAfter = Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        await node.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees()) } });
        var changes = XDocument.Parse((await GetAsync(node, $"/sdmx/rest/data/DF_MIRPS_PROTECTION/all?updatedAfter={deletedAfter}", token)).Body);
        var deleted = Assert.Single(changes.Root!.Elements(Message + "DataSet"));
        Assert.Equal("Delete", (string)deleted.Attribute("action")!);
        Assert.Empty(deleted.Descendants(Generic + "ObsValue"));
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all", token)).Status);
    }

    /// <summary>A line's series key for time series: its codes but the time period.</summary>
    private static string SeriesKeyOf(string line) => line[..line.LastIndexOf('.', line.IndexOf('=', StringComparison.Ordinal))];

    [Fact]
    public async Task Cross_sections_series_keys_and_the_history_since_a_time_are_the_gRPC_answer_laid_out_as_the_standard_says()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort, ShareWithAll);
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 120), Refugees(sex: "M", value: 120), Refugees(value: 240),
            Refugees(period: "2022", value: 200), Applications(100)));
        var token = await TokenAsync(node, "BLZ");
        var expected = (await GrpcAsync(node, token)).Select(Expected).Order(StringComparer.Ordinal).ToList();
        const string All = "/sdmx/rest/data/DF_MIRPS_PROTECTION/all";

        // Cross-sections at SEX: every format holds the same observations; a series is keyed by every other dimension, the time period included.
        var generic = await GetAsync(node, All + "?dimensionAtObservation=SEX", token);
        Assert.Equal(HttpStatusCode.OK, generic.Status);
        Assert.Equal(expected, ReadGeneric(generic.Body));
        var document = XDocument.Parse(generic.Body);
        Assert.All(document.Descendants(Generic + "SeriesKey"), key =>
        {
            var ids = key.Elements(Generic + "Value").Select(v => (string)v.Attribute("id")!).ToList();
            Assert.Contains("TIME_PERIOD", ids);
            Assert.DoesNotContain("SEX", ids);
        });
        var specific = await GetAsync(node, All + "?dimensionAtObservation=SEX", token, "application/vnd.sdmx.structurespecificdata+xml;version=2.1");
        Assert.Equal(expected, ReadStructureSpecific(specific.Body));
        Assert.EndsWith(":ObsLevelDim:SEX", (string)XDocument.Parse(specific.Body).Root!.Element(Message + "Header")!.Element(Message + "Structure")!.Attribute("namespace")!,
            StringComparison.Ordinal);
        Assert.Equal(expected, ReadJson((await GetAsync(node, All + "?dimensionAtObservation=SEX", token, "application/vnd.sdmx.data+json;version=1.0.0")).Body));
        // One cross-section: Belize's refugees in 2023 by sex, one series of three observations in code order.
        var section = XDocument.Parse((await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/REFUGEES.BLZ........?startPeriod=2023&dimensionAtObservation=SEX", token)).Body);
        var series = Assert.Single(section.Descendants(Generic + "Series"));
        Assert.Equal(["F", "M", "_T"], series.Elements(Generic + "Obs").Select(o => (string)o.Element(Generic + "ObsDimension")!.Attribute("value")!));

        // serieskeysonly and nodata: the time series' keys and no observation, in SDMX-ML and SDMX-JSON.
        var keys = expected.Select(SeriesKeyOf).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var detail in new[] { "serieskeysonly", "nodata" })
        {
            var onlyKeys = XDocument.Parse((await GetAsync(node, $"{All}?detail={detail}", token)).Body);
            Assert.Empty(onlyKeys.Descendants(Generic + "Obs"));
            Assert.Equal(keys, onlyKeys.Descendants(Generic + "SeriesKey")
                .Select(k => string.Join('.', Dimensions[..^1].Select(d => (string)k.Elements(Generic + "Value").Single(v => (string)v.Attribute("id")! == d).Attribute("value")!)))
                .Order(StringComparer.Ordinal));
            var specificKeys = XDocument.Parse((await GetAsync(node, $"{All}?detail={detail}", token, "application/vnd.sdmx.structurespecificdata+xml;version=2.1")).Body);
            Assert.Equal(keys.Count, specificKeys.Descendants("Series").Count());
            Assert.Empty(specificKeys.Descendants("Obs"));
            using var json = JsonDocument.Parse((await GetAsync(node, $"{All}?detail={detail}", token, "application/vnd.sdmx.data+json;version=1.0.0")).Body);
            var jsonSeries = json.RootElement.GetProperty("dataSets")[0].GetProperty("series").EnumerateObject().ToList();
            Assert.Equal(keys.Count, jsonSeries.Count);
            Assert.All(jsonSeries, s => Assert.Empty(s.Value.GetProperty("observations").EnumerateObject()));
        }

        // includeHistory with updatedAfter: every revision received since that time (not only the latest), nothing received before.
        await Task.Delay(50);
        var since = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        // (2022 has no breakdown by sex, so its total may change alone.)
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 210)));
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 220)));
        var after = Uri.EscapeDataString(since.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
        var history = XDocument.Parse((await GetAsync(node, $"{All}?includeHistory=true&updatedAfter={after}", token)).Body);
        var sets = history.Root!.Elements(Message + "DataSet").ToList();
        Assert.Equal(["Replace", "Replace"], sets.Select(s => (string)s.Attribute("action")!));
        Assert.Equal(["210", "220"], sets.Select(s => (string)s.Descendants(Generic + "ObsValue").Single().Attribute("value")!));
        Assert.All(sets, s => Assert.True(DateTimeOffset.Parse((string)s.Attribute("validFromDate")!, CultureInfo.InvariantCulture) > since));
        // Nothing since a later time: no results.
        var later = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddSeconds(1).ToString("O", CultureInfo.InvariantCulture));
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(node, $"{All}?includeHistory=true&updatedAfter={later}", token)).Status);
    }

    // ---- The sharing policy: what another State may see. ----

    [Fact]
    public async Task Another_State_asking_SDMX_for_Secretariat_only_embargoed_small_count_or_complementary_cells_gets_exactly_what_gRPC_lets_it_see()
    {
        var release = DateTimeOffset.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture);
        await using var belize = await TestNode.StartAsync("BLZ", null, [HttpPort,
            .. SharingPolicyTests.Policy(("REFUGEES", "Readers", "all"), ("REFUGEES", "SmallCountThreshold", "5"),
                ("ASYLUM_APPLICATIONS", "Readers", "secretariat"), ("IDPS", "Readers", "all"), ("IDPS", "ReleaseTime", release))]);
        var small = Refugees(sex: "M", value: 3);
        small.Note = "3 men at the northern border";
        var idps = Refugees(value: 7777777);
        idps.IndicatorCode = "IDPS";
        idps.CountryOfOrigin = "";
        await belize.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 98761), small, Refugees(value: 98764), Applications(4242424), idps));

        var costaRica = await TokenAsync(belize, "CRI");
        var grpc = await GrpcAsync(belize, costaRica);
        Assert.Equal(["F|Complementary", "M|SmallCount", "_T|Unspecified"], grpc.Select(s => $"{s.Observation.Sex}|{s.Withholding}"));
        var expected = grpc.Select(Expected).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
            ["REFUGEES.BLZ.F._T._T._Z._Z._Z._Z._Z.2023=|C|C", "REFUGEES.BLZ.M._T._T._Z._Z._Z._Z._Z.2023=|C|C", "REFUGEES.BLZ._T._T._T._Z._Z._Z._Z._Z.2023=98764|A|"],
            expected);

        foreach (var accept in new[] { "application/xml", "application/vnd.sdmx.structurespecificdata+xml;version=2.1", "application/vnd.sdmx.data+json;version=1.0.0",
            SdmxJson2Tests.Json2, "application/vnd.sdmx.data+csv;version=2.0.0", "application/vnd.sdmx.data+csv;version=1.0.0" })
        {
            foreach (var query in new[] { "all", "REFUGEES.BLZ.F+M+_T.......", "ASYLUM_APPLICATIONS+IDPS+REFUGEES.........", "all?includeHistory=true",
                "all?updatedAfter=2000-01-01T00:00:00Z", "all?dimensionAtObservation=AllDimensions", "all?dimensionAtObservation=SEX",
                "REFUGEES.BLZ........?dimensionAtObservation=COUNTRY_OF_ORIGIN", "all?includeHistory=true&updatedAfter=2000-01-01T00:00:00Z" })
            {
                var (status, _, body, _) = await GetAsync(belize, "/sdmx/rest/data/DF_MIRPS_PROTECTION/" + query, costaRica, accept);
                Assert.Equal(HttpStatusCode.OK, status);
                // Neither the withheld values, nor the note that says one, nor the Secretariat-only or embargoed figures.
                foreach (var secret in new[] { "98761", "3 men", "4242424", "7777777", "ASYLUM_APPLICATIONS", "IDPS" })
                {
                    Assert.DoesNotContain(secret, body);
                }
                if (!query.Contains("AllDimensions", StringComparison.Ordinal))
                {
                    var read = accept switch
                    {
                        "application/xml" => ReadGeneric(body),
                        "application/vnd.sdmx.data+json;version=1.0.0" => ReadJson(body),
                        SdmxJson2Tests.Json2 => ReadJson2Valid(body),
                        "application/vnd.sdmx.data+csv;version=2.0.0" => ReadCsv(body, "STRUCTURE"),
                        "application/vnd.sdmx.data+csv;version=1.0.0" => ReadCsv(body, "DATAFLOW"),
                        _ => ReadStructureSpecific(body),
                    };
                    Assert.Equal(expected, read);
                }
            }
            // Series keys only: the keys of what the reader may see (a withheld cell's key too, as over gRPC), never a value; SDMX-CSV cannot say it.
            foreach (var detail in new[] { "serieskeysonly", "nodata" })
            {
                var (status, _, body, _) = await GetAsync(belize, $"/sdmx/rest/data/DF_MIRPS_PROTECTION/all?detail={detail}", costaRica, accept);
                Assert.Equal(accept.Contains("csv", StringComparison.Ordinal) ? HttpStatusCode.NotAcceptable : HttpStatusCode.OK, status);
                if (accept == SdmxJson2Tests.Json2)
                {
                    SdmxJson2Tests.AssertValid(body);
                }
                foreach (var secret in new[] { "98761", "98764", "3 men", "4242424", "7777777", "ASYLUM_APPLICATIONS", "IDPS" })
                {
                    Assert.DoesNotContain(secret, body);
                }
            }
            // Asking for the Secretariat-only or the embargoed indicator alone: no results, as if nothing were there.
            foreach (var key in new[] { "ASYLUM_APPLICATIONS.BLZ........", "IDPS.........", "IDPS.BLZ._T.._Z....._Z?asOf=2100-01-01T00:00:00Z" })
            {
                var refused = await GetAsync(belize, "/sdmx/rest/data/DF_MIRPS_PROTECTION/" + key, costaRica, accept);
                Assert.Equal(HttpStatusCode.NotFound, refused.Status);
                Assert.DoesNotContain("4242424", refused.Body);
            }
        }

        // The owner and the Secretariat read the values (the Secretariat all but the embargoed one), as over gRPC.
        foreach (var (reader, count) in new[] { ("BLZ", 5), ("", 4) })
        {
            var token = await TokenAsync(belize, reader);
            var theirs = (await GrpcAsync(belize, token)).Select(Expected).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(count, theirs.Count);
            Assert.Equal(theirs, ReadGeneric((await GetAsync(belize, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all", token)).Body));
        }
    }

    [Fact]
    public async Task The_Secretariat_serves_the_same_SDMX_REST_over_every_State_it_replicates()
    {
        await using var secretariat = await TestSecretariat.StartAsync(HttpPort);
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow.AddMinutes(-1), [Refugees("BLZ", value: 240), Refugees("PAN", value: 131), Refugees("MEX", period: "2022", value: 140000)]);
        var token = await secretariat.TokenAsync();
        var grpc = new List<StoredObservation>();
        using (var call = new ObservationService.ObservationServiceClient(secretariat.Channel).StreamObservations(new StreamObservationsRequest()))
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                grpc.AddRange(message.Observations);
            }
        }
        var expected = grpc.Select(Expected).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(3, expected.Count);

        var (status, _, body, _) = await GetAsync(secretariat.HttpAddress!, "/sdmx/rest/data/MIRPS,DF_MIRPS_PROTECTION,latest/REFUGEES.BLZ+MEX+PAN........", token);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(expected, ReadGeneric(body));
        Assert.Equal(expected, ReadJson((await GetAsync(secretariat.HttpAddress!, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all?format=jsondata", token)).Body));
        Assert.Equal(expected, ReadJson2Valid((await GetAsync(secretariat.HttpAddress!, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all", token, SdmxJson2Tests.Json2)).Body));
        var flow = await GetAsync(secretariat.HttpAddress!, "/sdmx/rest/dataflow/all/all/latest", token);
        Assert.Equal("DF_MIRPS_PROTECTION", (string)XDocument.Parse(flow.Body).Descendants(Structure + "Dataflow").Single().Attribute("id")!);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(secretariat.HttpAddress!, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all", null)).Status);
    }

    // ---- Authentication. ----

    [Fact]
    public async Task Without_a_valid_token_for_this_node_SDMX_answers_401_and_a_token_without_the_read_scope_403()
    {
        await using var belize = await TestNode.StartAsync("BLZ", null, HttpPort, ShareWithAll);
        await using var panama = await TestNode.StartAsync("PAN", null, HttpPort, ShareWithAll);
        await belize.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        const string Data = "/sdmx/rest/data/DF_MIRPS_PROTECTION/all";
        const string Flow = "/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest";

        foreach (var path in new[] { Data, Flow })
        {
            var none = await GetAsync(belize, path, null);
            Assert.Equal(HttpStatusCode.Unauthorized, none.Status);
            Assert.Equal("Bearer", none.Response.Headers.WwwAuthenticate.ToString());
            Assert.Equal("110", ErrorCode(none.Body));
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(belize, path, "not-a-token")).Status);
            // Panama's node's token (its audience) is worth nothing at Belize's.
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(belize, path, await TokenAsync(panama, "CRI"))).Status);
        }
        // A valid token without the read scope (submit only): 403, as PERMISSION_DENIED over gRPC.
        var submitOnly = await TokenAsync(belize, "BLZ", MirpsAuth.SubmitScope);
        var forbidden = await GetAsync(belize, Data, submitOnly);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.Status);
        Assert.DoesNotContain("240", forbidden.Body);
        var grpc = await Assert.ThrowsAsync<RpcException>(() => GrpcAsync(belize, submitOnly));
        Assert.Equal(StatusCode.PermissionDenied, grpc.StatusCode);
    }

    [Fact]
    public async Task A_revoked_credential_s_token_is_refused_by_SDMX_as_by_gRPC()
    {
        var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity, HttpPort, ShareWithAll, "--Node:RevocationPollInterval=00:00:01");
        await belize.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var reader = await identity.IssueAsync(Role.State, "CRI");
        var (_, body) = await identity.RequestTokenAsync(reader, MirpsAuth.ReadScope, MirpsAuth.NodeAudience("BLZ"));
        var token = body.GetProperty("access_token").GetString()!;
        const string Data = "/sdmx/rest/data/DF_MIRPS_PROTECTION/all";
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(belize, Data, token)).Status);

        await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = reader.ClientId, Reason = "left the federation" });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode status;
        while ((status = (await GetAsync(belize, Data, token)).Status) == HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        var grpc = await Assert.ThrowsAsync<RpcException>(() => GrpcAsync(belize, token));
        Assert.Equal(StatusCode.Unauthenticated, grpc.StatusCode);
    }

    // ---- Errors. ----

    /// <summary>The SDMX error code of an error message: SDMX-ML's, or an SDMX-JSON message's (when the query asked for SDMX-JSON).</summary>
    internal static string ErrorCode(string body)
    {
        if (body.TrimStart().StartsWith('{'))
        {
            using var json = System.Text.Json.JsonDocument.Parse(body);
            var error = Assert.Single(json.RootElement.GetProperty("errors").EnumerateArray());
            Assert.NotEmpty(error.GetProperty("title").GetString()!);
            return error.GetProperty("code").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var document = XDocument.Parse(body);
        Assert.Equal(Message + "Error", document.Root!.Name);
        var message = document.Root.Element(Message + "ErrorMessage")!;
        Assert.NotEmpty(message.Element(Common + "Text")!.Value);
        return (string)message.Attribute("code")!;
    }

    [Theory]
    [InlineData("/sdmx/rest/data/DF_UNKNOWN/all", null, HttpStatusCode.NotFound, "100")]
    [InlineData("/sdmx/rest/data/OTHER,DF_MIRPS_PROTECTION,latest/all", null, HttpStatusCode.NotFound, "100")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION,1.0/all", null, HttpStatusCode.NotFound, "100")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/MEDIAN_PROCESSING_DAYS.........", null, HttpStatusCode.NotFound, "100")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/REFUGEES.XXX........", null, HttpStatusCode.NotFound, "100")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/REFUGEES.BLZ", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?startPeriod=last-year", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?startPeriod=2024&endPeriod=2023", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?updatedAfter=yesterday", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?includeHistory=maybe", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?dimensionAtObservation=COLOUR", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?firstNObservations=0", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?dimensionAtObservation=TIME", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?detail=nodata&dimensionAtObservation=AllDimensions", null, HttpStatusCode.NotImplemented, "501")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?detail=serieskeysonly", "application/vnd.sdmx.data+csv;version=2.0.0", HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?detail=everything", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all/BLZ", null, HttpStatusCode.NotImplemented, "501")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all", "application/pdf", HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all", "application/vnd.sdmx.data+json;version=9.9.9", HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?format=pdf", null, HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest", "application/vnd.sdmx.data+json;version=1.0.0", HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest", "application/vnd.sdmx.structure+json;version=9.9.9", HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest?format=jsonstructure&formatVersion=3.0.0", null, HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest?format=jsondata", null, HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest?lang=fr", "application/vnd.sdmx.structure+json;version=2.0.0", HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?format=jsondata&formatVersion=9.9.9", null, HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?detail=nodata", "application/vnd.sdmx.data+csv;version=2.0.0", HttpStatusCode.NotAcceptable, "1000")]
    [InlineData("/sdmx/rest/dataflow/MIRPS/DF_OTHER/latest", null, HttpStatusCode.NotFound, "100")]
    [InlineData("/sdmx/rest/dataflow/ECB/all/latest", null, HttpStatusCode.NotFound, "100")]
    [InlineData("/sdmx/rest/dataflow/MIRPS/all/9.9", null, HttpStatusCode.NotFound, "100")]
    [InlineData("/sdmx/rest/dataflow/MIRPS/all/latest?references=cousins", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/categoryscheme/MIRPS/all/latest", null, HttpStatusCode.NotImplemented, "501")]
    [InlineData("/sdmx/rest/dataflows/MIRPS", null, HttpStatusCode.BadRequest, "140")]
    [InlineData("/sdmx/rest/data/DF_MIRPS_PROTECTION/all/all/extra", null, HttpStatusCode.BadRequest, "140")]
    public async Task Bad_queries_get_the_SDMX_error_code_and_HTTP_status(string path, string? accept, HttpStatusCode status, string code)
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort, ShareWithAll);
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var answer = await GetAsync(node, path, await TokenAsync(node, "BLZ"), accept);
        Assert.Equal(status, answer.Status);
        Assert.Equal(code, ErrorCode(answer.Body));
    }

    [Fact]
    public async Task An_answer_larger_than_the_service_limit_is_413_and_an_empty_one_404()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort, "--Sdmx:MaxObservations=2");
        var token = await TokenAsync(node, "BLZ");
        var empty = await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all", token);
        Assert.Equal((HttpStatusCode.NotFound, "100"), (empty.Status, ErrorCode(empty.Body)));
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 120), Refugees(sex: "M", value: 120), Refugees(value: 240)));
        var large = await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all", token);
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "510"), (large.Status, ErrorCode(large.Body)));
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/REFUGEES..F+M.......", token)).Status);
    }

    [Fact]
    public async Task A_large_answer_is_written_as_it_is_read_in_every_streamed_format_and_one_over_the_limit_after_its_first_bytes_is_cut()
    {
        // 5,250 observations (a year of REFUGEES by sex, age and origin); the limit, 4,000, is met long after the first 64 KiB.
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort, "--Sdmx:MaxObservations=4000");
        await node.Observations.SubmitObservationsAsync(Submit([.. DistinctRefugees(5_250)]));
        var token = await TokenAsync(node, "BLZ");
        var expected = (await GrpcAsync(node, token)).Select(Expected).Order(StringComparer.Ordinal).ToList();
        var formats = new (string Accept, string Query, string Start)[]
        {
            ("application/vnd.sdmx.data+csv;version=2.0.0", "", "STRUCTURE,"),
            ("application/vnd.sdmx.data+csv;version=1.0.0", "", "DATAFLOW,"),
            ("application/vnd.sdmx.genericdata+xml;version=2.1", "", "<?xml"),
            ("application/vnd.sdmx.structurespecificdata+xml;version=2.1", "", "<?xml"),
            ("application/vnd.sdmx.genericdata+xml;version=2.1", "?dimensionAtObservation=AllDimensions", "<?xml"),
        };
        foreach (var (accept, query, start) in formats)
        {
            // Over the limit: the answer began (200, its first bytes) before the node had read the rows that exceed it, so the
            // node cannot refuse it any more and cuts the transfer: the client never holds an answer that looks complete.
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Get, node.HttpAddress + "/sdmx/rest/data/DF_MIRPS_PROTECTION/all" + query);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.TryAddWithoutValidation("Accept", accept);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            var received = new MemoryStream();
            await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(received));
            Assert.True(received.Length >= 64 * 1024, $"{accept}{query}: {received.Length} bytes before the cut");
            Assert.StartsWith(start, System.Text.Encoding.UTF8.GetString(received.GetBuffer(), 0, 64), StringComparison.Ordinal);
        }

        // Within the limit (by key), each streamed format holds exactly what gRPC serves, in series for time series.
        var males = expected.Where(line => line.StartsWith("REFUGEES.BLZ.M.", StringComparison.Ordinal)).ToList();
        const string Males = "/sdmx/rest/data/DF_MIRPS_PROTECTION/REFUGEES.BLZ.M.......";
        Assert.Equal(males, ReadCsv((await GetAsync(node, Males, token, formats[0].Accept)).Body, "STRUCTURE").Order(StringComparer.Ordinal));
        Assert.Equal(males, ReadGeneric((await GetAsync(node, Males, token)).Body));
        Assert.Equal(males, ReadStructureSpecific((await GetAsync(node, Males, token, formats[3].Accept)).Body));
        var series = XDocument.Parse((await GetAsync(node, Males, token)).Body).Descendants(Generic + "Series").ToList();
        Assert.Equal(series.Count, series.Select(s => string.Join('.', s.Element(Generic + "SeriesKey")!.Elements().Select(v => v.Attribute("value")!.Value))).Distinct().Count());
    }

    [Fact]
    public async Task A_party_with_its_data_answers_in_progress_at_the_limit_is_refused_429_and_structures_still_answer()
    {
        // A limit of 0 answers in progress: every data query is one too many (the limit itself is PartyLimitTests').
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort, ShareWithAll, "--Sdmx:MaxConcurrentDataRequests=0");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var token = await TokenAsync(node, "PAN");

        var refused = await GetAsync(node, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all", token);

        Assert.Equal((HttpStatusCode.TooManyRequests, "503"), (refused.Status, ErrorCode(refused.Body)));
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(node, "/sdmx/rest/dataflow/all/all/latest", token)).Status);
    }
}

/// <summary>SDMX REST over TLS: the node's one HTTPS port serves gRPC and HTTP/1.1 (ALPN), and a token bound to a certificate works only with it, as for gRPC.</summary>
public class SdmxTlsTests(TlsFederation federation) : IClassFixture<TlsFederation>
{
    [Fact]
    public async Task Over_TLS_the_main_port_serves_SDMX_over_HTTP_1_1_beside_gRPC_and_a_bound_token_needs_its_certificate()
    {
        var node = federation.Node;
        Assert.StartsWith("https://", node.Address);
        var token = await node.Tokens.GetTokenAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240))); // gRPC on the same port
        var expected = (await SdmxRestTests.GrpcAsync(node, token)).Select(SdmxRestTests.Expected).ToList();

        async Task<(HttpStatusCode Status, string Body)> GetAsync(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
        {
            using var http = new HttpClient(Mirps.Tls.FederationTrust.CreateHandler(federation.Ca, certificate));
            using var request = new HttpRequestMessage(HttpMethod.Get, node.Address + "/sdmx/rest/data/DF_MIRPS_PROTECTION/REFUGEES.BLZ........")
            {
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpVersion.Version11, response.Version);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var own = await GetAsync(node.ClientCertificate);
        Assert.Equal(HttpStatusCode.OK, own.Status);
        Assert.Equal(expected, SdmxRestTests.ReadGeneric(own.Body));
        // The same token replayed with Panama's certificate, or with none: refused, and nothing of the data in the answer.
        using var panama = federation.Identity.ClientCertificate("PAN");
        foreach (var certificate in new[] { panama, null })
        {
            var replay = await GetAsync(certificate);
            Assert.Equal(HttpStatusCode.Unauthorized, replay.Status);
            Assert.DoesNotContain("240", replay.Body);
        }
    }
}
