using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using DocumentFormat.OpenXml.Validation;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Spreadsheets;
using MirpsExchange.TestShared;

namespace MirpsExchange.UnitTests;

/// <summary>The Excel template (one sheet per indicator group, dropdowns, Spanish and English headers) and reading xlsx workbooks back.</summary>
public class ObservationXlsxTests
{
    private static readonly StandardCatalogue Catalogue = StandardCatalogue.LoadStandard();

    private static MemoryStream Template(string country = "BLZ", string period = "2023")
    {
        var stream = new MemoryStream();
        XlsxTemplate.Write(stream, Catalogue, country, period);
        stream.Position = 0;
        return stream;
    }

    [Fact]
    public void The_template_is_a_valid_workbook_with_a_sheet_per_indicator_group_spanish_and_english_headers_and_dropdowns()
    {
        using var template = Template();
        using var document = SpreadsheetDocument.Open(template, false);

        Assert.Empty(new OpenXmlValidator().Validate(document));
        var sheets = document.WorkbookPart!.Workbook.Sheets!.Elements<Sheet>().ToList();
        Assert.Equal(["Poblaciones", "Procedimientos de asilo", "Retornos y soluciones", "Protección e inclusión", "listas"], sheets.Select(s => s.Name!.Value));
        Assert.Equal(SheetStateValues.Hidden, sheets[^1].State!.Value);
        var asylum = (WorksheetPart)document.WorkbookPart.GetPartById(sheets[1].Id!);
        var rows = asylum.Worksheet.Descendants<Row>().Take(4).Select(r => r.Elements<Cell>().Select(c => c.InnerText).ToList()).ToList();
        Assert.Equal(["Indicador", "País que informa", "Período", "Sexo", "Grupo de edad", "País de origen", "Tipo de solicitud"], rows[0].Take(7));
        Assert.Equal(["Indicator", "Reporting country", "Period", "Sex", "Age group", "Country of origin", "Application type"], rows[1].Take(7));
        Assert.Equal(["indicator_code", "country", "period", "sex", "age", "country_of_origin", "application_type"], rows[2].Take(7));
        Assert.Equal(["ASYLUM_APPLICATIONS", "BLZ", "2023", "_T", "_T", "_T", "_T"], rows[3].Take(7));
        // Each code column draws from a list on the hidden sheet; the value must be a number of 0 or more.
        var validations = asylum.Worksheet.Descendants<DataValidation>().ToList();
        Assert.Contains(validations, v => v.Type! == DataValidationValues.List && v.SequenceOfReferences!.InnerText == "A4:A5000" && v.Formula1!.Text.StartsWith("listas!$", StringComparison.Ordinal));
        Assert.Contains(validations, v => v.Type! == DataValidationValues.Decimal && v.Formula1!.Text == "0");
    }

    [Fact]
    public void A_template_not_filled_in_reads_as_nothing_and_says_how_many_rows_it_skipped()
    {
        using var template = Template();

        var file = ObservationXlsx.Read(template);

        Assert.Empty(file.Errors);
        Assert.Empty(file.Observations);
        Assert.Equal(Catalogue.Catalog.Indicators.Count(i => Catalogue.FindIndicator(i.Code)!.Granularities.Contains(Mirps.Catalog.V1.PeriodGranularity.Year)), file.Skipped);
    }

    [Fact]
    public void A_filled_template_reads_as_the_observations_typed_with_their_sheet_and_row_and_passes_validation()
    {
        using var template = Template();
        var value = XlsxCells.ColumnOf(template, "Procedimientos de asilo", "value");
        var sex = XlsxCells.ColumnOf(template, "Procedimientos de asilo", "sex");
        // The headline row filled in, and a breakdown added below by hand (the year typed as a number, as Excel stores it).
        using var filled = XlsxCells.Fill(template, "Procedimientos de asilo", ($"{value}4", "130"),
            ("A40", "ASYLUM_APPLICATIONS"), ("B40", "BLZ"), ("C40", "2023"), ($"{sex}40", "F"), ($"{value}40", "127"));

        var file = ObservationXlsx.Read(filled);

        Assert.Empty(file.Errors);
        Assert.Equal(["sheet 'Procedimientos de asilo', row 4", "sheet 'Procedimientos de asilo', row 40"], file.Places);
        var (total, women) = (file.Observations[0], file.Observations[1]);
        Assert.Equal(("ASYLUM_APPLICATIONS", "BLZ", "2023", "_T", 130.0), (total.IndicatorCode, total.Country, total.Period, total.Sex, total.Value));
        Assert.Equal(("2023", "F", "", 127.0, ObservationStatus.Normal), (women.Period, women.Sex, women.Age, women.Value, women.Status));
        Assert.True(new MirpsExchange.Catalogue.Validation.ObservationValidator(Catalogue)
            .ValidateAllObservations([total], nodeCountry: "BLZ", new DateOnly(2026, 12, 6)).IsValid);
    }

