using System.Globalization;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation.Rules;

namespace MirpsExchange.UnitTests;

/// <summary>
/// The CLI's sample files against the VI MIRPS Annual Meeting report they are drawn from: a row is the report's
/// figure when its note cites the report, and synthetic (the attribute) otherwise; the report's figures are exactly
/// those protos/README.md lists; synthetic figures do not contradict the report.
/// </summary>
public class SampleDataTests
{
    /// <summary>How the note of every row taken from the report begins.</summary>
    private const string ReportCitation = "MIRPS VI Annual Meeting report (Panama City, 24 January 2024), ";

    private static readonly StandardCatalogue Catalogue = StandardCatalogue.LoadStandard();

    private static readonly string[] States = ["BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN"];

    private static List<Observation> Sample(string country)
    {
        using var reader = File.OpenText(Path.Combine(AppContext.BaseDirectory, "Samples", $"{country}.csv"));
        var batch = ObservationCsv.Read(reader);
        Assert.Empty(batch.Errors);
        return batch.Observations;
    }

    private static bool CitesReport(Observation o) => o.Note.StartsWith(ReportCitation, StringComparison.Ordinal);

    public static TheoryData<string> SampleStates() => new(States);

    [Theory]
    [MemberData(nameof(SampleStates))]
    public void A_row_is_synthetic_exactly_when_its_note_does_not_cite_the_report(string country)
    {
        Assert.All(Sample(country), o =>
        {
            var line = $"{o.IndicatorCode} {o.Period} {o.Sex}/{o.Age}/{o.CountryOfOrigin}/{AddedDimensions.Of(o)} = {o.Value}";
            Assert.True(CitesReport(o) != o.Synthetic, $"{country} {line}: synthetic = {o.Synthetic}, note: {o.Note}");
            // A synthetic row says so where people read it too; a report figure is not an estimate.
            Assert.True(CitesReport(o) || o.Note.StartsWith("synthetic: ", StringComparison.Ordinal), $"{country} {line}: {o.Note}");
            Assert.True(!CitesReport(o) || o.Status == ObservationStatus.Normal, $"{country} {line}: a report figure with status {o.Status}");
        });
    }

