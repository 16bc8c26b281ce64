using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Validation;

namespace MirpsExchange.UnitTests;

/// <summary>The standard CSV layout: reading, form errors by line, writing, and the CLI's sample files.</summary>
public class ObservationCsvTests
{
    /// <summary>A v1 file's header (without catalogue 2.0's columns, which may be left out).</summary>
    private const string Header = "indicator_code,country,period,sex,age,country_of_origin,value,status,note";

    private const string FullHeader = "indicator_code,country,period,sex,age,country_of_origin," +
        "application_type,decision_level,procedure_type,count_basis,country_of_destination,value,status,lower_bound,confidentiality,synthetic,note";
    private static readonly DateOnly Today = new(2026, 11, 26);
    private static readonly StandardCatalogue Catalogue = StandardCatalogue.LoadStandard();

    private static ObservationFile Read(params string[] lines) => ObservationCsv.Read(new StringReader(string.Join("\n", lines) + "\n"));

    private static ObservationFile ReadSample(string country)
    {
        using var reader = File.OpenText(Path.Combine(AppContext.BaseDirectory, "Samples", $"{country}.csv"));
        return ObservationCsv.Read(reader);
    }

    private static Observation Obs(
        string indicator, string country, string period, string sex, string age, string origin, double value,
        ObservationStatus status = ObservationStatus.Normal, string note = "") => new()
    {
        IndicatorCode = indicator,
        Country = country,
        Period = period,
        Sex = sex,
        Age = age,
        CountryOfOrigin = origin,
        Value = value,
        Status = status,
        Note = note,
    };

    private static Violation OnlyError(ObservationFile batch) => Assert.Single(batch.Errors);

    /// <summary>
    /// The web app's Spanish pages show the readers' and the validator's problems in Spanish, the rows they name as Spanish places
    /// ("línea 3"); the English description stays what the API says. Every violation of a thoroughly bad file has its Spanish.
    /// </summary>
    [Fact]
    public void Every_problem_of_a_file_is_told_in_Spanish_with_its_rows_named_in_Spanish()
    {
        var batch = Read(Header, "REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,", "REFUGEES,BLZ,2023,F,_T,_T,1.5x,FINAL,");
        Assert.Equal(["'1.5x' no es un número (use punto para los decimales y ningún separador de miles)", "'FINAL' no es un estado (NORMAL, PROVISIONAL, ESTIMATED, CONFIDENTIAL, o vacío para NORMAL)"],
            batch.Errors.Select(e => batch.Locate(e).DescriptionIn("es")));
        Assert.Equal("'1.5x' is not a number (use a dot for decimals and no thousands separator)", batch.Locate(batch.Errors[0]).DescriptionIn("en"));

        var rows = Read(Header, "REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,", "REFUGEES,BLZ,2023,_T,_T,_T,241,NORMAL,", "NOPE,PAN,2023-13,X,_T,_T,-1,NORMAL,",
            "REFUGEES,BLZ,2023,Q,_T,_T,2.5,NORMAL,", "REFUGEES,,,_T,_T,_T,1,NORMAL,");
        rows.Observations[3].Note = new string('n', 1_001);
        var violations = new ObservationValidator(Catalogue).ValidateObservations(rows.Observations, "BLZ", Today).Violations;
        Assert.True(violations.Count >= 8, string.Join("\n", violations));
        Assert.All(violations, v => Assert.False(string.IsNullOrEmpty(v.Spanish), $"no Spanish for {v}"));
        Assert.Equal("la misma clave que línea 2 (REFUGEES, BLZ, 2023, _T, _T, _T): un envío contiene cada clave una sola vez",
            rows.Locate(violations.Single(v => v.Field == "observations[1]")).DescriptionIn("es"));
        Assert.Equal("the same key as line 2 (REFUGEES, BLZ, 2023, _T, _T, _T): a batch holds each key once",
            rows.Locate(violations.Single(v => v.Field == "observations[1]")).DescriptionIn("en"));
        Assert.Equal("hoja 'Poblaciones', fila 5, status", ObservationFile.SpanishPlace("sheet 'Poblaciones', row 5, status"));
        Assert.Equal("línea 4", ObservationFile.SpanishPlace("line 4"));
    }

