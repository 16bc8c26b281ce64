using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation;

namespace MirpsExchange.UnitTests;

/// <summary>
/// Every catalogue rule an observation or key must satisfy, each broken alone in a row placed after
/// valid rows, so that the reported path proves the row index and the field.
/// </summary>
public class ObservationValidatorTests
{
    private const string Node = "BLZ";
    private static readonly DateOnly Today = new(2026, 11, 26);
    private static readonly ObservationValidator Validator = new(StandardCatalogue.LoadStandard());

    private static Observation Refugees(string sex = "_T", string period = "2023", double value = 240) => new()
    {
        IndicatorCode = "REFUGEES",
        Country = Node,
        Period = period,
        Sex = sex,
        Age = "_T",
        CountryOfOrigin = "_T",
        Value = value,
        Status = ObservationStatus.Normal,
    };

    /// <summary>WORK_PERMITS declares SEX and COUNTRY_OF_ORIGIN only.</summary>
    private static Observation WorkPermits() => new()
    {
        IndicatorCode = "WORK_PERMITS",
        Country = Node,
        Period = "2023",
        Sex = "_T",
        CountryOfOrigin = "_T",
        Value = 15,
        Status = ObservationStatus.Normal,
    };

    /// <summary>MEDIAN_PROCESSING_DAYS declares COUNTRY_OF_ORIGIN only, by year or quarter, in days.</summary>
    private static Observation MedianDays(double value = 12.5) => new()
    {
        IndicatorCode = "MEDIAN_PROCESSING_DAYS",
        Country = Node,
        Period = "2023",
        CountryOfOrigin = "_T",
        Value = value,
        Status = ObservationStatus.Normal,
    };

    private static ObservationKey KeyOf(Observation o) => o.Key();

    private static Observation With(Observation o, Action<Observation> change)
    {
        change(o);
        return o;
    }

    private static IReadOnlyList<Violation> Validate(params Observation[] observations) =>
        Validator.ValidateObservations(observations, Node, Today).Violations;

    /// <summary>Two valid rows with keys of their own, then <paramref name="bad"/> as row 2; returns its only violation.</summary>
    private static Violation OnlyViolationOfThirdRow(Observation bad) =>
        Assert.Single(Validate(Refugees(sex: "F", value: 128), Refugees(sex: "M", value: 112), bad));

    [Fact]
    public void A_valid_batch_has_no_violations_and_returns_each_rows_period()
    {
        var result = Validator.ValidateObservations(
            [Refugees(), Refugees(sex: "F", period: "2023-Q2", value: 128), WorkPermits(), MedianDays(), Refugees(period: "2024-02")], Node, Today);

        Assert.Empty(result.Violations);
        Assert.True(result.IsValid);
        Assert.Equal(
            [
                new Period(PeriodGranularity.Year, 2023, 0), new Period(PeriodGranularity.Quarter, 2023, 2), new Period(PeriodGranularity.Year, 2023, 0),
                new Period(PeriodGranularity.Year, 2023, 0), new Period(PeriodGranularity.Month, 2024, 2),
            ],
            result.Periods);
    }

    [Fact]
    public void Without_a_node_country_any_MIRPS_State_is_accepted()
    {
        var result = Validator.ValidateObservations([With(Refugees(), o => o.Country = "PAN"), With(Refugees(), o => o.Country = "MEX")], nodeCountry: null, Today);

        Assert.Empty(result.Violations);
    }

