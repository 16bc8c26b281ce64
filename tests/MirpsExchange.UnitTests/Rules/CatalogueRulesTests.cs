using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation.Rules;

namespace MirpsExchange.UnitTests.Rules;

/// <summary>The catalogue's validation rules: each with a passing and a failing case, over cells built here.</summary>
public class CatalogueRulesTests
{
    private static readonly StandardCatalogue Standard = StandardCatalogue.LoadStandard();
    private static readonly CatalogueRules Rules = new(Standard);

    /// <summary>An observation with the dimensions its indicator declares (all three for one the standard catalogue lacks).</summary>
    private static Observation Obs(string indicator, string period, double value, string sex = "_T", string age = "_T", string origin = "_T")
    {
        var rule = Standard.FindIndicator(indicator);
        return new()
        {
            IndicatorCode = indicator,
            Country = "BLZ",
            Period = period,
            Sex = rule is { Sexes: null } ? "" : sex,
            Age = rule is { Ages: null } ? "" : age,
            CountryOfOrigin = rule is { CountriesOfOrigin: null } ? "" : origin,
            Value = value,
            Status = ObservationStatus.Normal,
        };
    }

    /// <summary>The request's observations over the stored ones; the rule ids broken (findings involving the request).</summary>
    private static List<RuleFinding> Judge(IEnumerable<Observation> request, IEnumerable<Observation>? stored = null, CatalogueRules? rules = null, string country = "BLZ")
    {
        var cells = (rules ?? Rules).NewCells(country);
        var i = 0;
        foreach (var o in request)
        {
            cells.AddRequest(o.IndicatorCode, Period.Parse(o.Period), ObservationDimensionFields.Values(o), o.Value, i++);
        }
        foreach (var o in stored ?? [])
        {
            cells.AddStored(o.IndicatorCode, Period.Parse(o.Period), ObservationDimensionFields.Values(o), o.Value);
        }
        return (rules ?? Rules).Evaluate(cells, requestOnly: true);
    }

    private static string[] Ids(List<RuleFinding> findings) => [.. findings.Select(f => f.Rule.Id).Distinct().Order()];

    [Fact]
    public void Breakdown_above_its_total_fails_and_within_passes()
    {
        Assert.Empty(Judge([Obs("REFUGEES", "2023", 240), Obs("REFUGEES", "2023", 130, sex: "F")]));
        var findings = Judge([Obs("REFUGEES", "2023", 240), Obs("REFUGEES", "2023", 250, sex: "F")]);
        var finding = Assert.Single(findings);
        Assert.Equal("BREAKDOWN_NOT_ABOVE_TOTAL", finding.Rule.Id);
        Assert.Equal(RuleSeverity.Error, finding.Rule.Severity);
        Assert.Equal((250, 240), (finding.Left, finding.Right));
        var result = finding.ToResult();
        Assert.Equal(1, result.LeftCells.Single().ObservationIndex);
        Assert.Equal("F", result.LeftCells.Single().Key.Sex);
        Assert.Equal(0, result.RightCells.Single().ObservationIndex);
    }

    [Fact]
    public void Complete_breakdown_must_equal_its_total()
    {
        Assert.Empty(Judge([Obs("REFUGEES", "2023", 240), Obs("REFUGEES", "2023", 130, sex: "F"), Obs("REFUGEES", "2023", 110, sex: "M")]));
        var finding = Assert.Single(Judge([Obs("REFUGEES", "2023", 240), Obs("REFUGEES", "2023", 130, sex: "F"), Obs("REFUGEES", "2023", 100, sex: "M")]));
        Assert.Equal("BREAKDOWN_COMPLETE_EQUALS_TOTAL", finding.Rule.Id);
        Assert.Equal((230, 240), (finding.Left, finding.Right));
    }

    [Fact]
    public void Breakdowns_are_judged_per_dimension_with_the_others_fixed_and_over_the_stored_values()
    {
        // Ages of women: F,_T is the total; the stored F,Y0T4 and the request's F,Y5T11 add up above it.
        var stored = new[] { Obs("REFUGEES", "2023", 100, sex: "F"), Obs("REFUGEES", "2023", 60, sex: "F", age: "Y0T4") };
        Assert.Empty(Judge([Obs("REFUGEES", "2023", 40, sex: "F", age: "Y5T11")], stored));
        var finding = Assert.Single(Judge([Obs("REFUGEES", "2023", 41, sex: "F", age: "Y5T11")], stored));
        Assert.Equal("BREAKDOWN_NOT_ABOVE_TOTAL", finding.Rule.Id);
        Assert.Contains("AGE", finding.Message);
        // A stored table's own inconsistency is not the request's: a request that does not touch it passes.
        Assert.Empty(Judge([Obs("REFUGEES", "2022", 1)], [Obs("REFUGEES", "2023", 1), Obs("REFUGEES", "2023", 5, sex: "M")]));
    }

