using System.Text.RegularExpressions;
using Google.Protobuf;
using Mirps.Catalog.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.UnitTests;

/// <summary>The standard catalogue shipped in the library: its content, its integrity and its consistency checks.</summary>
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

    private static string CatalogueFileOnDisk() =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "catalogue-v1.json"));

    private static Catalog ParseStrict(string json) =>
        new JsonParser(JsonParser.Settings.Default.WithIgnoreUnknownFields(false)).Parse<Catalog>(json);

    [Fact]
    public void The_embedded_catalogue_loads_with_its_indicators_and_codelists()
    {
        Assert.Equal(20, Standard.Catalog.Indicators.Count);
        Assert.Equal(4, Standard.Catalog.Codelists.Count);
        Assert.NotNull(Standard.FindIndicator("REFUGEES"));
        Assert.Null(Standard.FindIndicator("refugees"));
    }

    [Fact]
    public void The_version_is_1_0_0() => Assert.Equal("1.0.0", Standard.Version);

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

    [Fact]
    public void The_file_on_disk_satisfies_every_consistency_rule()
    {
        Assert.Empty(CatalogueCheck.Problems(ParseStrict(CatalogueFileOnDisk())));
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
    public void The_age_codelist_is_the_five_bands_unknown_and_total() =>
        Assert.Equal(["Y0T4", "Y5T11", "Y12T17", "Y18T59", "Y_GE60", "_U", "_T"], CodesOf("CL_AGE"));

    [Fact]
    public void Dimensions_use_their_codelists()
    {
        var dimensions = Standard.Catalog.Dimensions.ToDictionary(d => d.Id, d => d.CodelistId);

        Assert.Equal(
            new Dictionary<string, string> { ["SEX"] = "CL_SEX", ["AGE"] = "CL_AGE", ["COUNTRY_OF_ORIGIN"] = "CL_COUNTRY_OF_ORIGIN" },
            dimensions);
    }

    [Theory]
    [InlineData("REFUGEES", IndicatorKind.Stock)]
    [InlineData("ASYLUM_SEEKERS", IndicatorKind.Stock)]
    [InlineData("IDPS", IndicatorKind.Stock)]
    [InlineData("STATELESS", IndicatorKind.Stock)]
    [InlineData("OTHERS_IN_NEED", IndicatorKind.Stock)]
    [InlineData("RETURNED_REFUGEES", IndicatorKind.Stock)]
    [InlineData("RETURNEES_PROTECTION_NEEDS", IndicatorKind.Stock)]
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
    [InlineData("PERSONS_ASSISTED", IndicatorKind.Flow)]
    [InlineData("RESETTLEMENT_DEPARTURES", IndicatorKind.Flow)]
    public void Every_count_indicator_exists_sums_and_counts_whole_numbers(string code, IndicatorKind kind)
    {
        var rule = Standard.FindIndicator(code);

        Assert.NotNull(rule);
        Assert.Equal(kind, rule.Indicator.Kind);
        Assert.Equal(AggregationRule.Sum, rule.Indicator.Aggregation);
        Assert.True(rule.WholeNumbers, $"{code} counts, so its unit must require whole numbers");
    }

    [Fact]
    public void The_median_processing_time_is_not_aggregable_and_allows_fractions()
    {
        var rule = Standard.FindIndicator("MEDIAN_PROCESSING_DAYS");

        Assert.NotNull(rule);
        Assert.Equal(IndicatorKind.Statistic, rule.Indicator.Kind);
        Assert.Equal(AggregationRule.NotAggregable, rule.Indicator.Aggregation);
        Assert.False(Standard.Catalog.Units.Single(u => u.Id == rule.Indicator.UnitId).WholeNumbers);
        Assert.False(rule.WholeNumbers);
    }

    [Fact]
    public void The_catalogue_holds_exactly_the_required_indicators()
    {
        string[] required =
        [
            "REFUGEES", "ASYLUM_SEEKERS", "IDPS", "STATELESS", "OTHERS_IN_NEED", "RETURNED_REFUGEES", "RETURNEES_PROTECTION_NEEDS",
            "ASYLUM_APPLICATIONS", "DECISIONS_RECOGNIZED", "DECISIONS_COMPLEMENTARY", "DECISIONS_REJECTED", "DECISIONS_OTHERWISE_CLOSED",
            "WORK_PERMITS", "REGULARIZATION_APPLICATIONS", "REGULARIZATION_GRANTS", "BIRTH_REGISTRATIONS", "IDENTITY_DOCUMENTS",
            "PERSONS_ASSISTED", "RESETTLEMENT_DEPARTURES", "MEDIAN_PROCESSING_DAYS",
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
            case "duplicate code": Codelist("CL_SEX").Codes.Add(Codelist("CL_SEX").Codes[0].Clone()); break;
            case "duplicate indicator": catalog.Indicators.Add(Indicator("IDPS").Clone()); break;
            case "duplicate codelist": catalog.Codelists.Add(Codelist("CL_AGE").Clone()); break;
            case "unknown dimension": Indicator("WORK_PERMITS").DimensionIds.Add("NATIONALITY"); break;
            case "dimension with unknown codelist": catalog.Dimensions.Single(d => d.Id == "AGE").CodelistId = "CL_AGE_BANDS"; break;
            case "missing Spanish label": catalog.Units.Single(u => u.Id == "DAYS").Name.Es = " "; break;
            case "no reporting States": catalog.Codelists.Remove(Codelist("CL_MIRPS_STATE")); break;
            case "bad version": catalog.Version = "1.0"; break;
            case "no granularity": Indicator("STATELESS").Granularities.Clear(); break;
            default: throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }
        return catalog;
    }
}