    /// <summary>The table of protos/README.md ("Sample data"): State, indicator, period, value, lower bound.</summary>
    [Fact]
    public void The_report_figures_are_exactly_those_the_documentation_lists_and_each_note_quotes_its_number()
    {
        var cited = States.SelectMany(Sample).Where(CitesReport).ToList();

        Assert.Equal(
            [
                ("BLZ", "ASYLUM_SEEKERS", "2023", 791d, false),
                ("BLZ", "REFUGEES", "2023", 240d, false),
                ("CRI", "PERSONS_ASSISTED", "2023", 100_000d, true),
                ("MEX", "ASYLUM_APPLICATIONS", "2023", 140_000d, true),
                ("PAN", "DECISIONS_RECOGNIZED", "2023", 131d, false),
            ],
            cited.Select(o => (o.Country, o.IndicatorCode, o.Period, o.Value, o.LowerBound)).Order());
        Assert.All(cited, o =>
        {
            // The report's own words, with the number as the report writes it; "more than" and "over" are lower bounds.
            Assert.Contains(o.Value.ToString("#,0", CultureInfo.InvariantCulture), o.Note);
            Assert.Equal(o.LowerBound, o.Note.Contains($"more than {o.Value.ToString("#,0", CultureInfo.InvariantCulture)}", StringComparison.Ordinal));
            Assert.True(Enumerable.Range(0, AddedDimensions.Count).All(AddedDimensions.Of(o).IsEmptyOrDefault), "a report figure is a total");
        });
    }

    /// <summary>The report ranks Costa Rica third worldwide in asylum applications in 2023 and Mexico (more than 140,000) behind.</summary>
    [Fact]
    public void Costa_Rica_applications_are_not_below_Mexico_in_any_year()
    {
        Dictionary<string, Observation> Applications(string country) => Sample(country)
            .Where(o => o.IndicatorCode == "ASYLUM_APPLICATIONS" && o.Period.Length == 4 && IsTotal(o))
            .ToDictionary(o => o.Period);
        var costaRica = Applications("CRI");
        var mexico = Applications("MEX");

        Assert.Contains("2023", mexico.Keys);
        Assert.All(mexico, pair =>
        {
            Assert.True(costaRica.TryGetValue(pair.Key, out var cri), $"Costa Rica has no applications for {pair.Key}");
            // Mexico's figure may be a lower bound: Costa Rica's must then be above it, not equal to it.
            Assert.True(pair.Value.LowerBound ? cri.Value > pair.Value.Value : cri.Value >= pair.Value.Value,
                $"{pair.Key}: Costa Rica {cri.Value}, Mexico {(pair.Value.LowerBound ? "more than " : "")}{pair.Value.Value}");
        });
    }

    /// <summary>Belize said "over 4,000 forcibly displaced persons, of whom 240 ... and 791 ...": no sample of Belize's populations contradicts it.</summary>
    [Fact]
    public void Belize_synthetic_breakdowns_stay_within_the_report_figures()
    {
        var belize = Sample("BLZ").Where(o => o.Period == "2023").ToList();
        double Sum(string indicator, Func<Observation, bool> cell) => belize.Where(o => o.IndicatorCode == indicator && cell(o)).Sum(o => o.Value);

        Assert.Equal(240, Sum("REFUGEES", o => o.Sex is "F" or "M"));
        Assert.True(Sum("ASYLUM_SEEKERS", o => o.CountryOfOrigin != "_T") <= 791);
        Assert.DoesNotContain(belize, o => o.IndicatorCode is "OTHERS_IN_NEED" or "REGULARIZATION_APPLICATIONS");
    }

    /// <summary>
    /// The samples break no rule of the catalogue's, warnings included (the pending balance holds where a State reports
    /// both years), sent to an empty node or sent again to one that holds them (stored with its declared catalogue 2.0
    /// dimensions at their defaults, as devnet's second run does).
    /// </summary>
    [Theory]
    [MemberData(nameof(SampleStates))]
    public void The_sample_files_break_no_rule_not_even_a_warning_sent_once_or_again(string country)
    {
        var rows = Sample(country);
        var rules = new CatalogueRules(Catalogue);
        foreach (var stored in new[] { [], rows.Select(AsStored) })
        {
            var cells = rules.NewCells(country);
            var i = 0;
            foreach (var o in rows)
            {
                cells.AddRequest(o.IndicatorCode, Period.Parse(o.Period), ObservationDimensionFields.Values(o), o.Value, i++);
            }
            foreach (var o in stored)
            {
                cells.AddStored(o.IndicatorCode, Period.Parse(o.Period), ObservationDimensionFields.Values(o), o.Value);
            }
            Assert.Empty(rules.Evaluate(cells, requestOnly: true).Select(f => f.Message));
        }
    }

    /// <summary>An observation as a node stores it: a declared catalogue 2.0 dimension left empty holds its default.</summary>
    private static Observation AsStored(Observation o)
    {
        var declared = Catalogue.FindIndicator(o.IndicatorCode)!.Indicator.DimensionIds;
        var added = AddedDimensions.Of(o);
        for (var d = 0; d < AddedDimensions.Count; d++)
        {
            if (added[d].Length == 0 && declared.Contains(AddedDimensions.DimensionIds[d]))
            {
                added = added.With(d, AddedDimensions.Defaults[d]);
            }
        }
        var stored = o.Clone();
        added.CopyTo(stored);
        return stored;
    }

    private static bool IsTotal(Observation o)
    {
        var rule = Catalogue.FindIndicator(o.IndicatorCode)!;
        string Total(ICollection<string>? codes) => codes is null ? "" : "_T";
        return o.Sex == Total(rule.Sexes) && o.Age == Total(rule.Ages) && o.CountryOfOrigin == Total(rule.CountriesOfOrigin)
            && Enumerable.Range(0, AddedDimensions.Count).All(AddedDimensions.Of(o).IsEmptyOrDefault);
    }
}
