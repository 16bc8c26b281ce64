using System.Text.RegularExpressions;
using Google.Protobuf;
using Mirps.Catalog.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.UnitTests;

/// <summary>The standard catalogue shipped in the library (2.0.0): its content, its integrity and its consistency checks.</summary>
public class CatalogueTests
{
    private static readonly StandardCatalogue Standard = StandardCatalogue.LoadStandard();

    /// <summary>ISO 3166-1 alpha-3, all 249 officially assigned codes.</summary>
    private static readonly string[] Iso3166Alpha3 =
    [
        "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF", "ATG", "AUS", "AUT", "AZE",
        "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS", "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB",
        "BRN", "BTN", "BVT", "BWA", "CAF", "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM",
        "CPV", "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DEU", "DJI", "DMA", "DNK", "DOM", "DZA", "ECU", "EGY", "ERI",
        "ESH", "ESP", "EST", "ETH", "FIN", "FJI", "FLK", "FRA", "FRO", "FSM", "GAB", "GBR", "GEO", "GGY", "GHA", "GIB", "GIN",
        "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD", "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN",
        "IDN", "IMN", "IND", "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN", "KGZ",
        "KHM", "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO", "LTU", "LUX", "LVA", "MAC",
        "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT",
        "MSR", "MTQ", "MUS", "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL", "NRU",
        "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK", "PRT", "PRY", "PSE", "PYF", "QAT",
        "REU", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP", "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM",
        "SRB", "SSD", "STP", "SUR", "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL",
        "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", "URY", "USA", "UZB", "VAT", "VCT",
        "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", "YEM", "ZAF", "ZMB", "ZWE",
    ];

    private static string[] CodesOf(string codelistId) =>
        [.. Standard.Catalog.Codelists.Single(c => c.Id == codelistId).Codes.Select(c => c.Id)];

