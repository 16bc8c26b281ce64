using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;

namespace MirpsExchange.UnitTests.Exports;

/// <summary>The SDMX-ML 2.1 and SDMX-JSON 1.0.0 messages of SDMX REST, element by element, for both shipped catalogues.</summary>
public class SdmxMessageTests
{
    private static readonly XNamespace Message = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message";
    private static readonly XNamespace Structure = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure";
    private static readonly XNamespace Generic = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic";
    private static readonly DateTimeOffset Prepared = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static XDocument Xml(Action<Stream> write)
    {
        using var stream = new MemoryStream();
        write(stream);
        return XDocument.Parse(Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static ExportRow Row(string sex, string period, double? value, ObservationStatus status = ObservationStatus.Normal, bool deleted = false) =>
        new("REFUGEES", "BLZ", period, sex, "_T", "_T", value, status, "", default, default, deleted);

    [Fact]
    public void A_catalogue_1_0_structure_has_its_version_and_no_catalogue_2_dimensions_and_still_every_status_code()
    {
        var structure = new SdmxStructure(StandardCatalogue.LoadVersion("1.0.0"));
        Assert.Equal(["INDICATOR", "REF_AREA", "SEX", "AGE", "COUNTRY_OF_ORIGIN"], structure.KeyDimensions);
        var document = Xml(s => structure.Write(s, SdmxStructure.Parts.Dataflow | SdmxStructure.Parts.DataStructure | SdmxStructure.Parts.Codelists, "IREF1", Prepared));
        Assert.Equal("1.0.0", (string)document.Descendants(Structure + "Dataflow").Single().Attribute("version")!);
        Assert.Equal(["A", "C", "E", "P"], document.Descendants(Structure + "Codelist").Single(c => (string)c.Attribute("id")! == "CL_OBS_STATUS")
            .Elements(Structure + "Code").Select(c => (string)c.Attribute("id")!).Order(StringComparer.Ordinal));
        Assert.Empty(document.Descendants(Structure + "ConceptScheme"));
    }

    [Fact]
    public void Generic_data_groups_series_in_time_order_and_leaves_a_withheld_value_and_empty_attributes_out()
    {
        var structure = new SdmxStructure(StandardCatalogue.LoadStandard());
        var rows = new[] { Row("F", "2023", 120), Row("F", "2022", 100), Row("M", "2023", null, ObservationStatus.Confidential) };
        var document = Xml(s => new SdmxData(structure, [new(rows)], SdmxData.TimeSeries).WriteGeneric(s, "IREF1", Prepared));

        var series = document.Descendants(Generic + "Series").ToList();
        Assert.Equal(2, series.Count);
        Assert.Equal(["2022", "2023"], series[0].Elements(Generic + "Obs").Select(o => (string)o.Element(Generic + "ObsDimension")!.Attribute("value")!));
        var withheld = series[1].Elements(Generic + "Obs").Single();
        Assert.Null(withheld.Element(Generic + "ObsValue"));
        Assert.Equal(["OBS_STATUS=C"], withheld.Descendants(Generic + "Value").Select(v => $"{v.Attribute("id")!.Value}={v.Attribute("value")!.Value}"));
        Assert.Equal("_Z", series[0].Element(Generic + "SeriesKey")!.Elements().Single(v => (string)v.Attribute("id")! == "APPLICATION_TYPE").Attribute("value")!.Value);
        var header = document.Root!.Element(Message + "Header")!.Element(Message + "Structure")!;
        Assert.Equal("TIME_PERIOD", (string)header.Attribute("dimensionAtObservation")!);
    }

    [Fact]
    public void History_data_sets_carry_their_action_and_validity_and_a_deletion_has_no_value_in_JSON()
    {
        var structure = new SdmxStructure(StandardCatalogue.LoadStandard());
        var from = Prepared.AddDays(-2);
        var until = Prepared.AddDays(-1);
        using var stream = new MemoryStream();
        new SdmxData(structure, [new([Row("_T", "2023", 240)], SdmxAction.Replace, ValidFrom: from), new([Row("_T", "2023", null, deleted: true)], SdmxAction.Delete, ValidTo: until)],
            SdmxData.AllDimensions).WriteJson(stream, "IREF1", Prepared);
        using var json = JsonDocument.Parse(stream.ToArray());
        var sets = json.RootElement.GetProperty("dataSets").EnumerateArray().ToList();
        Assert.Equal(["Replace", "Delete"], sets.Select(s => s.GetProperty("action").GetString()));
        Assert.StartsWith("2026-12-04T12:00:00", sets[0].GetProperty("validFrom").GetString());
        Assert.StartsWith("2026-12-05T12:00:00", sets[1].GetProperty("validTo").GetString());
        var deleted = sets[1].GetProperty("observations").EnumerateObject().Single().Value.EnumerateArray().ToList();
        Assert.True(deleted.All(c => c.ValueKind == JsonValueKind.Null)); // no value, no status
        var dimensions = json.RootElement.GetProperty("structure").GetProperty("dimensions").GetProperty("observation").EnumerateArray().Select(d => d.GetProperty("id").GetString());
        Assert.Equal(new SdmxStructure(StandardCatalogue.LoadStandard()).Dimensions, dimensions);
        Assert.Equal(AddedDimensions.Count + 6, dimensions.Count());
    }
}
