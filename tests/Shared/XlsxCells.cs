using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;

namespace MirpsExchange.TestShared;

/// <summary>Filling in an xlsx workbook as a person would (tests of the Excel template and its import).</summary>
public static class XlsxCells
{
    /// <summary>Sets cells of <paramref name="sheet"/> (a number when it parses as one, else text), as a person filling in the template would.</summary>
    public static MemoryStream Fill(MemoryStream template, string sheet, params (string Reference, string Text)[] cells)
    {
        var stream = new MemoryStream();
        template.Position = 0;
        template.CopyTo(stream);
        using (var document = SpreadsheetDocument.Open(stream, true))
        {
            var workbook = document.WorkbookPart!;
            var part = (WorksheetPart)workbook.GetPartById(workbook.Workbook.Sheets!.Elements<Sheet>().Single(s => s.Name == sheet).Id!);
            var data = part.Worksheet.GetFirstChild<SheetData>()!;
            foreach (var (reference, text) in cells)
            {
                var number = uint.Parse(new string([.. reference.SkipWhile(char.IsLetter)]));
                var row = data.Elements<Row>().FirstOrDefault(r => r.RowIndex! == number) ?? data.AppendChild(new Row { RowIndex = number });
                row.Elements<Cell>().FirstOrDefault(c => c.CellReference == reference)?.Remove();
                var cell = double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out _)
                    ? new Cell { CellReference = reference, CellValue = new CellValue(text) }
                    : new Cell { CellReference = reference, DataType = CellValues.InlineString, InlineString = new InlineString(new Text(text)) };
                var after = row.Elements<Cell>().LastOrDefault(c => Column(c.CellReference!) < Column(reference));
                if (after is null)
                {
                    row.PrependChild(cell);
                }
                else
                {
                    after.InsertAfterSelf(cell);
                }
            }
            part.Worksheet.Save();
        }
        stream.Position = 0;
        return stream;
    }

    public static int Column(string reference) => reference.TakeWhile(char.IsLetter).Aggregate(0, (n, c) => n * 26 + c - 'A' + 1);

    /// <summary>The column letter of <paramref name="name"/> on <paramref name="sheet"/>'s column-name row (row 3).</summary>
    public static string ColumnOf(MemoryStream template, string sheet, string name)
    {
        template.Position = 0;
        using var document = SpreadsheetDocument.Open(template, false);
        var workbook = document.WorkbookPart!;
        var part = (WorksheetPart)workbook.GetPartById(workbook.Workbook.Sheets!.Elements<Sheet>().Single(s => s.Name == sheet).Id!);
        var cell = part.Worksheet.Descendants<Row>().Single(r => r.RowIndex! == 3).Elements<Cell>().Single(c => c.InnerText == name);
        template.Position = 0;
        return new string([.. cell.CellReference!.Value!.TakeWhile(char.IsLetter)]);
    }
}
