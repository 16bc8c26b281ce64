using System.Xml.Linq;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Spreadsheets;
using MirpsExchange.Catalogue.Validation.Rules;

namespace MirpsExchange.UnitTests;

/// <summary>
/// Total decisions (DECISIONS_TOTAL, catalogue 2.1.0): the indicator the rules "decision components against total decisions"
/// name, so they judge a State that reports a total. The components are the decisions on substance (recognized +
/// complementary protection + rejected); applications closed without a decision are not decisions (issue 13).
/// </summary>
public class DecisionsTotalTests
{
    private const string Total = "DECISIONS_TOTAL";
    private static readonly StandardCatalogue Standard = StandardCatalogue.LoadStandard();
    private static readonly StandardCatalogue Released = StandardCatalogue.LoadVersion("2.0.0");
    private static readonly CatalogueRules Rules = new(Standard);

    private static Observation Obs(string indicator, double value, string sex = "_T", string period = "2023") => new()
    {
        IndicatorCode = indicator, Country = "PAN", Period = period, Sex = sex, Age = "_T", CountryOfOrigin = "_T", Value = value, Status = ObservationStatus.Normal,
    };

    /// <summary>Panama's 2023 decisions on substance (synthetic): 131 + 0 + 960 = 1,091.</summary>
    private static Observation[] Components() =>
        [Obs("DECISIONS_RECOGNIZED", 131), Obs("DECISIONS_COMPLEMENTARY", 0), Obs("DECISIONS_REJECTED", 960)];

    private static List<RuleFinding> Judge(IEnumerable<Observation> request, IEnumerable<Observation>? stored = null)
    {
        var cells = Rules.NewCells("PAN");
        var i = 0;
        foreach (var o in request)
        {
            cells.AddRequest(o.IndicatorCode, Period.Parse(o.Period), ObservationDimensionFields.Values(o), o.Value, i++);
        }
        foreach (var o in stored ?? [])
        {
            cells.AddStored(o.IndicatorCode, Period.Parse(o.Period), ObservationDimensionFields.Values(o), o.Value);
        }
        return Rules.Evaluate(cells, requestOnly: true);
    }

    [Fact]
    public void Catalogue_2_1_declares_total_decisions_with_its_spanish_label_in_the_asylum_procedures_group_and_the_components_dimensions()
    {
        Assert.Equal("2.1.0", Standard.Version);
        var total = Standard.FindIndicator(Total)?.Indicator;
        Assert.NotNull(total);
        Assert.Equal("Decisiones: total de decisiones de fondo", total.Name.Es);
        Assert.Equal("Decisions: total decisions on substance", total.Name.En);
        Assert.Equal("ASYLUM_PROCEDURES", total.GroupId);
        var recognized = Standard.FindIndicator("DECISIONS_RECOGNIZED")!.Indicator;
        Assert.Equal(recognized.DimensionIds, total.DimensionIds);
        Assert.Equal(recognized.Granularities, total.Granularities);
        Assert.Equal((IndicatorKind.Flow, "DECISIONS", AggregationRule.Sum, TemporalAggregation.Sum), (total.Kind, total.UnitId, total.Aggregation, total.TemporalAggregation));
        Assert.Contains("cerradas sin decisión de fondo", total.Description.Es);
    }

    [Fact]
    public void The_released_catalogue_2_0_is_kept_as_it_was_released_and_catalogue_2_1_maps_it_and_1_0()
    {
        // 2.0.0 is what States' nodes already run: its digest is what they compare when they sync.
        Assert.Equal("2.0.0", Released.Version);
        Assert.StartsWith("4168c0d5c6f0df812d357b6fd28991a0aec5bd0e2", Released.Digest, StringComparison.Ordinal);
        Assert.Null(Released.FindIndicator(Total));
        Assert.Empty(CatalogueUpgrade.Problems(Released, Standard));
        Assert.Empty(CatalogueUpgrade.Problems(StandardCatalogue.LoadVersion("1.0.0"), Standard));
        Assert.Equal(CatalogueUpgrade.Relation.ReaderEarlier, CatalogueUpgrade.RelationTo(Standard, "2.0.0", Released.Digest));
        Assert.Equal(CatalogueUpgrade.Relation.ReaderLater, CatalogueUpgrade.RelationTo(Released, "2.1.0", Standard.Digest));
        Assert.Equal(CatalogueUpgrade.Relation.ReaderEarlier, CatalogueUpgrade.RelationTo(Standard, "1.0.0", StandardCatalogue.LoadVersion("1.0.0").Digest));
        // A file calling itself 2.0.0 but holding something else is no released catalogue.
        Assert.Equal(CatalogueUpgrade.Relation.Unrelated, CatalogueUpgrade.RelationTo(Standard, "2.0.0", Standard.Digest));
    }

