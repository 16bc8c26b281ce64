using System.Globalization;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Validation;

namespace MirpsExchange.Catalogue.Spreadsheets;

/// <summary>
/// Reads observations from an xlsx workbook in the standard layout (<see cref="ObservationCsv"/>'s columns), as the
/// template (<see cref="XlsxTemplate"/>) lays it out: on every visible sheet, the first row (of the first ten) holding
/// <c>indicator_code</c> is the header, and each row below it is an observation; a visible sheet without one is a problem
/// (its rows would go unread). A row whose value is empty is not
/// read (a template row not filled in) and is counted in <see cref="ObservationFile.Skipped"/>. Problems name the sheet,
/// the row and the column, as a CSV's name its line; the catalogue's rules are the validator's job, as for CSV.
/// </summary>
public static class ObservationXlsx
{
    /// <summary>The rows a sheet's header may be on.</summary>
    private const int HeaderRows = 10;

    /// <summary>A workbook's parts may not unpack beyond this (a small file that expands to gigabytes is refused).</summary>
    private const long MaxCharactersInPart = 32L * 1024 * 1024;

    /// <summary>Excel's last column (XFD): a reference beyond it is refused, not allocated for.</summary>
    private const int MaxColumns = 16_384;

    public static ObservationFile Read(Stream stream)
    {
        var result = new ObservationFile();
        SpreadsheetDocument document;
        try
        {
            document = SpreadsheetDocument.Open(stream, false, new OpenSettings { MaxCharactersInPart = MaxCharactersInPart });
        }
        catch (Exception e) when (e is DocumentFormat.OpenXml.Packaging.OpenXmlPackageException or InvalidDataException or System.IO.FileFormatException or System.Xml.XmlException)
        {
            result.Errors.Add(new("file", $"not an xlsx workbook: {e.Message}"));
            return result;
        }
        using (document)
        {
            try
            {
                var workbook = document.WorkbookPart;
                var strings = workbook?.SharedStringTablePart?.SharedStringTable?.Elements<SharedStringItem>().Select(i => i.InnerText).ToList() ?? [];
                var sheets = 0;
                foreach (var sheet in workbook?.Workbook.Sheets?.Elements<Sheet>() ?? [])
                {
                    if (sheet.State is not null && sheet.State.Value != SheetStateValues.Visible || sheet.Id?.Value is not { } id
                        || workbook!.GetPartById(id) is not WorksheetPart part)
                    {
                        continue; // the template's hidden lists, a chart sheet
                    }
                    sheets++;
                    if (!ReadSheet(sheet.Name?.Value ?? "", part, strings, result))
                    {
                        // Its rows would be lost unread: say so (a sheet of notes can be hidden).
                        result.Errors.Add(new($"sheet '{sheet.Name?.Value}'", $"no header row: none of its first {HeaderRows} rows holds the standard layout's column names ({string.Join(",", ObservationCsv.Columns)}); every visible sheet is read"));
                    }
                }
                if (sheets == 0)
                {
                    result.Errors.Add(new("file", "the workbook has no visible sheet"));
                }
            }
            catch (Exception e) when (e is InvalidDataException or System.Xml.XmlException or OpenXmlPackageException or InvalidOperationException)
            {
                // A part larger than the limit, a cell beyond the last column, XML that does not parse: nothing is read.
                result.Observations.Clear();
                result.Errors.Add(new("file", $"the workbook cannot be read: {e.Message}"));
            }
        }
        return result;
    }

    /// <summary>Reads one sheet's rows; false when it has no header row (a sheet of notes, say).</summary>
    private static bool ReadSheet(string name, WorksheetPart part, List<string> strings, ObservationFile result)
    {
        Dictionary<string, int>? index = null;
        foreach (var row in part.Worksheet.Descendants<Row>())
        {
            var number = (int)(row.RowIndex?.Value ?? 0);
            var cells = Cells(row, strings);
            var place = $"sheet '{name}', row {number}";
            if (index is null)
            {
                if (number > HeaderRows)
                {
                    return false;
                }
                if (!cells.Values.Any(v => v.Trim().Equals("indicator_code", StringComparison.OrdinalIgnoreCase)))
                {
                    continue;
                }
                var width = cells.Keys.Max() + 1;
                var header = Enumerable.Range(0, width).Select(c => cells.GetValueOrDefault(c, "").Trim().ToLowerInvariant()).ToList();
                var errors = new List<Violation>();
                index = ObservationCsv.ReadHeader(header, place, errors, blankIgnored: true);
                result.Errors.AddRange(errors);
                if (errors.Count > 0)
                {
                    return true;
                }
                continue;
            }
            string? Cell(string column) => index.TryGetValue(column, out var c) ? cells.GetValueOrDefault(c, "") : null;
            if (cells.Values.All(v => v.Trim().Length == 0))
            {
                continue;
            }
            if ((Cell("value") ?? "").Trim().Length == 0)
            {
                result.Skipped++;
                continue;
            }
            result.Add(ObservationCsv.FromFields(Cell, place, result.Errors), number, place);
        }
        return index is not null;
    }

    /// <summary>A row's cells as text by column (0 is A): shared and inline strings, numbers as written, booleans as true/false.</summary>
    private static Dictionary<int, string> Cells(Row row, List<string> strings)
    {
        var cells = new Dictionary<int, string>();
        var next = 0;
        foreach (var cell in row.Elements<Cell>())
        {
            var column = cell.CellReference?.Value is { } reference ? ColumnIndex(reference) : next;
            if (column is < 0 or >= MaxColumns)
            {
                throw new InvalidDataException($"row {row.RowIndex?.Value}: cell reference '{cell.CellReference?.Value}' is beyond Excel's last column (XFD)");
            }
            next = column + 1;
            var raw = cell.CellValue?.Text ?? "";
            var type = cell.DataType?.Value;
            cells[column] = type == CellValues.SharedString
                ? int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < strings.Count ? strings[i] : ""
                : type == CellValues.InlineString ? cell.InlineString?.InnerText ?? ""
                : type == CellValues.Boolean ? (raw == "1" ? "true" : "false")
                : raw;
        }
        return cells;
    }

    /// <summary>The column of a reference such as "AB12": 27.</summary>
    private static int ColumnIndex(string reference)
    {
        var index = 0;
        foreach (var c in reference)
        {
            if (c is < 'A' or > 'Z' || index > MaxColumns)
            {
                break;
            }
            index = index * 26 + (c - 'A' + 1);
        }
        return index - 1;
    }
}