    [Fact]
    public void Statistics_are_not_broken_down_additively()
    {
        Assert.Empty(Judge([Obs("MEDIAN_PROCESSING_DAYS", "2023", 100), Obs("MEDIAN_PROCESSING_DAYS", "2023", 400, origin: "VEN")]));
    }

    [Fact]
    public void Pending_balance_warns_when_stock_does_not_follow_flows()
    {
        Observation[] stored = [Obs("ASYLUM_SEEKERS", "2022", 9800), Obs("ASYLUM_APPLICATIONS", "2023", 3400),
            Obs("DECISIONS_RECOGNIZED", "2023", 131), Obs("DECISIONS_COMPLEMENTARY", "2023", 0), Obs("DECISIONS_REJECTED", "2023", 960)];
        Assert.Empty(Judge([Obs("ASYLUM_SEEKERS", "2023", 10659), Obs("DECISIONS_OTHERWISE_CLOSED", "2023", 1450)], stored));
        var finding = Assert.Single(Judge([Obs("ASYLUM_SEEKERS", "2023", 10000), Obs("DECISIONS_OTHERWISE_CLOSED", "2023", 1450)], stored));
        Assert.Equal("PENDING_BALANCE", finding.Rule.Id);
        Assert.Equal(RuleSeverity.Warning, finding.Rule.Severity);
        Assert.Equal((10000, 10659), (finding.Left, finding.Right));
        Assert.Equal(4, finding.RightTerms.Count(t => t.Subtracted));
        // A missing term (no 2022 stock) skips the rule (SKIP_IF_ANY_VALUE_MISSING).
        Assert.Empty(Judge([Obs("ASYLUM_SEEKERS", "2023", 10000), Obs("DECISIONS_OTHERWISE_CLOSED", "2023", 1450)], stored[1..]));
    }

    [Fact]
    public void Pending_balance_counts_a_flows_cell_at_the_total_of_a_dimension_the_stock_lacks_not_its_breakdowns()
    {
        // ASYLUM_APPLICATIONS declares APPLICATION_TYPE, which ASYLUM_SEEKERS does not: its _T cell is the inflow; NEW (stored first) is not.
        var lodgedNew = Obs("ASYLUM_APPLICATIONS", "2023", 3000);
        lodgedNew.ApplicationType = "NEW";
        var lodged = Obs("ASYLUM_APPLICATIONS", "2023", 3400);
        lodged.ApplicationType = "_T";
        Observation[] stored = [Obs("ASYLUM_SEEKERS", "2022", 9800), lodgedNew, lodged,
            Obs("DECISIONS_RECOGNIZED", "2023", 131), Obs("DECISIONS_COMPLEMENTARY", "2023", 0), Obs("DECISIONS_REJECTED", "2023", 960)];
        Assert.Empty(Judge([Obs("ASYLUM_SEEKERS", "2023", 10659), Obs("DECISIONS_OTHERWISE_CLOSED", "2023", 1450)], stored));
        var finding = Assert.Single(Judge([Obs("ASYLUM_SEEKERS", "2023", 10000), Obs("DECISIONS_OTHERWISE_CLOSED", "2023", 1450)], stored));
        Assert.Equal((10000, 10659), (finding.Left, finding.Right));
        Assert.Contains(finding.RightTerms, t => t.Cell?.Value == 3400);
    }

    [Fact]
    public void A_flows_year_is_the_sum_of_its_quarters_and_months()
    {
        Observation[] quarters = [Obs("ASYLUM_APPLICATIONS", "2023-Q1", 820), Obs("ASYLUM_APPLICATIONS", "2023-Q2", 880), Obs("ASYLUM_APPLICATIONS", "2023-Q3", 910)];
        Assert.Empty(Judge([Obs("ASYLUM_APPLICATIONS", "2023-Q4", 790)], [.. quarters, Obs("ASYLUM_APPLICATIONS", "2023", 3400)]));
        var finding = Assert.Single(Judge([Obs("ASYLUM_APPLICATIONS", "2023-Q4", 700)], [.. quarters, Obs("ASYLUM_APPLICATIONS", "2023", 3400)]));
        Assert.Equal("TEMPORAL_CONSISTENCY", finding.Rule.Id);
        Assert.Equal((3310, 3400), (finding.Left, finding.Right));
        // Months within a quarter: above the quarter fails even before every month is in.
        var partial = Assert.Single(Judge([Obs("ASYLUM_APPLICATIONS", "2023-01", 900)], [Obs("ASYLUM_APPLICATIONS", "2023-Q1", 820)]));
        Assert.Equal("TEMPORAL_PARTS_NOT_ABOVE_YEAR", partial.Rule.Id);
        Assert.Empty(Judge([Obs("ASYLUM_APPLICATIONS", "2023-01", 300)], [Obs("ASYLUM_APPLICATIONS", "2023-Q1", 820)]));
    }

