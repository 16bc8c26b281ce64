using System.Text.RegularExpressions;
using Mirps.Catalog.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.UnitTests;

/// <summary>
/// The defects a statistician found in catalogue 1.0.0 (issue 13), each asked of both shipped versions: the
/// defect shows in 1.0.0 and is gone in 2.0.0. A test that only looked at 2.0.0 could pass on a catalogue
/// that never had the defect; asking 1.0.0 too shows the test can fail.
/// </summary>
public class Catalogue2Tests
{
    private static readonly StandardCatalogue V1 = StandardCatalogue.LoadVersion("1.0.0");
    private static readonly StandardCatalogue V2 = StandardCatalogue.LoadVersion("2.0.0");

    private static StandardCatalogue Version(string version) => version == "1.0.0" ? V1 : V2;

    private static Indicator Indicator(StandardCatalogue catalogue, string code) => catalogue.FindIndicator(code)!.Indicator;

    private static string[] Sorted(IEnumerable<string> codes) => [.. codes.Order(StringComparer.Ordinal)];

    // ---- Rates ----

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void The_recognition_rate_divides_by_every_substantive_decision(string version, bool defect)
    {
        // Catalogue 1.0 defined no rate: the Secretariat divided recognized by (recognized + rejected).
        var ratio = Version(version).FindRatio(StandardCatalogue.RecognitionRate);
        string[] substantive = ["DECISIONS_COMPLEMENTARY", "DECISIONS_RECOGNIZED", "DECISIONS_REJECTED"];

        var right = ratio is not null
            && Sorted(ratio.DenominatorIndicatorCodes).SequenceEqual(substantive)
            && ratio.NumeratorIndicatorCodes.SequenceEqual(["DECISIONS_RECOGNIZED"]);

        Assert.Equal(defect, !right);
    }

    [Fact]
    public void The_total_protection_rate_counts_recognized_and_complementary_over_every_substantive_decision()
    {
        var ratio = V2.FindRatio(StandardCatalogue.TotalProtectionRate)!;

        Assert.Equal(["DECISIONS_COMPLEMENTARY", "DECISIONS_RECOGNIZED"], Sorted(ratio.NumeratorIndicatorCodes));
        Assert.Equal(["DECISIONS_COMPLEMENTARY", "DECISIONS_RECOGNIZED", "DECISIONS_REJECTED"], Sorted(ratio.DenominatorIndicatorCodes));
        Assert.DoesNotContain("DECISIONS_OTHERWISE_CLOSED", ratio.DenominatorIndicatorCodes);
    }

    [Fact]
    public void RRR_and_TPR_worked_by_hand()
    {
        // Three States' first-instance decisions in a year (persons):
        //           recognized  complementary  rejected  otherwise closed
        //   BLZ          240             10        150               500
        //   CRI        1,000            500      3,500                 -
        //   SLV            5              -         15                 -   (reported no complementary: left out)
        var table = new Dictionary<(string, string), double>
        {
            [("BLZ", "DECISIONS_RECOGNIZED")] = 240, [("BLZ", "DECISIONS_COMPLEMENTARY")] = 10, [("BLZ", "DECISIONS_REJECTED")] = 150,
            [("BLZ", "DECISIONS_OTHERWISE_CLOSED")] = 500,
            [("CRI", "DECISIONS_RECOGNIZED")] = 1000, [("CRI", "DECISIONS_COMPLEMENTARY")] = 500, [("CRI", "DECISIONS_REJECTED")] = 3500,
            [("SLV", "DECISIONS_RECOGNIZED")] = 5, [("SLV", "DECISIONS_REJECTED")] = 15,
        };
        double? Value(string state, string code) => table.TryGetValue((state, code), out var v) ? v : null;
        string[] states = ["BLZ", "CRI", "SLV"];

        var rrr = RatioOfSums.Compute(V2.FindRatio(StandardCatalogue.RecognitionRate)!, states, Value);
        var tpr = RatioOfSums.Compute(V2.FindRatio(StandardCatalogue.TotalProtectionRate)!, states, Value);

        // RRR = recognized / (recognized + complementary + rejected), over BLZ and CRI:
        //   (240 + 1,000) / ((240 + 10 + 150) + (1,000 + 500 + 3,500)) = 1,240 / 5,400 = 0.229629...
        Assert.Equal((1240, 5400), (rrr.Numerator, rrr.Denominator));
        Assert.Equal(0.229630, rrr.Value!.Value, 6);
        Assert.Equal(["BLZ", "CRI"], rrr.IncludedStates);
        Assert.Equal(["SLV"], rrr.ExcludedStates);
        // TPR = (recognized + complementary) / (recognized + complementary + rejected):
        //   (250 + 1,500) / 5,400 = 1,750 / 5,400 = 0.324074...; the 500 otherwise closed are not decisions.
        Assert.Equal((1750, 5400), (tpr.Numerator, tpr.Denominator));
        Assert.Equal(0.324074, tpr.Value!.Value, 6);
        // Catalogue 1.0's recognition rate, 1,240 / (1,240 + 3,650) = 0.2536 over the same States, overstated recognition.
        Assert.NotEqual(Math.Round(1240.0 / (1240 + 150 + 3500), 6), Math.Round(rrr.Value.Value, 6));
        // Not the mean of the States' own rates: (240/400 + 1,000/5,000) / 2 = 0.4.
        Assert.NotEqual(0.4, rrr.Value.Value, 6);
    }