    [Fact]
    public void The_decision_rules_are_active_and_count_decisions_on_substance_only()
    {
        Assert.Empty(Rules.Dormant);
        foreach (var id in new[] { "DECISIONS_NOT_ABOVE_TOTAL", "DECISIONS_EQUAL_TOTAL" })
        {
            var rule = Assert.Single(Rules.Active, r => r.Id == id);
            Assert.Equal(Total, rule.Components.TotalIndicatorCode);
            Assert.Equal(["DECISIONS_RECOGNIZED", "DECISIONS_COMPLEMENTARY", "DECISIONS_REJECTED"], rule.Components.ComponentIndicatorCodes);
            Assert.DoesNotContain("otherwise closed", rule.Description.En);
        }
    }

    [Fact]
    public void From_catalogue_2_1_a_rule_naming_an_indicator_the_catalogue_lacks_is_refused_not_left_dormant()
    {
        var withoutTotal = Standard.Catalog.Clone();
        withoutTotal.Indicators.Remove(withoutTotal.Indicators.Single(i => i.Code == Total));

        var problems = CatalogueCheck.Problems(withoutTotal);

        Assert.Contains("validation rule DECISIONS_NOT_ABOVE_TOTAL names indicator DECISIONS_TOTAL, which the catalogue does not declare: the rule would never fire", problems);
        Assert.Contains(problems, p => p.StartsWith("validation rule DECISIONS_EQUAL_TOTAL names indicator DECISIONS_TOTAL", StringComparison.Ordinal));
        // A total whose cells are not the components' cells cannot be compared with them.
        var narrower = Standard.Catalog.Clone();
        narrower.Indicators.Single(i => i.Code == Total).DimensionIds.Remove("PROCEDURE_TYPE");
        Assert.Contains(CatalogueCheck.Problems(narrower), p => p.Contains("component DECISIONS_RECOGNIZED and total DECISIONS_TOTAL declare different dimensions", StringComparison.Ordinal));
        // The released 2.0.0 is loaded as it was, its decision rules dormant.
        Assert.Empty(CatalogueCheck.Problems(Released.Catalog));
    }

    [Fact]
    public void A_total_below_its_components_is_a_finding_naming_the_total_and_each_component_cell()
    {
        var findings = Judge([Obs(Total, 1000)], Components());

        // Every decision reported: the total is both exceeded and unequal.
        Assert.Equal(["DECISIONS_EQUAL_TOTAL", "DECISIONS_NOT_ABOVE_TOTAL"], findings.Select(f => f.Rule.Id).Order(StringComparer.Ordinal));
        var finding = findings.Single(f => f.Rule.Id == "DECISIONS_NOT_ABOVE_TOTAL");
        Assert.Equal(RuleSeverity.Error, finding.Rule.Severity);
        Assert.Equal((1091, 1000), (finding.Left, finding.Right));
        var result = finding.ToResult();
        Assert.Equal(Total, result.IndicatorCode);
        Assert.Equal(["DECISIONS_RECOGNIZED", "DECISIONS_COMPLEMENTARY", "DECISIONS_REJECTED"], result.LeftCells.Select(c => c.Key.IndicatorCode));
        var total = Assert.Single(result.RightCells);
        Assert.Equal((Total, "PAN", "2023", 1000.0, 0), (total.Key.IndicatorCode, total.Key.Country, total.Key.Period, total.Value, total.ObservationIndex));
        Assert.Contains("DECISIONS_TOTAL 1,000", finding.Message);
    }

    [Fact]
    public void The_components_reported_with_a_total_below_them_in_one_batch_are_judged_too()
    {
        var finding = Assert.Single(Judge([.. Components()[..2], Obs(Total, 100)]));
        Assert.Equal("DECISIONS_NOT_ABOVE_TOTAL", finding.Rule.Id);
        Assert.Equal((131, 100), (finding.Left, finding.Right));
        Assert.Equal(0, finding.FirstObservationIndex());
    }