    [Fact]
    public void A_stocks_year_is_its_last_quarter_and_its_december()
    {
        Assert.Empty(Judge([Obs("REFUGEES", "2023", 240), Obs("REFUGEES", "2023-Q3", 300), Obs("REFUGEES", "2023-Q4", 240), Obs("REFUGEES", "2023-12", 240)]));
        var finding = Assert.Single(Judge([Obs("REFUGEES", "2023", 240), Obs("REFUGEES", "2023-Q4", 250)]));
        Assert.Equal("TEMPORAL_CONSISTENCY", finding.Rule.Id);
        Assert.Equal((250, 240), (finding.Left, finding.Right));
        Assert.Equal("2023-Q4", finding.LeftTerms.Single().Period.ToString());
    }

    [Fact]
    public void Refugees_do_not_come_from_the_reporting_country()
    {
        Assert.Empty(Judge([Obs("REFUGEES", "2023", 5, origin: "GTM"), Obs("REFUGEES", "2023", 0, origin: "BLZ")]));
        var finding = Assert.Single(Judge([Obs("REFUGEES", "2023", 5, origin: "BLZ")]));
        Assert.Equal("ORIGIN_NOT_REPORTING_COUNTRY", finding.Rule.Id);
        // Another indicator with a country of origin (work permits) is not judged.
        Assert.Empty(Judge([Obs("WORK_PERMITS", "2023", 5, origin: "BLZ")]));
    }

    [Fact]
    public void A_rule_naming_an_indicator_its_catalogue_lacks_is_dormant()
    {
        // The released 2.0.0 named total decisions before declaring them: its decision rules never fired (2.1.0 declares them: DecisionsTotalTests).
        var released = new CatalogueRules(StandardCatalogue.LoadVersion("2.0.0"));
        Assert.Equal(["DECISIONS_EQUAL_TOTAL", "DECISIONS_NOT_ABOVE_TOTAL"], released.Dormant.Select(r => r.Id).Order(StringComparer.Ordinal));
        Assert.Empty(Rules.Dormant);
    }

    [Fact]
    public void Missing_value_strategies()
    {
        Rule(MissingValueStrategy.NeverSkip, out var never);
        // Treat missing as zero: a breakdown with no total is judged against 0.
        Assert.Single(Judge([Obs("REFUGEES", "2023", 5, sex: "F")], rules: never));
        Rule(MissingValueStrategy.SkipIfAllValuesMissing, out var all);
        Assert.Empty(Judge([Obs("REFUGEES", "2023", 5, sex: "F")], rules: all));

        static void Rule(MissingValueStrategy strategy, out CatalogueRules rules)
        {
            var catalog = Standard.Catalog.Clone();
            catalog.ValidationRules.Clear();
            catalog.ValidationRules.Add(new ValidationRule
            {
                Id = "ANY", Name = new() { En = "x", Es = "x" }, Description = new() { En = "x", Es = "x" },
                Severity = RuleSeverity.Error, MissingValueStrategy = strategy, Operator = RuleOperator.LessThanOrEqual,
                Breakdown = new BreakdownCheck { DimensionIds = { "SEX" } },
            });
            rules = new CatalogueRules(new StandardCatalogue(catalog));
        }
    }

    [Fact]
    public void The_catalogue_check_refuses_a_rule_without_severity_or_with_an_unknown_dimension()
    {
        var catalog = Standard.Catalog.Clone();
        catalog.ValidationRules[0].Severity = RuleSeverity.Unspecified;
        catalog.ValidationRules[0].Breakdown.DimensionIds.Add("NOPE");
        var problems = CatalogueCheck.Problems(catalog);
        Assert.Contains(problems, p => p.Contains("no severity"));
        Assert.Contains(problems, p => p.Contains("unknown dimension NOPE"));
    }

    [Theory]
    [InlineData("BLZ")]
    [InlineData("CRI")]
    [InlineData("SLV")]
    [InlineData("GTM")]
    [InlineData("HND")]
    [InlineData("MEX")]
    [InlineData("PAN")]
    public void The_sample_files_break_no_error_rule(string country)
    {
        using var reader = File.OpenText(Path.Combine(AppContext.BaseDirectory, "Samples", $"{country}.csv"));
        var rows = ObservationCsv.Read(reader).Observations;
        var errors = Judge(rows, country: country).Where(f => f.IsError).Select(f => f.Message).ToList();
        Assert.Empty(errors);
    }
}