    public static TheoryData<string, string, string> BrokenRules() => new()
    {
        // rule, field of observations[2], part of the description
        { "unknown indicator", "indicator_code", "unknown indicator 'REFUGEES_TOTAL'" },
        { "empty indicator", "indicator_code", "indicator code is required" },
        { "not a MIRPS State", "country", "'USA' is not a MIRPS State" },
        { "empty country", "country", "reporting country is required" },
        { "another State's country", "country", "accepts only observations reported by BLZ" },
        { "missing declared dimension", "sex", "sex is required" },
        { "undeclared dimension filled", "age", "WORK_PERMITS does not declare the AGE dimension" },
        { "sex not in codelist", "sex", "'X' is not a code of the SEX dimension" },
        { "age not in codelist", "age", "'Y18T64' is not a code of the AGE dimension" },
        { "country of origin not in codelist", "country_of_origin", "'ZZZ' is not a code of the COUNTRY_OF_ORIGIN dimension" },
        { "code in the wrong case", "country_of_origin", "'hnd' is not a code" },
        { "malformed period", "period", "'2023-13' is not a year (2023), a quarter (2023-Q1) or a month (2023-01)" },
        { "empty period", "period", "the period is required" },
        { "granularity not allowed", "period", "MEDIAN_PROCESSING_DAYS is reported by year or quarter; '2023-01' is a month" },
        { "year not started", "period", "period 2027 has not started yet (it starts on 2027-01-01)" },
        { "month not started", "period", "period 2026-12 has not started yet (it starts on 2026-12-01)" },
        { "negative value", "value", "must not be negative" },
        { "NaN", "value", "must be a finite number" },
        { "positive infinity", "value", "must be a finite number" },
        { "negative infinity", "value", "must be a finite number" },
        { "non-whole count", "value", "the value must be a whole number, not 12.5" },
        { "unspecified status", "status", "the status is required" },
        { "undefined status", "status", "unknown status 9" },
        { "note over 1000 characters", "note", "at most 1,000 characters; this one has 1,001" },
        { "NUL in a note", "note", "the control character U+0000 at position 7" },
        { "escape in a note", "note", "the control character U+001B at position 1" },
        { "carriage return in a note", "note", "the control character U+000D at position 6; only tab and line feed" },
        { "C1 control in a note", "note", "the control character U+0085" },
        { "delete in a note", "note", "the control character U+007F" },
    };