    private static string CatalogueFileOnDisk(string file = "catalogue-v2.1.json") =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, file));

    private static Catalog ParseStrict(string json) =>
        new JsonParser(JsonParser.Settings.Default.WithIgnoreUnknownFields(false)).Parse<Catalog>(json);

    [Fact]
    public void The_embedded_catalogue_loads_with_its_indicators_and_codelists()
    {
        Assert.Equal(27, Standard.Catalog.Indicators.Count);
        Assert.Equal(11, Standard.Catalog.Codelists.Count);
        Assert.NotNull(Standard.FindIndicator("REFUGEES"));
        Assert.Null(Standard.FindIndicator("refugees"));
    }

    [Fact]
    public void The_standard_is_2_1_0_and_1_0_0_and_2_0_0_still_load_for_the_upgrade()
    {
        var v1 = StandardCatalogue.LoadVersion("1.0.0");

        Assert.Equal("2.1.0", Standard.Version);
        Assert.Equal(26, StandardCatalogue.LoadVersion("2.0.0").Catalog.Indicators.Count);
        Assert.Equal(StandardCatalogue.StandardVersion, Standard.Version);
        Assert.Equal("1.0.0", v1.Version);
        Assert.Equal(20, v1.Catalog.Indicators.Count);
        Assert.NotEqual(v1.Digest, Standard.Digest);
        Assert.Equal(v1.Catalog, ParseStrict(CatalogueFileOnDisk("catalogue-v1.json")));
        Assert.Throws<ArgumentException>(() => StandardCatalogue.LoadVersion("3.0.0"));
    }

    [Fact]
    public void The_digest_is_lowercase_hex_sha256_and_stable_across_loads()
    {
        Assert.Matches(new Regex("^[0-9a-f]{64}$"), Standard.Digest);
        Assert.Equal(Standard.Digest, StandardCatalogue.LoadStandard().Digest);
    }

    [Fact]
    public void The_digest_changes_when_the_catalogue_changes()
    {
        var changed = Standard.Catalog.Clone();
        changed.Units.Single(u => u.Id == "DAYS").Name.En = "Calendar days";

        Assert.NotEqual(Standard.Digest, new StandardCatalogue(changed).Digest);
    }

    [Fact]
    public void The_file_on_disk_parses_strictly_to_the_embedded_catalogue()
    {
        var fromDisk = ParseStrict(CatalogueFileOnDisk());

        Assert.Equal(Standard.Catalog, fromDisk);
        Assert.Equal(Standard.Digest, StandardCatalogue.Parse(CatalogueFileOnDisk()).Digest);
    }

    [Fact]
    public void Parsing_refuses_unknown_fields()
    {
        var json = CatalogueFileOnDisk();
        var withUnknownField = "{ \"publisher\": \"someone\"," + json.TrimStart()[1..];

        Assert.Throws<InvalidProtocolBufferException>(() => StandardCatalogue.Parse(withUnknownField));
        Assert.Throws<InvalidProtocolBufferException>(() => ParseStrict(withUnknownField));
    }

    [Theory]
    [InlineData("catalogue-v1.json")]
    [InlineData("catalogue-v2.json")]
    [InlineData("catalogue-v2.1.json")]
    public void The_file_on_disk_satisfies_every_consistency_rule_of_its_version(string file)
    {
        Assert.Empty(CatalogueCheck.Problems(ParseStrict(CatalogueFileOnDisk(file))));
    }

    [Fact]
    public void Countries_of_origin_are_the_249_ISO_alpha3_codes_plus_unknown_and_total()
    {
        var codes = CodesOf("CL_COUNTRY_OF_ORIGIN");
        var countries = codes.Where(c => c is not ("_U" or "_T")).ToArray();

        Assert.Equal(251, codes.Length);
        Assert.Contains("_U", codes);
        Assert.Contains("_T", codes);
        Assert.Equal(249, countries.Length);
        Assert.All(countries, c => Assert.Matches(new Regex("^[A-Z]{3}$"), c));
        Assert.Equal(Iso3166Alpha3.Order(StringComparer.Ordinal), countries.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("SSD")]
    [InlineData("SXM")]
    [InlineData("CUW")]
    [InlineData("BES")]
    [InlineData("PSE")]
    [InlineData("VEN")]
    public void Countries_of_origin_include_current_codes(string code) =>
        Assert.Contains(code, CodesOf("CL_COUNTRY_OF_ORIGIN"));

    [Theory]
    [InlineData("ANT")] // Netherlands Antilles, withdrawn in 2010
    [InlineData("XKX")] // Kosovo, user-assigned, not ISO
    [InlineData("SCG")] // Serbia and Montenegro, withdrawn in 2006
    [InlineData("ROM")] // Romania's old code
    public void Countries_of_origin_exclude_withdrawn_and_unofficial_codes(string code) =>
        Assert.DoesNotContain(code, CodesOf("CL_COUNTRY_OF_ORIGIN"));

    [Fact]
    public void The_reporting_States_are_exactly_the_seven_MIRPS_States()
    {
        string[] expected = ["BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN"];

        Assert.Equal(expected, CodesOf("CL_MIRPS_STATE"));
        Assert.Equal(expected.Order(StringComparer.Ordinal), Standard.ReportingCountries.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_sex_codelist_is_female_male_total() =>
        Assert.Equal(["F", "M", "_T"], CodesOf("CL_SEX"));

    [Fact]
    public void Countries_of_destination_are_the_ISO_codes_of_origin_with_their_own_unknown_and_total()
    {
        var origins = CodesOf("CL_COUNTRY_OF_ORIGIN");
        var destinations = CodesOf("CL_COUNTRY_OF_DESTINATION");

        Assert.Equal(origins, destinations);
        Assert.Equal("All destinations", Standard.Catalog.Codelists.Single(c => c.Id == "CL_COUNTRY_OF_DESTINATION").Codes.Single(c => c.Id == "_T").Name.En);
    }

    [Fact]
    public void The_age_codelist_is_the_five_bands_unknown_and_total() =>
        Assert.Equal(["Y0T4", "Y5T11", "Y12T17", "Y18T59", "Y_GE60", "_U", "_T"], CodesOf("CL_AGE"));

    [Fact]
    public void Dimensions_use_their_codelists()
    {
        var dimensions = Standard.Catalog.Dimensions.ToDictionary(d => d.Id, d => d.CodelistId);

        Assert.Equal(
            new Dictionary<string, string>
            {
                ["SEX"] = "CL_SEX", ["AGE"] = "CL_AGE", ["COUNTRY_OF_ORIGIN"] = "CL_COUNTRY_OF_ORIGIN",
                ["APPLICATION_TYPE"] = "CL_APPLICATION_TYPE", ["DECISION_LEVEL"] = "CL_DECISION_LEVEL", ["PROCEDURE_TYPE"] = "CL_PROCEDURE_TYPE",
                ["COUNT_BASIS"] = "CL_COUNT_BASIS", ["COUNTRY_OF_DESTINATION"] = "CL_COUNTRY_OF_DESTINATION",
            },
            dimensions);
        Assert.Equal(StandardCatalogue.ObservationDimensions, Standard.Catalog.Dimensions.Select(d => d.Id));
    }

    [Theory]
    [InlineData("REFUGEES", IndicatorKind.Stock)]
    [InlineData("ASYLUM_SEEKERS", IndicatorKind.Stock)]
    [InlineData("IDPS", IndicatorKind.Stock)]
    [InlineData("STATELESS", IndicatorKind.Stock)]
    [InlineData("OTHERS_IN_NEED", IndicatorKind.Stock)]
    [InlineData("HOST_COMMUNITY", IndicatorKind.Stock)]
    [InlineData("OTHERS_OF_CONCERN", IndicatorKind.Stock)]
    [InlineData("RETURNED_REFUGEES", IndicatorKind.Flow)]
    [InlineData("RETURNEES_PROTECTION_NEEDS", IndicatorKind.Flow)]
    [InlineData("RETURNED_IDPS", IndicatorKind.Flow)]
    [InlineData("IDP_NEW_DISPLACEMENTS", IndicatorKind.Flow)]
    [InlineData("IDP_SOLUTION_EXITS", IndicatorKind.Flow)]
    [InlineData("NATURALIZATIONS", IndicatorKind.Flow)]
    [InlineData("ASYLUM_APPLICATIONS", IndicatorKind.Flow)]
    [InlineData("DECISIONS_RECOGNIZED", IndicatorKind.Flow)]
    [InlineData("DECISIONS_COMPLEMENTARY", IndicatorKind.Flow)]
    [InlineData("DECISIONS_REJECTED", IndicatorKind.Flow)]
    [InlineData("DECISIONS_OTHERWISE_CLOSED", IndicatorKind.Flow)]
    [InlineData("WORK_PERMITS", IndicatorKind.Flow)]
    [InlineData("REGULARIZATION_APPLICATIONS", IndicatorKind.Flow)]
    [InlineData("REGULARIZATION_GRANTS", IndicatorKind.Flow)]
    [InlineData("BIRTH_REGISTRATIONS", IndicatorKind.Flow)]
    [InlineData("IDENTITY_DOCUMENTS", IndicatorKind.Flow)]
    [InlineData("RESETTLEMENT_DEPARTURES", IndicatorKind.Flow)]
    public void Every_count_indicator_exists_sums_and_counts_whole_numbers(string code, IndicatorKind kind)
    {
        var rule = Standard.FindIndicator(code);

        Assert.NotNull(rule);
        Assert.Equal(kind, rule.Indicator.Kind);
        Assert.Equal(AggregationRule.Sum, rule.Indicator.Aggregation);
        Assert.Equal(CatalogueCheck.TemporalRuleOf(kind), rule.Indicator.TemporalAggregation);
        Assert.True(rule.WholeNumbers, $"{code} counts, so its unit must require whole numbers");
    }

    [Fact]
    public void The_median_processing_time_is_not_aggregable_and_allows_fractions()
    {
        var rule = Standard.FindIndicator("MEDIAN_PROCESSING_DAYS");

        Assert.NotNull(rule);
        Assert.Equal(IndicatorKind.Statistic, rule.Indicator.Kind);
        Assert.Equal(AggregationRule.NotAggregable, rule.Indicator.Aggregation);
        Assert.Equal(TemporalAggregation.NotAggregable, rule.Indicator.TemporalAggregation);
        Assert.False(string.IsNullOrWhiteSpace(rule.Indicator.NotAdditiveReason.Es));
        Assert.False(Standard.Catalog.Units.Single(u => u.Id == rule.Indicator.UnitId).WholeNumbers);
        Assert.False(rule.WholeNumbers);
    }

    [Fact]
    public void The_catalogue_holds_exactly_the_required_indicators()
    {
        string[] required =
        [
            "REFUGEES", "ASYLUM_SEEKERS", "IDPS", "STATELESS", "OTHERS_IN_NEED", "RETURNED_REFUGEES", "RETURNEES_PROTECTION_NEEDS",
            "ASYLUM_APPLICATIONS", "DECISIONS_RECOGNIZED", "DECISIONS_COMPLEMENTARY", "DECISIONS_REJECTED", "DECISIONS_TOTAL", "DECISIONS_OTHERWISE_CLOSED",
            "WORK_PERMITS", "REGULARIZATION_APPLICATIONS", "REGULARIZATION_GRANTS", "BIRTH_REGISTRATIONS", "IDENTITY_DOCUMENTS",
            "PERSONS_ASSISTED", "RESETTLEMENT_DEPARTURES", "MEDIAN_PROCESSING_DAYS",
            "RETURNED_IDPS", "HOST_COMMUNITY", "OTHERS_OF_CONCERN", "NATURALIZATIONS", "IDP_NEW_DISPLACEMENTS", "IDP_SOLUTION_EXITS",
        ];

        Assert.Equal(required.Order(StringComparer.Ordinal), Standard.Catalog.Indicators.Select(i => i.Code).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_label_has_English_and_Spanish()
    {
        var missing = Labels(Standard.Catalog)
            .Where(l => l.Text is null || string.IsNullOrWhiteSpace(l.Text.En) || string.IsNullOrWhiteSpace(l.Text.Es))
            .Select(l => l.Owner)
            .ToList();

        Assert.Empty(missing);
        Assert.True(Labels(Standard.Catalog).Count() > 300, "the walk over labels must visit every code");
    }

    private static IEnumerable<(string Owner, LocalizedText? Text)> Labels(Catalog catalog)
    {
        yield return ("catalogue", catalog.Name);
        foreach (var codelist in catalog.Codelists)
        {
            yield return ($"codelist {codelist.Id}", codelist.Name);
            foreach (var code in codelist.Codes)
            {
                yield return ($"codelist {codelist.Id} code {code.Id}", code.Name);
            }
        }
        foreach (var dimension in catalog.Dimensions)
        {
            yield return ($"dimension {dimension.Id}", dimension.Name);
        }
        foreach (var unit in catalog.Units)
        {
            yield return ($"unit {unit.Id}", unit.Name);
        }
        foreach (var indicator in catalog.Indicators)
        {
            yield return ($"indicator {indicator.Code}", indicator.Name);
            yield return ($"indicator {indicator.Code} description", indicator.Description);
            if (indicator.Aggregation == AggregationRule.NotAggregable)
            {
                yield return ($"indicator {indicator.Code} not-additive reason", indicator.NotAdditiveReason);
            }
            if (indicator.NationalTerms is not null)
            {
                yield return ($"indicator {indicator.Code} national terms", indicator.NationalTerms);
            }
        }
        foreach (var attribute in catalog.Attributes)
        {
            yield return ($"attribute {attribute.Id}", attribute.Name);
            yield return ($"attribute {attribute.Id} description", attribute.Description);
        }
        foreach (var ratio in catalog.Ratios)
        {
            yield return ($"ratio {ratio.Id}", ratio.Name);
            yield return ($"ratio {ratio.Id} description", ratio.Description);
        }
    }

    [Fact]
    public void An_unchanged_clone_of_the_standard_catalogue_is_accepted()
    {
        var clone = new StandardCatalogue(Standard.Catalog.Clone());

        Assert.Equal(Standard.Digest, clone.Digest);
    }

    public static TheoryData<string, string> BrokenCatalogues() => new()
    {
        { "unknown unit", "indicator REFUGEES uses unknown unit FURLONGS" },
        { "duplicate code", "codelist CL_SEX: code 'F' is empty or repeated" },
        { "duplicate indicator", "indicator IDPS is empty or defined twice" },
        { "duplicate codelist", "codelist CL_AGE is defined twice" },
        { "unknown dimension", "indicator WORK_PERMITS declares unknown dimension NATIONALITY" },
        { "dimension with unknown codelist", "dimension AGE uses unknown codelist CL_AGE_BANDS" },
        { "missing Spanish label", "unit DAYS needs a label in English and Spanish" },
        { "no reporting States", "codelist CL_MIRPS_STATE (the reporting States) is missing" },
        { "bad version", "version '1.0' is not MAJOR.MINOR.PATCH" },
        { "no granularity", "indicator STATELESS must list its period granularities" },
        { "stock summed over time", "indicator RETURNEES_PROTECTION_NEEDS is a stock but its temporal rule is SUM (the year is the sum of its quarters and months): a stock needs END_OF_PERIOD (the year is its last quarter and December)" },
        { "flow taken at the end", "indicator ASYLUM_APPLICATIONS is a flow but its temporal rule is END_OF_PERIOD (the year is its last quarter and December): a flow needs SUM (the year is the sum of its quarters and months)" },
        { "no temporal rule", "indicator REFUGEES has no temporal rule (a stock needs END_OF_PERIOD (the year is its last quarter and December))" },
        { "stock of decisions", "indicator DECISIONS_REJECTED is a stock in unit DECISIONS, which measures only flow" },
        { "flow in days", "indicator WORK_PERMITS is a flow in unit DAYS, which measures only statistic" },
        { "count in fractions", "indicator IDPS is a stock, a count, but its unit PERSONS allows fractions" },
        { "statistic summed", "indicator MEDIAN_PROCESSING_DAYS is a statistic: its values cannot be added across States" },
        { "not additive without a reason", "indicator PERSONS_ASSISTED is not additive across States but does not say why (not_additive_reason, in English and Spanish)" },
        { "additive with a reason", "indicator REFUGEES adds up across States but gives a reason it does not (not_additive_reason)" },
        { "default not in codelist", "dimension COUNT_BASIS: default 'HOUSEHOLDS' is not a code of CL_COUNT_BASIS" },
        { "no total and no default", "dimension COUNT_BASIS has neither a total (_T) nor a default: a headline figure could not choose its cell" },
        { "unknown attribute", "attribute EMBARGO has no observation field (known: OBS_STATUS, CONF_STATUS, LOWER_BOUND, SYNTHETIC)" },
        { "flag defaulting to true", "attribute SYNTHETIC is a yes/no flag: its default must be 'false'" },
        { "ratio numerator outside denominator", "ratio REFUGEE_RECOGNITION_RATE: numerator DECISIONS_OTHERWISE_CLOSED is not in the denominator, so the ratio is not a share" },
        { "ratio of a non-additive indicator", "ratio TOTAL_PROTECTION_RATE reads PERSONS_ASSISTED, which is not additive across States: a ratio of sums needs sums" },
        { "unit without kinds", "unit DOCUMENTS must list the kinds of indicator it measures" },
        { "count basis defaulting to cases", "dimension COUNT_BASIS: its default must be 'PERSONS', the one the change log's encoding leaves out (protos/README.md)" },
    };

    [Theory]
    [MemberData(nameof(BrokenCatalogues))]
    public void A_broken_catalogue_is_refused_naming_the_problem(string breakage, string problem)
    {
        var catalog = Break(breakage);

        Assert.Contains(problem, CatalogueCheck.Problems(catalog));
        var error = Assert.Throws<InvalidDataException>(() => new StandardCatalogue(catalog));
        Assert.Contains(problem, error.Message);
    }

    private static Catalog Break(string breakage)
    {
        var catalog = StandardCatalogue.LoadStandard().Catalog.Clone();
        Indicator Indicator(string code) => catalog.Indicators.Single(i => i.Code == code);
        Codelist Codelist(string id) => catalog.Codelists.Single(c => c.Id == id);
        switch (breakage)
        {
            case "unknown unit": Indicator("REFUGEES").UnitId = "FURLONGS"; break;
            case "count basis defaulting to cases": catalog.Dimensions.Single(d => d.Id == "COUNT_BASIS").DefaultCode = "CASES"; break;
            case "duplicate code": Codelist("CL_SEX").Codes.Add(Codelist("CL_SEX").Codes[0].Clone()); break;
            case "duplicate indicator": catalog.Indicators.Add(Indicator("IDPS").Clone()); break;
            case "duplicate codelist": catalog.Codelists.Add(Codelist("CL_AGE").Clone()); break;
            case "unknown dimension": Indicator("WORK_PERMITS").DimensionIds.Add("NATIONALITY"); break;
            case "dimension with unknown codelist": catalog.Dimensions.Single(d => d.Id == "AGE").CodelistId = "CL_AGE_BANDS"; break;
            case "missing Spanish label": catalog.Units.Single(u => u.Id == "DAYS").Name.Es = " "; break;
            case "no reporting States": catalog.Codelists.Remove(Codelist("CL_MIRPS_STATE")); break;
            case "bad version": catalog.Version = "1.0"; break;
            case "no granularity": Indicator("STATELESS").Granularities.Clear(); break;
            case "stock summed over time": Indicator("RETURNEES_PROTECTION_NEEDS").Kind = IndicatorKind.Stock; break;
            case "flow taken at the end": Indicator("ASYLUM_APPLICATIONS").TemporalAggregation = TemporalAggregation.EndOfPeriod; break;
            case "no temporal rule": Indicator("REFUGEES").TemporalAggregation = TemporalAggregation.Unspecified; break;
            case "stock of decisions":
                Indicator("DECISIONS_REJECTED").Kind = IndicatorKind.Stock;
                Indicator("DECISIONS_REJECTED").TemporalAggregation = TemporalAggregation.EndOfPeriod;
                break;
            case "flow in days": Indicator("WORK_PERMITS").UnitId = "DAYS"; break;
            case "count in fractions": catalog.Units.Single(u => u.Id == "PERSONS").WholeNumbers = false; break;
            case "statistic summed": Indicator("MEDIAN_PROCESSING_DAYS").Aggregation = AggregationRule.Sum; break;
            case "not additive without a reason": Indicator("PERSONS_ASSISTED").NotAdditiveReason = null; break;
            case "additive with a reason": Indicator("REFUGEES").NotAdditiveReason = Indicator("PERSONS_ASSISTED").NotAdditiveReason.Clone(); break;
            case "default not in codelist": catalog.Dimensions.Single(d => d.Id == "COUNT_BASIS").DefaultCode = "HOUSEHOLDS"; break;
            case "no total and no default": catalog.Dimensions.Single(d => d.Id == "COUNT_BASIS").DefaultCode = ""; break;
            case "unknown attribute": catalog.Attributes.Add(new Mirps.Catalog.V1.Attribute { Id = "EMBARGO", Name = catalog.Name.Clone(), Description = catalog.Name.Clone(), DefaultCode = "false" }); break;
            case "flag defaulting to true": catalog.Attributes.Single(a => a.Id == "SYNTHETIC").DefaultCode = "true"; break;
            case "ratio numerator outside denominator": catalog.Ratios.Single(r => r.Id == "REFUGEE_RECOGNITION_RATE").NumeratorIndicatorCodes.Add("DECISIONS_OTHERWISE_CLOSED"); break;
            case "ratio of a non-additive indicator": catalog.Ratios.Single(r => r.Id == "TOTAL_PROTECTION_RATE").DenominatorIndicatorCodes.Add("PERSONS_ASSISTED"); break;
            case "unit without kinds": catalog.Units.Single(u => u.Id == "DOCUMENTS").Kinds.Clear(); break;
            default: throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }
        return catalog;
    }
}
