using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;
using static MirpsExchange.UnitTests.Exports.ExportWriterTests;

namespace MirpsExchange.UnitTests.Exports;

/// <summary>Reading exports back: round trips in every format and language, and bad files named by line and column.</summary>
public class ExportReaderTests
{
    private const string SdmxHeader = "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,SEX,AGE,COUNTRY_OF_ORIGIN,TIME_PERIOD,OBS_VALUE,OBS_STATUS,COMMENT_OBS";
    private const string SdmxStart = "dataflow,MIRPS:DF_MIRPS_PROTECTION(1.0.0),I,";
    private static readonly StandardCatalogue Standard = ExportWriterTests.Catalogue;

    public static TheoryData<ExportFormat, ExportLabels> Layouts()
    {
        var data = new TheoryData<ExportFormat, ExportLabels>();
        foreach (var format in Enum.GetValues<ExportFormat>())
        {
            foreach (var labels in Enum.GetValues<ExportLabels>())
            {
                data.Add(format, labels);
            }
        }
        return data;
    }

    /// <summary>
    /// Rows drawn from the catalogue: each indicator's declared dimensions filled with codes of their
    /// codelists (undeclared ones empty), every State and the region, every granularity, all statuses,
    /// withheld and fractional values, and notes full of separators, quotes, line breaks and ": ".
    /// </summary>
    private static List<ExportRow> Generated(int count, int seed)
    {
        var random = new Random(seed);
        var catalog = Standard.Catalog;
        string[] areas = [.. Standard.ReportingCountries.Order(StringComparer.Ordinal), ExportRow.RegionalAggregate];
        string[] notes = ["", "plain", "a, b", "she said \"no\"", "line 1\nline 2", "crlf\r\nend", " padded ", "Fuente: CONARE; \"8\" sesiones, 2023", "ñandú – ü"];
        ObservationStatus[] statuses = [ObservationStatus.Normal, ObservationStatus.Provisional, ObservationStatus.Estimated, ObservationStatus.Confidential];
        string Code(Indicator indicator, string dimension)
        {
            if (!indicator.DimensionIds.Contains(dimension))
            {
                return "";
            }
            var codes = Standard.DimensionCodes(dimension).Order(StringComparer.Ordinal).ToArray();
            return codes[random.Next(codes.Length)];
        }
        var rows = new List<ExportRow>();
        for (var i = 0; i < count; i++)
        {
            var indicator = catalog.Indicators[random.Next(catalog.Indicators.Count)];
            var year = 2018 + random.Next(7);
            var period = random.Next(3) switch
            {
                0 => $"{year}",
                1 => $"{year}-Q{random.Next(1, 5)}",
                _ => $"{year}-{random.Next(1, 13):D2}",
            };
            var status = statuses[random.Next(statuses.Length)];
            double? value = status == ObservationStatus.Confidential && random.Next(2) == 0 ? null
                : random.Next(4) == 0 ? Math.Round(random.NextDouble() * 1e4, 3) : random.Next(0, 200_000);
            rows.Add(new ExportRow(
                indicator.Code, areas[random.Next(areas.Length)], period,
                Code(indicator, StandardCatalogue.SexDimension), Code(indicator, StandardCatalogue.AgeDimension),
                Code(indicator, StandardCatalogue.CountryOfOriginDimension),
                value, status, notes[random.Next(notes.Length)]));
        }
        return rows;
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Generated_rows_read_back_exactly_in_every_format_and_language(ExportFormat format, ExportLabels labels)
    {
        var rows = Generated(400, seed: 2024);

        var read = ExportReader.Read(Export(new ExportOptions(format, labels), [.. rows]));

        Assert.Equal(rows, read);
        Assert.Contains(read, r => r.Value is null);
        Assert.Contains(read, r => r.CountryOfOrigin.Length == 0);
        Assert.Contains(read, r => r.Note.Contains('\n'));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void A_header_alone_reads_as_no_rows(ExportFormat format, ExportLabels labels) =>
        Assert.Empty(ExportReader.Read(Export(new ExportOptions(format, labels))));

    [Fact]
    public void Sdmx_components_may_come_in_any_order_and_a_missing_action_column_means_information()
    {
        var rows = ExportReader.Read(
            "STRUCTURE,STRUCTURE_ID,TIME_PERIOD,OBS_VALUE,REF_AREA,INDICATOR,SEX,AGE,OBS_STATUS\n" +
            "dataflow,MIRPS:DF_MIRPS_PROTECTION(1.0.0),2023-Q1,12.5,BLZ,IDPS,F,_T,E\n");

        Assert.Equal([Row("IDPS", "BLZ", "2023-Q1", "F", "_T", "", 12.5, ObservationStatus.Estimated)], rows);
    }

    [Fact]
    public void Sdmx_labels_are_dropped_even_when_the_label_holds_colons_and_commas()
    {
        var rows = ExportReader.Read(
            "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR: Indicator,REF_AREA: Reference area,SEX: Sex,AGE: Age group,COUNTRY_OF_ORIGIN: Country of origin,TIME_PERIOD: Time period,OBS_VALUE: Observation value,OBS_STATUS: Observation status,COMMENT_OBS: Observation comment\r\n" +
            "dataflow,MIRPS:DF_MIRPS_PROTECTION(1.0.0): Name,I,DECISIONS_RECOGNIZED: First-instance decisions: recognized as refugees,PAN: Panama,_T: Total,_T: All ages,\"BES: Bonaire, Sint Eustatius and Saba\",2023,131,P: Provisional value,Note: kept whole\r\n");

        Assert.Equal([Row("DECISIONS_RECOGNIZED", "PAN", "2023", "_T", "_T", "BES", 131, ObservationStatus.Provisional, "Note: kept whole")], rows);
    }

    [Fact]
    public void Plain_csv_reads_columns_in_any_order_and_ignores_label_columns()
    {
        var rows = ExportReader.Read(
            "country,country_label,indicator_code,period,value,status_label,status\n" +
            "MIRPS,Región MIRPS,REFUGEES,2023,,Valor confidencial,CONFIDENTIAL\n");

        Assert.Equal([Row("REFUGEES", "MIRPS", "2023", "", "", "", null, ObservationStatus.Confidential)], rows);
    }

    [Theory]
    [InlineData("empty file", "", "line 1: the file is empty")]
    [InlineData("bad value", SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2023,1 234,A,", "line 2, column 10 (OBS_VALUE): '1 234' is not a number")]
    [InlineData("decimal comma", SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2023,\"12,5\",A,", "line 2, column 10 (OBS_VALUE): '12,5' is not a number")]
    [InlineData("bad status", SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2023,1,NORMAL,", "line 2, column 11 (OBS_STATUS): 'NORMAL' is not a status (A, P, E, C")]
    [InlineData("bad period", SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2023Q1,1,A,", "line 2, column 9 (TIME_PERIOD): '2023Q1' is not a year")]
    [InlineData("empty dimension", SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,,_T,_T,2023,1,A,", "line 2, column 6 (SEX): the dimension is empty; a dimension the indicator does not declare is _Z")]
    [InlineData("deletion", SdmxHeader + "\n" + "dataflow,MIRPS:DF_MIRPS_PROTECTION(1.0.0),D,REFUGEES,BLZ,_T,_T,_T,2023,-,,", "line 2, column 3 (ACTION): a deletion (D) carries no observation")]
    [InlineData("bad structure", SdmxHeader + "\n" + "dataset,MIRPS:DF_MIRPS_PROTECTION(1.0.0),I,REFUGEES,BLZ,_T,_T,_T,2023,1,A,", "line 2, column 1 (STRUCTURE): 'dataset' is not a structure type")]
    [InlineData("missing indicator", SdmxHeader + "\n" + SdmxStart + ",BLZ,_T,_T,_T,2023,1,A,", "line 2, column 4 (INDICATOR): the code is missing")]
    [InlineData("too few fields", SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2023,1,A", "line 2, column 12: 11 fields where the header has 12")]
    [InlineData("unknown column", "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,FREQ,TIME_PERIOD,OBS_VALUE", "line 1, column 6 (FREQ): unknown column")]
    [InlineData("duplicate column", "STRUCTURE,STRUCTURE_ID,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,REF_AREA: Area", "line 1, column 7 (REF_AREA): the column appears twice")]
    [InlineData("missing column", "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,TIME_PERIOD,OBS_VALUE", "line 1, column REF_AREA: the required column is missing")]
    [InlineData("semicolon separator", "STRUCTURE;STRUCTURE_ID;ACTION;INDICATOR", "line 1, column 1 (STRUCTURE;STRUCTURE_ID;ACTION;INDICATOR): the first header cell must be STRUCTURE; only the comma")]
    [InlineData("unclosed quote", SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2023,1,A,\"never closed\nREFUGEES", "line 2, column 12: a quoted field starts here but its closing quote is missing")]
    [InlineData("plain bad value", "indicator_code,country,period,value\nREFUGEES,BLZ,2023,12\nREFUGEES,CRI,2023,1.234,5", "line 3, column 5: 5 fields where the header has 4")]
    [InlineData("plain bad number", "indicator_code,country,period,value\r\nREFUGEES,BLZ,2023,twelve", "line 2, column 4 (value): 'twelve' is not a number")]
    [InlineData("plain bad status", "indicator_code,country,period,value,status\nREFUGEES,BLZ,2023,1,C", "line 2, column 5 (status): 'C' is not a status (NORMAL")]
    [InlineData("plain unknown column", "indicator_code,country,period,value,remarks", "line 1, column 5 (remarks): unknown column")]
    [InlineData("plain missing column", "indicator_code,country,value", "line 1, column period: the required column is missing")]
    public void Bad_files_are_refused_naming_line_and_column(string _, string text, string message)
    {
        var error = Assert.Throws<ExportFormatException>(() => ExportReader.Read(text));

        Assert.StartsWith(message, error.Message);
    }

    [Fact]
    public void Rows_before_a_bad_line_are_already_yielded()
    {
        var read = new List<ExportRow>();
        var text = SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2023,1,A,\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2024,x,A,\n";

        var error = Assert.Throws<ExportFormatException>(() =>
        {
            foreach (var row in ExportReader.Read(new StringReader(text)))
            {
                read.Add(row);
            }
        });

        Assert.Equal((3, 10, "OBS_VALUE"), (error.Line, error.Column, error.ColumnName));
        Assert.Single(read);
    }

    [Fact]
    public void A_line_counted_after_a_multi_line_note_is_the_line_in_the_file()
    {
        var text = SdmxHeader + "\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2023,1,A,\"two\nlines\"\n" + SdmxStart + "REFUGEES,BLZ,_T,_T,_T,2024,1,Z,\n";

        Assert.Equal(4, Assert.Throws<ExportFormatException>(() => ExportReader.Read(text)).Line);
    }
}