    [Fact]
    public void A_problem_is_located_by_line_and_column_whether_the_reader_or_the_validator_found_it()
    {
        var batch = Read(Header, "REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,", "", "REFUGEES,BLZ,2023,F,_T,_T,1.5x,,");

        Assert.Equal(new FileProblem(null, 4, "value", "line 4", "'1.5x' is not a number (use a dot for decimals and no thousands separator)"), batch.Locate(OnlyError(batch)));
        // The validator's and a node's field paths: the row's line (a batch's rows counted from its offset), and rows named in the text.
        Assert.Equal(new FileProblem(null, 2, "period", "line 2", "the same key as line 2"),
            batch.Locate(new Violation("observations[0].period", "the same key as observations[0]")));
        Assert.Equal("line 4: repeated", batch.Locate(new Violation("observations[0]", "repeated"), offset: 1).ToString());
        Assert.Equal("observations: too many", batch.Locate(new Violation("observations", "too many")).ToString());
        Assert.Equal(new FileProblem("Poblaciones", 5, "status", "sheet 'Poblaciones', row 5", "bad"),
            batch.Locate(new Violation("sheet 'Poblaciones', row 5, status", "bad")));
        Assert.Equal(new FileProblem("Poblaciones", null, "", "sheet 'Poblaciones'", "no header row"),
            batch.Locate(new Violation("sheet 'Poblaciones'", "no header row")));
    }

    [Fact]
    public void A_well_formed_file_reads_into_observations_with_their_lines()
    {
        var batch = Read(
            Header,
            "REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,from the annual report",
            "WORK_PERMITS,CRI,2023-Q2,F,,VEN,1520,PROVISIONAL,",
            "MEDIAN_PROCESSING_DAYS,PAN,2023,,,_T,87.5,ESTIMATED,");

        Assert.Empty(batch.Errors);
        Assert.Equal(
            [
                Obs("REFUGEES", "BLZ", "2023", "_T", "_T", "_T", 240, note: "from the annual report"),
                Obs("WORK_PERMITS", "CRI", "2023-Q2", "F", "", "VEN", 1520, ObservationStatus.Provisional),
                Obs("MEDIAN_PROCESSING_DAYS", "PAN", "2023", "", "", "_T", 87.5, ObservationStatus.Estimated),
            ],
            batch.Observations);
        Assert.Equal([2, 3, 4], batch.Lines);
    }

    [Fact]
    public void Columns_may_come_in_any_order_and_optional_ones_may_be_left_out()
    {
        var batch = Read(
            "value,country_of_origin,period,indicator_code,sex,country,age",
            "240,_T,2023,REFUGEES,F,BLZ,Y0T4");

        Assert.Empty(batch.Errors);
        Assert.Equal(Obs("REFUGEES", "BLZ", "2023", "F", "Y0T4", "_T", 240), Assert.Single(batch.Observations));
    }

    [Fact]
    public void Quoted_fields_hold_commas_doubled_quotes_and_newlines()
    {
        var batch = Read(
            Header,
            "REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,\"Panama City, 24 January 2024: \"\"over 4,000\"\"",
            "second line\"",
            "\"ASYLUM_SEEKERS\",BLZ,\"2023\",_T,_T,_T,791,,\"\"");

        Assert.Empty(batch.Errors);
        Assert.Equal(2, batch.Observations.Count);
        Assert.Equal("Panama City, 24 January 2024: \"over 4,000\"\nsecond line", batch.Observations[0].Note);
        Assert.Equal(Obs("ASYLUM_SEEKERS", "BLZ", "2023", "_T", "_T", "_T", 791), batch.Observations[1]);
        Assert.Equal([2, 4], batch.Lines);
    }

    [Fact]
    public void Windows_line_endings_and_a_byte_order_mark_are_read()
    {
        var text = "\uFEFF" + Header + "\r\nREFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,\r\n\r\nASYLUM_SEEKERS,BLZ,2023,_T,_T,_T,791,NORMAL,\r\n";

        var batch = ObservationCsv.Read(new StringReader(text));

        Assert.Empty(batch.Errors);
        Assert.Equal(["REFUGEES", "ASYLUM_SEEKERS"], batch.Observations.Select(o => o.IndicatorCode));
        Assert.Equal([2, 4], batch.Lines);
    }