    private static Observation Break(string rule) => rule switch
    {
        "unknown indicator" => With(Refugees(), o => o.IndicatorCode = "REFUGEES_TOTAL"),
        "empty indicator" => With(Refugees(), o => o.IndicatorCode = ""),
        "not a MIRPS State" => With(Refugees(), o => o.Country = "USA"),
        "empty country" => With(Refugees(), o => o.Country = ""),
        "another State's country" => With(Refugees(), o => o.Country = "CRI"),
        "missing declared dimension" => With(Refugees(), o => o.Sex = ""),
        "undeclared dimension filled" => With(WorkPermits(), o => o.Age = "_T"),
        "sex not in codelist" => With(Refugees(), o => o.Sex = "X"),
        "age not in codelist" => With(Refugees(), o => o.Age = "Y18T64"),
        "country of origin not in codelist" => With(Refugees(), o => o.CountryOfOrigin = "ZZZ"),
        "code in the wrong case" => With(Refugees(), o => o.CountryOfOrigin = "hnd"),
        "malformed period" => With(Refugees(), o => o.Period = "2023-13"),
        "empty period" => With(Refugees(), o => o.Period = ""),
        "granularity not allowed" => With(MedianDays(), o => o.Period = "2023-01"),
        "year not started" => With(Refugees(), o => o.Period = "2027"),
        "month not started" => With(Refugees(), o => o.Period = "2026-12"),
        "negative value" => With(Refugees(), o => o.Value = -3),
        "NaN" => With(Refugees(), o => o.Value = double.NaN),
        "positive infinity" => With(Refugees(), o => o.Value = double.PositiveInfinity),
        "negative infinity" => With(Refugees(), o => o.Value = double.NegativeInfinity),
        "non-whole count" => With(Refugees(), o => o.Value = 12.5),
        "unspecified status" => With(Refugees(), o => o.Status = ObservationStatus.Unspecified),
        "undefined status" => With(Refugees(), o => o.Status = (ObservationStatus)9),
        "note over 1000 characters" => With(Refugees(), o => o.Note = new string('x', ObservationValidator.MaxNoteLength + 1)),
        "NUL in a note" => With(Refugees(), o => o.Note = "source\0; DROP"),
        "escape in a note" => With(Refugees(), o => o.Note = "\u001b[2J cleared"),
        "carriage return in a note" => With(Refugees(), o => o.Note = "line1\r\nline2"),
        "C1 control in a note" => With(Refugees(), o => o.Note = "next\u0085line"),
        "delete in a note" => With(Refugees(), o => o.Note = "rub\u007fout"),
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, null),
    };

    [Theory]
    [MemberData(nameof(BrokenRules))]
    public void A_broken_rule_is_reported_on_the_row_and_field(string rule, string field, string description)
    {
        var violation = OnlyViolationOfThirdRow(Break(rule));

        Assert.Equal($"observations[2].{field}", violation.Field);
        Assert.Contains(description, violation.Description);
    }

    [Fact]
    public void The_bad_row_alone_at_index_0_is_named_observations_0()
    {
        var violation = Assert.Single(Validate(Break("malformed period")));

        Assert.Equal("observations[0].period", violation.Field);
    }

    [Fact]
    public void A_row_breaking_several_rules_gets_one_violation_per_field()
    {
        var bad = With(Refugees(), o =>
        {
            o.Sex = "X";
            o.Value = -1;
            o.Status = ObservationStatus.Unspecified;
        });

        Assert.Equal(["observations[0].sex", "observations[0].value", "observations[0].status"], Validate(bad).Select(v => v.Field));
    }

    [Theory]
    [InlineData("2026-11")]
    [InlineData("2026-Q4")]
    [InlineData("2026")]
    [InlineData("2023-01")]
    public void Periods_that_have_started_by_today_are_accepted(string period) =>
        Assert.Empty(Validate(Refugees(period: period)));

    [Fact]
    public void A_period_starting_today_is_accepted_and_one_starting_tomorrow_refused()
    {
        var firstOfMonth = new DateOnly(2026, 12, 1);

        Assert.Empty(Validator.ValidateObservations([Refugees(period: "2026-12")], Node, firstOfMonth).Violations);
        Assert.Equal("observations[0].period", Assert.Single(Validator.ValidateObservations([Refugees(period: "2026-12")], Node, firstOfMonth.AddDays(-1)).Violations).Field);
    }

    [Fact]
    public void A_fractional_value_is_accepted_when_the_unit_is_not_a_count()
    {
        Assert.Empty(Validate(MedianDays(12.5)));
        Assert.Empty(Validate(With(MedianDays(), o => o.Period = "2023-Q3")));
    }

    [Fact]
    public void A_note_with_tabs_line_feeds_quotes_formulas_and_any_other_text_is_accepted() =>
        Assert.Empty(Validate(With(Refugees(), o => o.Note = "=HYPERLINK(\"x\")\tcol\nline 2 \"quoted\" 'ñandú' \u200b\u200f 😀")));

    [Fact]
    public void Every_control_character_but_tab_and_line_feed_and_every_text_reordering_or_line_separating_character_is_refused_and_nothing_else_is()
    {
        for (var c = 0; c <= char.MaxValue; c++)
        {
            var problem = ObservationValidator.NoteProblem($"a{(char)c}b");
            var reorders = c is (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069) or 0x2028 or 0x2029;
            Assert.True((problem is not null) == ((char.IsControl((char)c) && c is not ('\t' or '\n')) || reorders), $"U+{c:X4}: {problem}");
        }
        // A right-to-left override would show "tnuoc lanif" as "final count" in a table.
        Assert.Contains("formatting character U+202E", ObservationValidator.NoteProblem("\u202Etnuoc lanif"));
    }

    [Fact]
    public void Zero_and_a_note_of_exactly_1000_characters_are_accepted() =>
        Assert.Empty(Validate(With(Refugees(value: 0), o => o.Note = new string('x', ObservationValidator.MaxNoteLength))));

    [Fact]
    public void A_duplicate_key_is_reported_on_the_second_row_naming_the_first()
    {
        var violation = Assert.Single(Validate(Refugees(value: 240), Refugees(value: 241)));

        Assert.Equal("observations[1]", violation.Field);
        Assert.Contains("observations[0]", violation.Description);
    }

    [Fact]
    public void A_later_duplicate_names_the_row_it_repeats()
    {
        var violation = Assert.Single(Validate(Refugees(sex: "F"), Refugees(sex: "M"), Refugees(sex: "F", value: 1)));

        Assert.Equal("observations[2]", violation.Field);
        Assert.Contains("observations[0]", violation.Description);
    }

    [Fact]
    public void Keys_differing_in_one_dimension_are_not_duplicates() =>
        Assert.Empty(Validate(Refugees(), With(Refugees(), o => o.Age = "Y0T4"), With(Refugees(), o => o.CountryOfOrigin = "VEN")));

    /// <summary>Distinct valid REFUGEES rows: every sex, age and country of origin, in 2022 then 2023.</summary>
    private static List<Observation> DistinctValidRows(int count)
    {
        var catalogue = Validator.Catalogue;
        var rows =
            from period in new[] { "2022", "2023" }
            from sex in catalogue.Codelist("CL_SEX")
            from age in catalogue.Codelist("CL_AGE")
            from origin in catalogue.Codelist("CL_COUNTRY_OF_ORIGIN")
            select With(Refugees(sex: sex, period: period, value: 1), o => { o.Age = age; o.CountryOfOrigin = origin; });
        var list = rows.Take(count).ToList();
        Assert.Equal(count, list.Count);
        return list;
    }

    [Fact]
    public void A_batch_of_10000_valid_observations_is_accepted() =>
        Assert.Empty(Validator.ValidateObservations(DistinctValidRows(ObservationValidator.MaxBatchSize), Node, Today).Violations);

    [Fact]
    public void A_batch_over_10000_observations_gives_a_single_violation_on_the_batch()
    {
        var rows = DistinctValidRows(ObservationValidator.MaxBatchSize + 1);

        var violation = Assert.Single(Validator.ValidateObservations(rows, Node, Today).Violations);

        Assert.Equal("observations", violation.Field);
        Assert.Contains("10,001", violation.Description);
    }

    [Fact]
    public void All_observations_of_a_file_are_validated_beyond_10000_rows_with_keys_repeated_anywhere()
    {
        var rows = DistinctValidRows(ObservationValidator.MaxBatchSize + 1);
        rows[9_999].Value = -1;
        rows[10_000] = With(rows[0].Clone(), o => o.Value = 2);

        var all = Validator.ValidateAllObservations(rows, Node, Today);
        var batch = Validator.ValidateObservations(rows, Node, Today);

        Assert.Equal(["observations[9999].value", "observations[10000]"], all.Violations.Select(v => v.Field));
        Assert.Contains("the same key as observations[0]", all.Violations[1].Description);
        Assert.Equal(rows.Count, all.Periods.Length);
        Assert.Equal("observations", Assert.Single(batch.Violations).Field);
    }

    [Fact]
    public void All_observations_of_a_valid_file_over_10000_rows_are_accepted() =>
        Assert.Empty(Validator.ValidateAllObservations(DistinctValidRows(ObservationValidator.MaxBatchSize + 1), Node, Today).Violations);

    [Fact]
    public void The_violation_list_is_capped_at_100_the_last_saying_how_many_more()
    {
        var rows = DistinctValidRows(300).Select(o => With(o, x => x.Value = -1)).ToList();

        var violations = Validator.ValidateObservations(rows, Node, Today).Violations;

        Assert.Equal(ObservationValidator.MaxReportedViolations, violations.Count);
        Assert.Equal(Enumerable.Range(0, 99).Select(i => $"observations[{i}].value"), violations.Take(99).Select(v => v.Field));
        Assert.Equal("observations", violations[99].Field);
        Assert.Contains("201 more", violations[99].Description);
    }

    [Fact]
    public void Exactly_100_violations_are_all_listed()
    {
        var rows = DistinctValidRows(100).Select(o => With(o, x => x.Value = -1)).ToList();

        var violations = Validator.ValidateObservations(rows, Node, Today).Violations;

        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"observations[{i}].value"), violations.Select(v => v.Field));
    }

    [Fact]
    public void Deletion_keys_are_named_keys_i_field()
    {
        ObservationKey[] keys = [KeyOf(Refugees(sex: "F")), KeyOf(Refugees(sex: "M")), KeyOf(Refugees(period: "2023-13"))];

        var violation = Assert.Single(Validator.ValidateKeys(keys, Node, Today).Violations);

        Assert.Equal("keys[2].period", violation.Field);
    }

    [Fact]
    public void Deletion_keys_follow_the_key_rules_of_a_submission()
    {
        ObservationKey[] keys =
        [
            KeyOf(Refugees()),
            KeyOf(With(Refugees(), o => o.Country = "CRI")),
            KeyOf(With(WorkPermits(), o => o.Age = "Y0T4")),
            KeyOf(Refugees(period: "2027")),
            KeyOf(Refugees()),
        ];

        var violations = Validator.ValidateKeys(keys, Node, Today).Violations;

        Assert.Equal(["keys[1].country", "keys[2].age", "keys[3].period", "keys[4]"], violations.Select(v => v.Field));
        Assert.Contains("keys[0]", violations[3].Description);
    }

    [Fact]
    public void Valid_deletion_keys_have_no_violations() =>
        Assert.Empty(Validator.ValidateKeys([KeyOf(Refugees()), KeyOf(WorkPermits()), KeyOf(MedianDays())], Node, Today).Violations);

    [Fact]
    public void A_deletion_batch_over_10000_keys_gives_a_single_violation_on_the_batch()
    {
        var keys = DistinctValidRows(ObservationValidator.MaxBatchSize + 1).Select(KeyOf).ToList();

        Assert.Equal("keys", Assert.Single(Validator.ValidateKeys(keys, Node, Today).Violations).Field);
    }

    [Fact]
    public void A_missing_key_is_reported_as_required()
    {
        var violation = Assert.Single(Validator.ValidateKey("key", null));

        Assert.Equal("key", violation.Field);
        Assert.Contains("required", violation.Description);
    }

    [Fact]
    public void A_single_key_names_its_fields_under_the_prefix()
    {
        Assert.Empty(Validator.ValidateKey("key", KeyOf(Refugees())));
        Assert.Equal("key.sex", Assert.Single(Validator.ValidateKey("key", KeyOf(Refugees(sex: "X")))).Field);
    }

    /// <summary>
    /// A replica's memo of the last valid key (ValidKeyMemo) changes no outcome: every change of a sequence that alternates
    /// valid keys with keys broken in one part (a code, the period, its start, the country, the indicator, a catalogue 2.0
    /// dimension), each sharing every other part with the valid key before it, is judged exactly as without the memo.
    /// </summary>
    [Fact]
    public void A_memo_of_the_last_valid_key_changes_no_outcome()
    {
        var v2 = new ObservationValidator(StandardCatalogue.LoadStandard());
        Observation Applications(Action<Observation>? change = null)
        {
            var o = new Observation
            {
                IndicatorCode = "ASYLUM_APPLICATIONS", Country = Node, Period = "2023-05", Sex = "F", Age = "_T", CountryOfOrigin = "VEN",
                Value = 12, Status = ObservationStatus.Normal,
            };
            change?.Invoke(o);
            return o;
        }
        Observation[] sequence =
        [
            Refugees(), Refugees(sex: "M"), Refugees(sex: "X"), Refugees(sex: "F"), Refugees(period: "2023-Q1"), Refugees(period: "2027"),
            Refugees(period: "2023"), With(Refugees(), o => o.Country = "PAN"), With(Refugees(), o => o.Country = "XXX"), Refugees(),
            With(Refugees(), o => o.CountryOfOrigin = "ZZZ"), With(Refugees(), o => o.IndicatorCode = "NOT_AN_INDICATOR"), Refugees(),
            WorkPermits(), With(WorkPermits(), o => o.Age = "_T"), WorkPermits(), MedianDays(), With(MedianDays(), o => o.Period = "2023-05"),
            Applications(), Applications(o => o.ApplicationType = "OTHER"), Applications(o => o.ApplicationType = "_T"), Applications(o => o.CountBasis = "CASES"),
            Applications(o => o.CountBasis = "NONE"), Applications(o => o.Period = "2026-12"), Applications(o => o.Value = -1), Applications(),
        ];
        var memo = new ValidKeyMemo();
        var judged = sequence.Select(o => (
            Without: v2.ValidateChange(o, ChangeContent.Complete, Node, Today).Select(v => v.Field).ToList(),
            With: v2.ValidateChange(o, ChangeContent.Complete, Node, Today, memo).Select(v => v.Field).ToList())).ToList();

        Assert.All(judged, j => Assert.Equal(j.Without, j.With));
        Assert.Contains(judged, j => j.With.Count == 0);
        Assert.Equal(["observation.sex"], judged[2].With);
        Assert.Equal(["observation.period"], judged[5].With); // not started yet: the start is checked whatever the memo holds
        Assert.Equal(["observation.country"], judged[7].With); // another State's, at BLZ's node
        Assert.Equal(["observation.application_type"], judged[19].With);
        Assert.Equal(["observation.period"], judged[23].With);
    }
}
