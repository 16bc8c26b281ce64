using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using MirpsExchange.Catalogue.Spreadsheets;

namespace MirpsExchange.UnitTests;

/// <summary>
/// `regional verify` reads an xlsx download only in the exact form the download writes it (<see cref="XlsxTemplate.WriteTable"/>): what a person
/// sees in Excel is what is checked (third hostile review of 2026-12-07, finding A).
/// </summary>
public class ExportXlsxFormTests
{
    private const string Sheet = "Regional";

    private static MemoryStream Download()
    {
        var stream = new MemoryStream();
        XlsxTemplate.WriteTable(stream, Sheet, ["indicator_code", "country", "period", "sex", "age", "value", "status", "note"],
        [
            ["REFUGEES", "_Z", "2023", "_T", "_T", "240", "NORMAL", ""],
            ["REFUGEES", "_Z", "2024", "_T", "_T", "250", "NORMAL", "'=HYPERLINK(\"x\")"],
        ]);
        stream.Position = 0;
        return stream;
    }

    /// <summary>The download changed by <paramref name="change"/> (as a hostile State would edit it), ready to read.</summary>
    private static MemoryStream Forged(Action<SpreadsheetDocument> change)
    {
        var stream = Download();
        using (var document = SpreadsheetDocument.Open(stream, true))
        {
            change(document);
        }
        stream.Position = 0;
        return stream;
    }

    private static Cell CellAt(SpreadsheetDocument document, string reference) =>
        document.WorkbookPart!.WorksheetParts.Single().Worksheet.Descendants<Cell>().Single(c => c.CellReference == reference);

    [Fact]
    public void An_untouched_download_reads_as_its_rows()
    {
        var (sheet, rows) = ObservationXlsx.ReadTable(Download());

        Assert.Equal(Sheet, sheet);
        Assert.Equal(3, rows.Count);
        Assert.Equal("240", rows[1].Fields[5]);
        Assert.Equal("'=HYPERLINK(\"x\")", rows[2].Fields[7]);
    }

    [Fact]
    public void A_formula_whose_cached_value_is_the_signed_figure_is_refused_naming_the_sheet_and_cell()
    {
        var forged = Forged(document =>
        {
            var cell = CellAt(document, "F2");
            cell.RemoveAllChildren();
            cell.DataType = null;
            cell.Append(new CellFormula("240+1000"), new CellValue("240"));
            document.WorkbookPart!.Workbook.Append(new CalculationProperties { FullCalculationOnLoad = true });
        });

        var refused = Assert.Throws<InvalidDataException>(() => ObservationXlsx.ReadTable(forged));

        Assert.Contains($"sheet '{Sheet}', cell F2", refused.Message, StringComparison.Ordinal);
        Assert.Contains("formula", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_custom_number_format_that_shows_another_figure_is_refused_naming_the_sheet_and_cell()
    {
        var forged = Forged(document =>
        {
            var styles = document.WorkbookPart!.WorkbookStylesPart!.Stylesheet;
            styles.InsertAt(new NumberingFormats(new NumberingFormat { NumberFormatId = 164, FormatCode = "\"1240\"" }) { Count = 1 }, 0);
            var formats = styles.CellFormats!;
            formats.Append(new CellFormat { NumberFormatId = 164, ApplyNumberFormat = true });
            formats.Count = (uint)formats.ChildElements.Count;
            CellAt(document, "F2").StyleIndex = formats.Count - 1;
        });

        var refused = Assert.Throws<InvalidDataException>(() => ObservationXlsx.ReadTable(forged));

        Assert.Contains($"sheet '{Sheet}', cell F2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_visible_sheet_opened_first_is_refused_naming_the_sheet()
    {
        var forged = Forged(document =>
        {
            var workbook = document.WorkbookPart!;
            var part = workbook.AddNewPart<WorksheetPart>();
            part.Worksheet = new Worksheet(new SheetData(new Row(new Cell { CellReference = "A1", DataType = CellValues.InlineString, InlineString = new InlineString(new Text("1240")) }) { RowIndex = 1 }));
            workbook.Workbook.Sheets!.Append(new Sheet { Id = workbook.GetIdOfPart(part), SheetId = 2, Name = "Shown" });
            workbook.Workbook.InsertAt(new BookViews(new WorkbookView { ActiveTab = 1 }), 0);
        });

        var refused = Assert.Throws<InvalidDataException>(() => ObservationXlsx.ReadTable(forged));

        Assert.Contains("sheet 'Shown'", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hidden_row_is_refused_naming_the_sheet_and_row()
    {
        var forged = Forged(document =>
            document.WorkbookPart!.WorksheetParts.Single().Worksheet.Descendants<Row>().Single(r => r.RowIndex! == 2).Hidden = true);

        var refused = Assert.Throws<InvalidDataException>(() => ObservationXlsx.ReadTable(forged));

        Assert.Contains($"sheet '{Sheet}', row 2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hidden_column_is_refused_naming_the_sheet()
    {
        var forged = Forged(document =>
            document.WorkbookPart!.WorksheetParts.Single().Worksheet.Descendants<Column>().First(c => c.Min! == 6).Hidden = true);

        var refused = Assert.Throws<InvalidDataException>(() => ObservationXlsx.ReadTable(forged));

        Assert.Contains($"sheet '{Sheet}'", refused.Message, StringComparison.Ordinal);
    }
}