    [Fact]
    public void An_empty_status_means_normal()
    {
        var batch = Read(Header, "REFUGEES,BLZ,2023,_T,_T,_T,240,,");

        Assert.Empty(batch.Errors);
        Assert.Equal(ObservationStatus.Normal, Assert.Single(batch.Observations).Status);
    }

    [Theory]
    [InlineData("normal", ObservationStatus.Normal)]
    [InlineData("Provisional", ObservationStatus.Provisional)]
    [InlineData("eStImAtEd", ObservationStatus.Estimated)]
    [InlineData("CONFIDENTIAL", ObservationStatus.Confidential)]
    [InlineData(" estimated ", ObservationStatus.Estimated)]
    public void Status_words_are_case_insensitive(string word, ObservationStatus status)
    {
        var batch = Read(Header, $"REFUGEES,BLZ,2023,_T,_T,_T,240,{word},");

        Assert.Empty(batch.Errors);
        Assert.Equal(status, Assert.Single(batch.Observations).Status);
    }

    [Theory]
    [InlineData("twelve")]
    [InlineData("1 000")]
    [InlineData("12,5")] // a quoted decimal comma
    [InlineData("")]
    [InlineData("0x10")]
    public void A_bad_number_is_an_error_naming_the_line(string value)
    {
        var batch = Read(Header, "REFUGEES,BLZ,2023,F,_T,_T,128,NORMAL,", $"REFUGEES,BLZ,2023,M,_T,_T,{ObservationCsv.Quote(value)},NORMAL,");

        var error = OnlyError(batch);
        Assert.Equal("line 3, value", error.Field);
        Assert.Contains($"'{value}' is not a number", error.Description);
    }

    [Theory]
    [InlineData("1e3", 1000)]
    [InlineData("87.25", 87.25)]
    [InlineData(" 240 ", 240)]
    public void Numbers_use_a_dot_and_may_have_an_exponent(string value, double expected) =>
        Assert.Equal(expected, Assert.Single(Read(Header, $"REFUGEES,BLZ,2023,_T,_T,_T,{value},,").Observations).Value);

    [Theory]
    [InlineData("FINAL")]
    [InlineData("UNSPECIFIED")]
    [InlineData("N")]
    public void A_bad_status_is_an_error_naming_the_line(string status)
    {
        var batch = Read(Header, "REFUGEES,BLZ,2023,F,_T,_T,128,,", "REFUGEES,BLZ,2023,M,_T,_T,112,,", $"REFUGEES,BLZ,2023,_T,_T,_T,240,{status},");

        var error = OnlyError(batch);
        Assert.Equal("line 4, status", error.Field);
        Assert.Contains($"'{status}' is not a status", error.Description);
    }

    [Theory]
    [InlineData("indicator_code")]
    [InlineData("country")]
    [InlineData("period")]
    [InlineData("value")]
    public void A_missing_required_column_is_an_error_on_the_header(string column)
    {
        var header = string.Join(",", ObservationCsv.Columns.Where(c => c != column));

        var batch = Read(header, "x,x,x,x,x,x,x,x");

        var error = OnlyError(batch);
        Assert.Equal("line 1", error.Field);
        Assert.Contains($"the required column '{column}' is missing", error.Description);
        Assert.Empty(batch.Observations);
    }

    [Fact]
    public void An_unknown_column_is_an_error_on_the_header()
    {
        var batch = Read(Header + ",comment", "REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,,hello");

        var error = OnlyError(batch);
        Assert.Equal("line 1", error.Field);
        Assert.Contains("unknown column 'comment'", error.Description);
        Assert.Empty(batch.Observations);
    }

    [Fact]
    public void A_repeated_column_is_an_error_on_the_header()
    {
        var error = OnlyError(Read("indicator_code,country,period,value,value", "REFUGEES,BLZ,2023,1,2"));

        Assert.Equal("line 1", error.Field);
        Assert.Contains("column 'value' appears twice", error.Description);
    }