    [Fact]
    public void A_rate_with_no_substantive_decision_has_no_value()
    {
        var rrr = RatioOfSums.Compute(V2.FindRatio(StandardCatalogue.RecognitionRate)!, ["PAN"], (_, _) => 0);

        Assert.Null(rrr.Value);
        Assert.Equal(["PAN"], rrr.IncludedStates);
    }

    // ---- Stocks, flows and rules over time ----

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Returnees_with_protection_needs_is_a_flow_whose_year_is_the_sum_of_its_quarters(string version, bool defect)
    {
        // States report returns per quarter and add the quarters (the samples did): a flow's rule. Catalogue 1.0
        // declared a stock, whose year is its last quarter, so the sum contradicted the definition.
        var indicator = Indicator(Version(version), "RETURNEES_PROTECTION_NEEDS");

        var right = indicator.Kind == IndicatorKind.Flow && indicator.TemporalAggregation == TemporalAggregation.Sum;

        Assert.Equal(defect, !right);
    }

    [Fact]
    public void The_consistency_check_refuses_catalogue_1s_kind_of_returnees_with_the_rule_States_use()
    {
        var catalog = V2.Catalog.Clone();
        var returnees = catalog.Indicators.Single(i => i.Code == "RETURNEES_PROTECTION_NEEDS");
        returnees.Kind = Indicator(V1, "RETURNEES_PROTECTION_NEEDS").Kind;

        var problem = Assert.Single(CatalogueCheck.Problems(catalog));
        Assert.StartsWith("indicator RETURNEES_PROTECTION_NEEDS is a stock but its temporal rule is SUM", problem);
        Assert.Throws<InvalidDataException>(() => new StandardCatalogue(catalog));
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Returned_refugees_is_defined_once_as_a_flow(string version, bool defect)
    {
        // Catalogue 1.0: "returned to the country during the reference year and remain. Stock at the end of the period."
        var indicator = Indicator(Version(version), "RETURNED_REFUGEES");
        var text = indicator.Description.En;

        var saysStock = text.Contains("Stock at the end of the period", StringComparison.Ordinal) || text.Contains("and remain", StringComparison.Ordinal);
        var saysFlow = text.Contains("during the period", StringComparison.Ordinal) || text.Contains("during the reference year", StringComparison.Ordinal);
        var right = indicator.Kind == IndicatorKind.Flow && saysFlow && !saysStock && indicator.TemporalAggregation == TemporalAggregation.Sum;

        Assert.Equal(defect, !right);
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Every_indicator_has_the_temporal_rule_of_its_kind(string version, bool defect)
    {
        var wrong = Version(version).Catalog.Indicators
            .Where(i => i.TemporalAggregation == TemporalAggregation.Unspecified || i.TemporalAggregation != CatalogueCheck.TemporalRuleOf(i.Kind))
            .Select(i => i.Code).ToList();

        Assert.Equal(defect, wrong.Count > 0);
    }

    [Theory]
    [InlineData("REFUGEES", TemporalAggregation.EndOfPeriod)]
    [InlineData("ASYLUM_SEEKERS", TemporalAggregation.EndOfPeriod)]
    [InlineData("ASYLUM_APPLICATIONS", TemporalAggregation.Sum)]
    [InlineData("DECISIONS_REJECTED", TemporalAggregation.Sum)]
    [InlineData("MEDIAN_PROCESSING_DAYS", TemporalAggregation.NotAggregable)]
    public void Years_come_from_quarters_by_the_indicators_temporal_rule(string code, TemporalAggregation rule) =>
        Assert.Equal(rule, Indicator(V2, code).TemporalAggregation);

    [Fact]
    public void Catalogue_1_is_still_loadable_but_fails_the_rules_of_catalogue_2()
    {
        var problems = CatalogueCheck.Version2Problems(V1.Catalog);

        Assert.Empty(CatalogueCheck.Problems(V1.Catalog));
        Assert.Contains("indicator RETURNEES_PROTECTION_NEEDS has no temporal rule (a stock needs END_OF_PERIOD (the year is its last quarter and December))", problems);
        Assert.Contains("indicator MEDIAN_PROCESSING_DAYS is not additive across States but does not say why (not_additive_reason, in English and Spanish)", problems);
        Assert.Contains("unit DECISIONS must list the kinds of indicator it measures", problems);
        Assert.Empty(CatalogueCheck.Version2Problems(V2.Catalog));
    }

    // ---- Double counting across States ----

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Persons_assisted_are_not_added_across_States_and_the_catalogue_says_why(string version, bool defect)
    {
        // People crossing the Darien are assisted, and counted, by both Panama and Costa Rica.
        var indicator = Indicator(Version(version), "PERSONS_ASSISTED");

        var right = indicator.Aggregation == AggregationRule.NotAggregable
            && indicator.NotAdditiveReason is { } reason
            && reason.En.Contains("Darién", StringComparison.Ordinal) && reason.En.Contains("Costa Rica", StringComparison.Ordinal)
            && reason.Es.Contains("Darién", StringComparison.Ordinal);

        Assert.Equal(defect, !right);
    }

    [Fact]
    public void Only_indicators_with_a_reason_are_refused_across_States()
    {
        var notAdditive = V2.Catalog.Indicators.Where(i => i.Aggregation == AggregationRule.NotAggregable).Select(i => i.Code);

        Assert.Equal(["MEDIAN_PROCESSING_DAYS", "PERSONS_ASSISTED"], Sorted(notAdditive));
    }

    // ---- Missing concepts ----

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void The_asylum_indicators_carry_the_UNHCR_EGRIS_dimensions(string version, bool defect)
    {
        var catalogue = Version(version);
        bool Declares(string code, params string[] dimensions) => dimensions.All(Indicator(catalogue, code).DimensionIds.Contains);

        var right = Declares("ASYLUM_APPLICATIONS", "APPLICATION_TYPE", "PROCEDURE_TYPE", "COUNT_BASIS")
            && new[] { "DECISIONS_RECOGNIZED", "DECISIONS_COMPLEMENTARY", "DECISIONS_REJECTED", "DECISIONS_OTHERWISE_CLOSED" }
                .All(code => Declares(code, "DECISION_LEVEL", "PROCEDURE_TYPE", "COUNT_BASIS"))
            && Declares("ASYLUM_SEEKERS", "PROCEDURE_TYPE", "COUNT_BASIS")
            && Declares("RESETTLEMENT_DEPARTURES", "COUNTRY_OF_DESTINATION");

        Assert.Equal(defect, !right);
    }

    [Theory]
    [InlineData("APPLICATION_TYPE", "application_type", "_T", new[] { "NEW", "REPEAT", "APPEAL", "_T" })]
    [InlineData("DECISION_LEVEL", "decision_level", "_T", new[] { "FIRST_INSTANCE", "APPEAL", "_T" })]
    [InlineData("PROCEDURE_TYPE", "procedure_type", "_T", new[] { "GOVERNMENT", "JOINT", "UNHCR", "_T" })]
    [InlineData("COUNT_BASIS", "count_basis", "PERSONS", new[] { "PERSONS", "CASES" })]
    public void The_new_dimensions_have_the_agreed_codes_fields_and_defaults(string id, string field, string defaultCode, string[] codes)
    {
        var dimension = V2.FindDimension(id)!;
        var codelist = V2.Catalog.Codelists.Single(c => c.Id == dimension.Dimension.CodelistId).Codes.Select(c => c.Id);

        Assert.Equal(field, dimension.Field);
        Assert.Equal(defaultCode, dimension.DefaultCode);
        Assert.Equal(codes, codelist);
        Assert.Equal(defaultCode, dimension.Resolve(""));
        Assert.Equal(codes[0], dimension.Resolve(codes[0]));
    }

    [Fact]
    public void Persons_and_cases_never_add_so_count_basis_has_no_total_and_headlines_read_persons()
    {
        var countBasis = V2.FindDimension(StandardCatalogue.CountBasisDimension)!;
        var destination = V2.FindDimension(StandardCatalogue.CountryOfDestinationDimension)!;

        Assert.Null(countBasis.TotalCode);
        Assert.Equal("PERSONS", countBasis.HeadlineCode);
        Assert.Equal(("country_of_destination", "_T", "_T"), (destination.Field, destination.DefaultCode, destination.HeadlineCode));
        Assert.Contains("_U", (IEnumerable<string>)destination.Codes);
        Assert.Contains("USA", (IEnumerable<string>)destination.Codes);
    }

    [Fact]
    public void The_dimensions_of_catalogue_1_stay_required_and_an_indicator_knows_its_defaults()
    {
        var sex = V2.FindDimension(StandardCatalogue.SexDimension)!;
        var applications = V2.FindIndicator("ASYLUM_APPLICATIONS")!;

        Assert.Null(sex.DefaultCode);
        Assert.Equal("", sex.Resolve(""));
        Assert.Equal(["SEX", "AGE", "COUNTRY_OF_ORIGIN", "APPLICATION_TYPE", "PROCEDURE_TYPE", "COUNT_BASIS"], applications.Dimensions.Select(d => d.Id));
        Assert.Equal("_T", applications.Dimension("APPLICATION_TYPE")!.DefaultCode);
        Assert.Null(applications.Dimension("DECISION_LEVEL"));
        // The cell a regional total reads (RegionalAggregator's CellFilter.Totals): the declared new dimensions at their defaults.
        Assert.Equal(new Mirps.Log.AddedDimensions("_T", "", "_T", "PERSONS", ""), applications.Normalised(default));
        Assert.Equal("sex", StandardCatalogue.FieldOf("SEX"));
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void The_missing_population_types_and_solutions_are_indicators(string version, bool defect)
    {
        (string Code, IndicatorKind Kind)[] expected =
        [
            ("RETURNED_IDPS", IndicatorKind.Flow), ("HOST_COMMUNITY", IndicatorKind.Stock), ("OTHERS_OF_CONCERN", IndicatorKind.Stock),
            ("NATURALIZATIONS", IndicatorKind.Flow), ("IDP_NEW_DISPLACEMENTS", IndicatorKind.Flow), ("IDP_SOLUTION_EXITS", IndicatorKind.Flow),
        ];

        var right = expected.All(e => Version(version).FindIndicator(e.Code)?.Indicator.Kind == e.Kind);

        Assert.Equal(defect, !right);
    }

    [Fact]
    public void Every_code_of_catalogue_1_is_kept_with_its_dimensions()
    {
        foreach (var old in V1.Catalog.Indicators)
        {
            var now = V2.FindIndicator(old.Code);
            Assert.True(now is not null, $"{old.Code} must keep its code");
            Assert.All(old.DimensionIds, d => Assert.Contains(d, now.Indicator.DimensionIds));
            // Every dimension added to a catalogue 1.0 indicator has a default, so its 1.0 observations stay valid.
            Assert.All(now.Dimensions.Where(d => !old.DimensionIds.Contains(d.Id)), d => Assert.NotNull(d.DefaultCode));
        }
        foreach (var codelist in V1.Catalog.Codelists)
        {
            Assert.Equal(codelist.Codes.Select(c => c.Id), V2.Catalog.Codelists.Single(c => c.Id == codelist.Id).Codes.Select(c => c.Id));
        }
    }

    // ---- Flags and attributes ----

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Lower_bounds_confidentiality_and_synthetic_figures_are_declared_apart_from_the_status(string version, bool defect)
    {
        var attributes = Version(version).Catalog.Attributes.ToDictionary(a => a.Id);

        var right = attributes.ContainsKey("LOWER_BOUND") && attributes.ContainsKey("SYNTHETIC")
            && attributes.TryGetValue("CONF_STATUS", out var confidentiality) && confidentiality.CodelistId == "CL_CONF_STATUS"
            && attributes.TryGetValue("OBS_STATUS", out var status)
            && Version(version).Codelist(status.CodelistId).SetEquals(["A", "P", "E"]);

        Assert.Equal(defect, !right);
    }

    [Fact]
    public void The_attributes_default_to_what_an_unmarked_figure_means()
    {
        var defaults = V2.Catalog.Attributes.ToDictionary(a => a.Id, a => a.DefaultCode);

        Assert.Equal(new Dictionary<string, string> { ["OBS_STATUS"] = "A", ["CONF_STATUS"] = "F", ["LOWER_BOUND"] = "false", ["SYNTHETIC"] = "false" }, defaults);
        Assert.Equal(["F", "N", "C"], V2.Catalog.Codelists.Single(c => c.Id == "CL_CONF_STATUS").Codes.Select(c => c.Id));
    }

    // ---- Spanish ----

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Sex_reads_Femenino_and_Masculino_which_fit_children_too(string version, bool defect)
    {
        var sex = Version(version).Catalog.Codelists.Single(c => c.Id == "CL_SEX").Codes.ToDictionary(c => c.Id, c => c.Name.Es);

        Assert.Equal(defect, (sex["F"], sex["M"]) != ("Femenino", "Masculino"));
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Rejections_are_of_applications_not_of_decisions(string version, bool defect)
    {
        // "Decisiones de primera instancia: rechazadas" says the decisions were rejected.
        var label = Indicator(Version(version), "DECISIONS_REJECTED").Name.Es;

        Assert.Equal(defect, Regex.IsMatch(label, "^Decisiones[^:]*: rechazadas$"));
        Assert.Contains("solicitud", Indicator(Version(version), "DECISIONS_REJECTED").Description.Es, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Closures_are_not_called_decisions(string version, bool defect)
    {
        var catalogue = Version(version);
        var closed = Indicator(catalogue, "DECISIONS_OTHERWISE_CLOSED");
        var unit = catalogue.Catalog.Units.Single(u => u.Id == closed.UnitId);

        var calledDecisions = closed.Name.Es.StartsWith("Decisiones", StringComparison.Ordinal)
            || closed.Name.En.Contains("decisions", StringComparison.OrdinalIgnoreCase) || unit.Id == "DECISIONS";

        Assert.Equal(defect, calledDecisions);
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Asylum_is_not_processed_applications_are(string version, bool defect)
    {
        var label = Indicator(Version(version), "MEDIAN_PROCESSING_DAYS").Name.Es;

        Assert.Equal(defect, label.Contains("procesamiento del asilo", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("1.0.0", true)]
    [InlineData("2.0.0", false)]
    public void Mexicos_and_Panamas_refugee_status_terms_are_noted(string version, bool defect)
    {
        string[] asylum = ["ASYLUM_APPLICATIONS", "ASYLUM_SEEKERS", "DECISIONS_RECOGNIZED", "DECISIONS_REJECTED"];
        var catalogue = Version(version);

        var right = asylum.All(code => Indicator(catalogue, code).NationalTerms is { } terms
            && terms.Es.Contains("condición de refugiado", StringComparison.Ordinal)
            && terms.Es.Contains("México", StringComparison.Ordinal) && terms.Es.Contains("Panamá", StringComparison.Ordinal)
            && terms.En.Contains("Mexico", StringComparison.Ordinal) && terms.En.Contains("Panama", StringComparison.Ordinal));

        Assert.Equal(defect, !right);
    }

    [Fact]
    public void Every_Spanish_text_of_catalogue_2_avoids_the_faults_found_in_1()
    {
        var texts = V2.Catalog.Indicators.SelectMany(i => new[] { i.Name.Es, i.Description.Es })
            .Concat(V2.Catalog.Codelists.SelectMany(c => c.Codes.Select(code => code.Name.Es)))
            .Concat(V2.Catalog.Units.Select(u => u.Name.Es)).ToList();

        Assert.DoesNotContain(texts, t => t is "Mujeres" or "Hombres");
        Assert.DoesNotContain(texts, t => t.Contains("procesamiento del asilo", StringComparison.Ordinal));
        Assert.DoesNotContain(texts, t => t.Contains("Decisiones (personas)", StringComparison.Ordinal));
        Assert.DoesNotContain(texts, t => Regex.IsMatch(t, "^Decisiones[^:]*: (rechazadas|cerradas)"));
    }
}