    [Fact]
    public void Problems_name_the_sheet_the_row_and_the_column()
    {
        using var template = Template();
        var value = XlsxCells.ColumnOf(template, "Poblaciones", "value");
        var status = XlsxCells.ColumnOf(template, "Poblaciones", "status");
        using var filled = XlsxCells.Fill(template, "Poblaciones", ($"{value}4", "1.200,5"), ($"{value}5", "10"), ($"{status}5", "FINAL"));

        var file = ObservationXlsx.Read(filled);

        Assert.Equal(["sheet 'Poblaciones', row 4, value", "sheet 'Poblaciones', row 5, status"], file.Errors.Select(e => e.Field));
        Assert.Contains("'1.200,5' is not a number", file.Errors[0].Description);
    }

    [Fact]
    public void A_file_that_is_not_a_workbook_or_has_no_header_row_is_refused_with_a_clear_error()
    {
        var notAWorkbook = ObservationXlsx.Read(new MemoryStream("indicator_code,country\n"u8.ToArray()));
        Assert.StartsWith("not an xlsx workbook", Assert.Single(notAWorkbook.Errors).Description);

        using var template = Template();
        using var renamed = XlsxCells.Fill(template, "Poblaciones", ("A3", "indicador"));
        var file = ObservationXlsx.Read(renamed);
        Assert.Equal("sheet 'Poblaciones'", Assert.Single(file.Errors).Field);
        Assert.StartsWith("no header row", file.Errors[0].Description);
    }

    [Fact]
    public void A_workbook_that_unpacks_beyond_the_limit_is_refused_from_its_zip_directory_before_parsing()
    {
        using var crafted = new MemoryStream();
        using (var template = Template())
        {
            template.CopyTo(crafted);
        }
        // A bomb: a part of zeros that compresses to little and unpacks past the limit.
        using (var zip = new System.IO.Compression.ZipArchive(crafted, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
        {
            using var part = zip.CreateEntry("xl/media/zeros.bin", System.IO.Compression.CompressionLevel.Fastest).Open();
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i <= ObservationXlsx.MaxUnpackedBytes / zeros.Length; i++)
            {
                part.Write(zeros);
            }
        }
        Assert.True(crafted.Length < 1024 * 1024, $"{crafted.Length} bytes");
        crafted.Position = 0;

        var file = ObservationXlsx.Read(crafted);

        Assert.Equal("file", Assert.Single(file.Errors).Field);
        Assert.Equal("the workbook unpacks to more than 64 MiB, the limit; nothing was read", file.Errors[0].Description);
        Assert.Empty(file.Observations);
    }

    [Fact]
    public void A_workbook_listing_more_sheets_than_the_limit_is_refused_before_any_sheet_is_read()
    {
        using var crafted = new MemoryStream();
        using (var document = SpreadsheetDocument.Create(crafted, DocumentFormat.OpenXml.SpreadsheetDocumentType.Workbook))
        {
            var workbook = document.AddWorkbookPart();
            workbook.Workbook = new Workbook(new Sheets());
            var part = workbook.AddNewPart<WorksheetPart>();
            part.Worksheet = new Worksheet(new SheetData());
            var id = workbook.GetIdOfPart(part);
            // Every sheet of the list points to the same part: a small file that would make the reader read it again and again.
            for (uint i = 1; i <= ObservationXlsx.MaxSheets + 1; i++)
            {
                workbook.Workbook.Sheets!.Append(new Sheet { Name = $"s{i}", SheetId = i, Id = id });
            }
        }
        crafted.Position = 0;

        var file = ObservationXlsx.Read(crafted);

        Assert.Equal("the workbook lists more than 64 sheets, the limit; nothing was read", Assert.Single(file.Errors).Description);
    }

    [Fact]
    public void Reading_stops_at_the_observation_limit_with_an_error_naming_it()
    {
        using var template = Template();
        var value = XlsxCells.ColumnOf(template, "Procedimientos de asilo", "value");
        using var filled = XlsxCells.Fill(template, "Procedimientos de asilo", ($"{value}4", "130"), ($"{value}5", "131"), ($"{value}6", "132"));

        var file = ObservationXlsx.Read(filled, maxObservations: 2);

        Assert.Equal("more than 2 observations, the most one upload holds: reading stopped at sheet 'Procedimientos de asilo', row 6 (send larger files in batches: mirps submit)",
            Assert.Single(file.Errors).Description);
        Assert.Equal(2, file.Observations.Count);
        filled.Position = 0;
        Assert.Equal(3, ObservationXlsx.Read(filled).Observations.Count);
    }

    [Fact]
    public void A_cell_beyond_excels_last_column_is_refused_without_reading_on()
    {
        using var template = Template();
        // One cell far to the right on the header row: read as is, a header of 321 million columns.
        using var crafted = XlsxCells.Fill(template, "Poblaciones", ("ZZZZZZ3", "note"));

        var file = ObservationXlsx.Read(crafted);

        Assert.Equal("file", Assert.Single(file.Errors).Field);
        Assert.Contains("beyond Excel's last column", file.Errors[0].Description);
        Assert.Empty(file.Observations);
    }

    [Fact]
    public void A_template_for_a_state_or_period_the_catalogue_does_not_have_is_refused()
    {
        Assert.Contains("not a reporting State", Assert.Throws<ArgumentException>(() => XlsxTemplate.Write(new MemoryStream(), Catalogue, "USA", "2023")).Message);
        Assert.Contains("not a period", Assert.Throws<ArgumentException>(() => XlsxTemplate.Write(new MemoryStream(), Catalogue, "BLZ", "2023-13")).Message);
    }
}