    [Theory]
    [InlineData("REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL", 8)]
    [InlineData("REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,a note, with a comma", 10)]
    public void A_row_with_the_wrong_field_count_is_an_error_naming_the_line(string row, int fields)
    {
        var batch = Read(Header, "REFUGEES,BLZ,2023,F,_T,_T,128,NORMAL,", row, "REFUGEES,BLZ,2023,M,_T,_T,112,NORMAL,");

        var error = OnlyError(batch);
        Assert.Equal("line 3", error.Field);
        Assert.Contains($"{fields} fields where the header has 9", error.Description);
        Assert.Equal([2, 4], batch.Lines);
    }

    [Fact]
    public void A_quote_never_closed_is_an_error_naming_the_line_it_starts_on()
    {
        var batch = Read(
            Header,
            "REFUGEES,BLZ,2023,F,_T,_T,128,NORMAL,",
            "REFUGEES,BLZ,2023,M,_T,_T,112,NORMAL,\"from the report, page 4",
            "REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,",
            "ASYLUM_SEEKERS,BLZ,2023,_T,_T,_T,791,NORMAL,");

        var error = OnlyError(batch);
        Assert.Equal("line 3", error.Field);
        Assert.Contains("closing quote is missing", error.Description);
        Assert.Equal([2], batch.Lines);
    }

    [Fact]
    public void A_quote_never_closed_is_named_by_its_own_line_inside_a_record_of_several_lines()
    {
        // The record starts on line 2; its second quoted field opens on line 3 and never closes.
        var batch = Read(Header, "REFUGEES,BLZ,2023,_T,_T,_T,240,NORMAL,\"a note", "on two lines\",\"and a stray quote", "ASYLUM_SEEKERS,BLZ,2023,_T,_T,_T,791,NORMAL,");

        Assert.Equal("line 3", OnlyError(batch).Field);
        Assert.Empty(batch.Observations);
    }

    [Fact]
    public void An_empty_file_is_an_error()
    {
        var batch = ObservationCsv.Read(new StringReader(""));

        Assert.Equal("line 1", OnlyError(batch).Field);
        Assert.Empty(batch.Observations);
    }