    [Fact]
    public void A_total_consistent_with_its_components_passes_and_one_above_them_all_is_unequal()
    {
        Assert.Empty(Judge([Obs(Total, 1091)], Components()));
        // A component not reported yet: the total may be above the others, not judged for equality.
        Assert.Empty(Judge([Obs(Total, 1100)], Components()[..2]));
        var unequal = Assert.Single(Judge([Obs(Total, 1100)], Components()));
        Assert.Equal("DECISIONS_EQUAL_TOTAL", unequal.Rule.Id);
        Assert.Equal((1091, 1100), (unequal.Left, unequal.Right));
    }

    [Fact]
    public void Applications_closed_without_a_decision_are_not_decisions()
    {
        Assert.Empty(Judge([Obs(Total, 1091), Obs("DECISIONS_OTHERWISE_CLOSED", 1450)], Components()));
        Assert.Single(Judge([Obs(Total, 2541)], [.. Components(), Obs("DECISIONS_OTHERWISE_CLOSED", 1450)]), f => f.Rule.Id == "DECISIONS_EQUAL_TOTAL");
    }

    [Fact]
    public void Without_a_total_the_rules_are_silent()
    {
        Assert.Empty(Judge(Components()));
        Assert.Empty(Judge([Obs("DECISIONS_REJECTED", 5000)], Components()));
    }

    [Fact]
    public void Each_cell_is_judged_against_the_total_of_the_same_cell()
    {
        Observation[] women = [Obs("DECISIONS_RECOGNIZED", 60, sex: "F"), Obs("DECISIONS_REJECTED", 40, sex: "F")];
        Assert.Empty(Judge([Obs(Total, 100, sex: "F")], women));
        var finding = Assert.Single(Judge([Obs(Total, 90, sex: "F")], [.. women, .. Components()]));
        Assert.Equal("F", finding.ToResult().RightCells.Single().Key.Sex);
        Assert.Equal((100, 90), (finding.Left, finding.Right));
    }

    [Fact]
    public void The_sdmx_indicator_codelist_and_structure_message_carry_total_decisions_in_spanish_and_english()
    {
        var structure = new SdmxStructure(Standard);
        var code = Assert.Single(structure.CodelistOf(SdmxCsv.IndicatorDimension)!.Codes, c => c.Id == Total);
        Assert.Equal("Decisiones: total de decisiones de fondo", code.Name.Es);
        Assert.False(new SdmxStructure(Released).CodelistOf(SdmxCsv.IndicatorDimension)!.Contains(Total));

        using var stream = new MemoryStream();
        structure.Write(stream, SdmxStructure.Parts.Codelists | SdmxStructure.Parts.DataStructure, "IREF1", DateTimeOffset.UnixEpoch);
        stream.Position = 0;
        var xml = XDocument.Load(stream);
        XNamespace str = SdmxStructure.StructureNamespace;
        var codelist = xml.Descendants(str + "Codelist").Single(c => (string?)c.Attribute("id") == SdmxStructure.IndicatorCodelist);
        Assert.Contains(codelist.Elements(str + "Code"), c => (string?)c.Attribute("id") == Total);
        Assert.Contains(xml.Descendants(str + "DataStructure"), d => (string?)d.Attribute("version") == "2.1.0");
    }

    [Fact]
    public void The_xlsx_template_offers_total_decisions_on_the_asylum_procedures_sheet()
    {
        using var stream = new MemoryStream();
        XlsxTemplate.Write(stream, Standard, "PAN", "2023");
        stream.Position = 0;
        using var document = SpreadsheetDocument.Open(stream, false);
        var sheet = document.WorkbookPart!.Workbook.Sheets!.Elements<Sheet>().Single(s => s.Name == "Procedimientos de asilo");
        var part = (WorksheetPart)document.WorkbookPart.GetPartById(sheet.Id!);

        var codes = part.Worksheet.Descendants<Row>().Skip(XlsxTemplate.FirstDataRow - 1).Select(r => r.Elements<Cell>().First().InnerText).ToList();

        Assert.Contains(Total, codes);
        Assert.True(codes.IndexOf("DECISIONS_REJECTED") < codes.IndexOf(Total), "the total follows its components");
    }
}