    [Fact]
    public void Written_observations_read_back_exactly()
    {
        Observation[] observations =
        [
            Obs("REFUGEES", "BLZ", "2023", "_T", "_T", "_T", 240, note: "MIRPS VI report (Panama City, 24 January 2024): \"240 refugees\""),
            Obs("WORK_PERMITS", "CRI", "2023-Q2", "F", "", "VEN", 1520, ObservationStatus.Provisional),
            Obs("ASYLUM_APPLICATIONS", "MEX", "2023", "_T", "_T", "_T", 140000, ObservationStatus.Estimated, "more than 140,000"),
            Obs("MEDIAN_PROCESSING_DAYS", "PAN", "2023-Q1", "", "", "_T", 87.3, ObservationStatus.Confidential),
            Obs("IDPS", "HND", "2023-07", "M", "Y_GE60", "", 0, note: "first line\nsecond line"),
            Obs("REFUGEES", "GTM", "2023", "_T", "_T", "_T", 1e15, note: "\"quoted\" note ending in a quote\""),
            Obs("REFUGEES", "SLV", "2023", "_T", "_T", "_T", 58, note: "Windows lines\r\nand an old Mac one\rend"),
        ];
        observations[2].ApplicationType = "NEW";
        observations[2].CountBasis = "CASES";
        observations[2].LowerBound = true;
        observations[2].Synthetic = true;
        observations[3].Confidentiality = ConfidentialityStatus.NotForPublication;
        observations[0].CountryOfDestination = "_U";
        var text = new StringWriter();

        ObservationCsv.Write(text, observations);
        var batch = ObservationCsv.Read(new StringReader(text.ToString()));

        Assert.StartsWith(FullHeader + Environment.NewLine, text.ToString());
        Assert.Contains("ASYLUM_APPLICATIONS,MEX,2023,_T,_T,_T,NEW,,,CASES,,140000,ESTIMATED,true,,true,\"more than 140,000\"", text.ToString());
        Assert.Empty(batch.Errors);
        // A line break in a note reads back as \n, whatever the file used (CRLF from Excel on Windows, a lone CR):
        // the note rules accept line feeds only.
        observations[^1].Note = "Windows lines\nand an old Mac one\nend";
        Assert.Equal(observations, batch.Observations);
        // Line numbers count the line breaks inside quoted notes: the last row starts after two of them.
        Assert.Equal([2, 3, 4, 5, 6, 8, 9], batch.Lines);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    public void Quote_quotes_only_when_needed(string field, string expected) =>
        Assert.Equal(expected, ObservationCsv.Quote(field));

    // The samples the CLI ships: one file per MIRPS State, named by its ISO code.
    private static readonly string[] MirpsStates = ["BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN"];

    public static TheoryData<string> SampleCountries() => new(MirpsStates);

    [Fact]
    public void There_is_one_sample_file_per_MIRPS_State()
    {
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Samples"), "*.csv").Select(f => Path.GetFileNameWithoutExtension(f));

        Assert.Equal(MirpsStates.Order(StringComparer.Ordinal), files.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(SampleCountries))]
    public void A_sample_file_reads_and_validates_for_its_own_country(string country)
    {
        var batch = ReadSample(country);

        Assert.Empty(batch.Errors);
        Assert.True(batch.Observations.Count >= 25, $"{country}.csv has {batch.Observations.Count} rows; 25 or more expected");
        Assert.All(batch.Observations, o => Assert.Equal(country, o.Country));
        Assert.Empty(new ObservationValidator(Catalogue).ValidateObservations(batch.Observations, country, Today).Violations);
    }

    // The report's figures, as the samples hold them: "more than 140,000" and "more than 100,000" are lower bounds, not estimates.
    [Theory]
    [InlineData("BLZ", "REFUGEES", 240, false)]
    [InlineData("BLZ", "ASYLUM_SEEKERS", 791, false)]
    [InlineData("CRI", "PERSONS_ASSISTED", 100000, true)]
    [InlineData("MEX", "ASYLUM_APPLICATIONS", 140000, true)]
    [InlineData("PAN", "DECISIONS_RECOGNIZED", 131, false)]
    public void The_sample_files_hold_the_key_figures_of_the_meeting_report(string country, string indicator, double value, bool lowerBound)
    {
        var total = TotalOf(ReadSample(country).Observations, indicator, "2023");

        Assert.Equal((value, ObservationStatus.Normal, lowerBound, false), (total.Value, total.Status, total.LowerBound, total.Synthetic));
    }

    /// <summary>The one observation of an indicator and period with every declared dimension at _T (undeclared ones empty, catalogue 2.0's at their defaults).</summary>
    private static Observation TotalOf(IEnumerable<Observation> observations, string indicator, string period)
    {
        var rule = Catalogue.FindIndicator(indicator);
        Assert.NotNull(rule);
        string Total(ICollection<string>? codes) => codes is null ? "" : "_T";
        return Assert.Single(observations, o =>
            o.IndicatorCode == indicator && o.Period == period
            && o.Sex == Total(rule.Sexes) && o.Age == Total(rule.Ages) && o.CountryOfOrigin == Total(rule.CountriesOfOrigin)
            && Enumerable.Range(0, Mirps.Log.AddedDimensions.Count).All(Mirps.Log.AddedDimensions.Of(o).IsEmptyOrDefault));
    }

    [Fact]
    public void Catalogue_two_columns_are_read_and_may_be_left_out()
    {
        var v2 = Read("indicator_code,country,period,application_type,count_basis,value,lower_bound,confidentiality,synthetic",
            "ASYLUM_APPLICATIONS,MEX,2023,APPEAL,cases,140000,TRUE,confidential,false",
            "ASYLUM_APPLICATIONS,MEX,2022,,,1,,,");
        Assert.Empty(v2.Errors);
        var first = v2.Observations[0];
        Assert.Equal(("APPEAL", "cases", true, ConfidentialityStatus.Confidential, false),
            (first.ApplicationType, first.CountBasis, first.LowerBound, first.Confidentiality, first.Synthetic));
        Assert.Equal(new Observation { IndicatorCode = "ASYLUM_APPLICATIONS", Country = "MEX", Period = "2022", Value = 1, Status = ObservationStatus.Normal }, v2.Observations[1]);

        var bad = Read("indicator_code,country,period,value,lower_bound,confidentiality", "REFUGEES,BLZ,2023,1,yes,SECRET");
        Assert.Equal(["line 2, lower_bound", "line 2, confidentiality"], bad.Errors.Select(e => e.Field));
    }
}
