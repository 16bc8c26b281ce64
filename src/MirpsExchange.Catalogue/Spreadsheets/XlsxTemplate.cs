using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using Mirps.Catalog.V1;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Spreadsheets;

/// <summary>
/// The Excel template a State fills in for one period: one sheet per indicator group of the catalogue (its Spanish name),
/// headers in Spanish (row 1) and English (row 2) from the catalogue's texts, the standard layout's column names in row 3
/// (what <see cref="ObservationXlsx"/> reads), and from row 4 one row per indicator of the group that accepts the period,
/// pre-filled with the State, the period and the headline cell (every declared dimension at its total or default), its
/// value left empty. Codes come from dropdowns (lists on a hidden sheet "listas"): the group's indicators, the State,
/// each dimension's codelist, the status, confidentiality and flags. Rows may be added below and copied for breakdowns.
/// </summary>
public static class XlsxTemplate
{
    /// <summary>The hidden sheet holding the dropdowns' lists.</summary>
    public const string ListsSheet = "listas";

    /// <summary>The first row of data (after the Spanish, English and column-name rows).</summary>
    public const int FirstDataRow = 4;

    /// <summary>How many rows the dropdowns cover.</summary>
    private const int LastRow = 5000;

    private static readonly string[] Statuses = ["NORMAL", "PROVISIONAL", "ESTIMATED"];
    private static readonly string[] Confidentialities = ["FREE", "NOT_FOR_PUBLICATION", "CONFIDENTIAL"];

    /// <summary>Writes the template of <paramref name="country"/> and <paramref name="period"/> to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, StandardCatalogue catalogue, string country, string period)
    {
        if (!catalogue.ReportingCountries.Contains(country))
        {
            throw new ArgumentException($"'{country}' is not a reporting State of catalogue {catalogue.Version} ({string.Join(", ", catalogue.ReportingCountries.Order())})", nameof(country));
        }
        if (!Period.TryParse(period, out var parsed))
        {
            throw new ArgumentException($"'{period}' is not a period: {Period.Format}", nameof(period));
        }
        var catalog = catalogue.Catalog;
        var groups = catalog.IndicatorGroups.Count > 0
            ? catalog.IndicatorGroups.Select(g => (g.Name, Indicators: catalog.Indicators.Where(i => i.GroupId == g.Id).ToList())).ToList()
            : [(new LocalizedText { Es = "Indicadores", En = "Indicators" }, catalog.Indicators.ToList())];

        using var document = SpreadsheetDocument.Create(stream, SpreadsheetDocumentType.Workbook);
        var workbook = document.AddWorkbookPart();
        workbook.Workbook = new Workbook();
        AddStyles(workbook);
        var sheets = workbook.Workbook.AppendChild(new Sheets());
        var lists = new Lists();
        uint sheetId = 1;
        foreach (var (name, indicators) in groups)
        {
            var columns = ColumnsOf(catalogue, indicators);
            var rows = new List<IReadOnlyList<string>>
            {
                columns.Select(c => Label(catalogue, c).Es).ToList(),
                columns.Select(c => Label(catalogue, c).En).ToList(),
                columns,
            };
            foreach (var indicator in indicators.Where(i => catalogue.FindIndicator(i.Code)?.Granularities.Contains(parsed.Granularity) == true))
            {
                var rule = catalogue.FindIndicator(indicator.Code)!;
                rows.Add(columns.Select(column => column switch
                {
                    "indicator_code" => indicator.Code,
                    "country" => country,
                    "period" => period,
                    _ => rule.Dimensions.FirstOrDefault(d => d.Field == column)?.HeadlineCode ?? "",
                }).ToList());
            }
            var validations = new List<DataValidation>();
            for (var c = 0; c < columns.Count; c++)
            {
                var range = $"{ColumnName(c)}{FirstDataRow}:{ColumnName(c)}{LastRow}";
                IReadOnlyList<string>? codes = columns[c] switch
                {
                    "indicator_code" => indicators.Select(i => i.Code).ToList(),
                    "country" => [country],
                    "status" => Statuses,
                    "confidentiality" => Confidentialities,
                    "lower_bound" or "synthetic" => ["true", "false"],
                    var field => DimensionCodes(catalogue, field),
                };
                if (codes is not null)
                {
                    validations.Add(ListValidation(range, lists.Range(columns[c] == "indicator_code" ? $"indicators:{name.Es}" : columns[c], codes)));
                }
                else if (columns[c] == "value")
                {
                    validations.Add(new DataValidation
                    {
                        Type = DataValidationValues.Decimal, Operator = DataValidationOperatorValues.GreaterThanOrEqual, SequenceOfReferences = new ListValue<StringValue> { InnerText = range },
                        AllowBlank = true, ShowErrorMessage = true, ErrorTitle = "Valor / Value",
                        Error = "Un número mayor o igual a 0, con punto decimal. / A number of 0 or more, with a decimal point.",
                        Formula1 = new Formula1("0"),
                    });
                }
            }
            AddSheet(workbook, sheets, sheetId++, SheetName(name.Es), rows, columns.Count, validations, hidden: false);
        }
        AddSheet(workbook, sheets, sheetId, ListsSheet, lists.Rows(), lists.Count, [], hidden: true);
        workbook.Workbook.Save();
    }

    /// <summary>The standard layout's columns a group's sheet has: its indicators' dimensions, in the catalogue's order.</summary>
    private static List<string> ColumnsOf(StandardCatalogue catalogue, List<Indicator> indicators)
    {
        var declared = indicators.SelectMany(i => i.DimensionIds).ToHashSet(StringComparer.Ordinal);
        var dimensions = StandardCatalogue.ObservationDimensions.Where(declared.Contains).Select(StandardCatalogue.FieldOf);
        return ["indicator_code", "country", "period", .. dimensions, "value", "status", .. ObservationCsv.AttributeColumns.Where(a => catalogue.Catalog.Attributes.Count > 0), "note"];
    }

    private static LocalizedText Label(StandardCatalogue catalogue, string column)
    {
        var attribute = StandardCatalogue.ObservationAttributes.FirstOrDefault(a => a.Value == column).Key;
        return column switch
        {
            "indicator_code" => new() { Es = "Indicador", En = "Indicator" },
            "country" => new() { Es = "País que informa", En = "Reporting country" },
            "period" => new() { Es = "Período", En = "Period" },
            "value" => new() { Es = "Valor", En = "Value" },
            "note" => new() { Es = "Nota", En = "Note" },
            _ when attribute is not null && catalogue.Catalog.Attributes.FirstOrDefault(a => a.Id == attribute) is { } declared => declared.Name,
            "status" => new() { Es = "Estado de la observación", En = "Observation status" },
            _ => catalogue.Catalog.Dimensions.FirstOrDefault(d => StandardCatalogue.FieldOf(d.Id) == column)?.Name ?? new() { Es = column, En = column },
        };
    }

    /// <summary>A dimension column's codes in its codelist's order; null for a column that is not a dimension.</summary>
    private static List<string>? DimensionCodes(StandardCatalogue catalogue, string field)
    {
        var dimension = catalogue.Catalog.Dimensions.FirstOrDefault(d => StandardCatalogue.FieldOf(d.Id) == field);
        return dimension is null ? null : catalogue.Catalog.Codelists.First(l => l.Id == dimension.CodelistId).Codes.Select(c => c.Id).ToList();
    }

    /// <summary>
    /// A workbook of one sheet holding a table: <paramref name="header"/> (bold, kept in view) then <paramref name="rows"/>,
    /// every cell text, in the template's styles (an export's columns, for people who open it in Excel).
    /// </summary>
    public static void WriteTable(Stream stream, string sheetName, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        using var document = SpreadsheetDocument.Create(stream, SpreadsheetDocumentType.Workbook);
        var workbook = document.AddWorkbookPart();
        workbook.Workbook = new Workbook();
        AddStyles(workbook);
        var sheets = workbook.Workbook.AppendChild(new Sheets());
        AddSheet(workbook, sheets, 1, SheetName(sheetName), [header, .. rows], header.Count, [], hidden: false, headerRows: 1);
        workbook.Workbook.Save();
    }

    /// <summary>A sheet name Excel accepts: at most 31 characters, none of : \ / ? * [ ].</summary>
    private static string SheetName(string name)
    {
        var clean = new string([.. name.Select(c => ":\\/?*[]".Contains(c) ? ' ' : c)]).Trim();
        return clean.Length <= 31 ? clean : clean[..31];
    }

    private static DataValidation ListValidation(string range, string source) => new()
    {
        Type = DataValidationValues.List, SequenceOfReferences = new ListValue<StringValue> { InnerText = range },
        AllowBlank = true, ShowErrorMessage = true, ErrorTitle = "Código / Code",
        Error = "Elija un código de la lista. / Pick a code from the list.",
        Formula1 = new Formula1(source),
    };

    private static void AddSheet(WorkbookPart workbook, Sheets sheets, uint id, string name, List<IReadOnlyList<string>> rows, int width, List<DataValidation> validations, bool hidden,
        int headerRows = FirstDataRow - 1)
    {
        var part = workbook.AddNewPart<WorksheetPart>();
        var data = new SheetData();
        for (var r = 0; r < rows.Count; r++)
        {
            var row = new Row { RowIndex = (uint)(r + 1) };
            for (var c = 0; c < rows[r].Count; c++)
            {
                if (rows[r][c].Length > 0)
                {
                    row.Append(new Cell
                    {
                        CellReference = $"{ColumnName(c)}{r + 1}",
                        DataType = CellValues.InlineString,
                        InlineString = new InlineString(new Text(rows[r][c])),
                        // The template's Spanish and English rows bold, its column names italic; a table's one header row bold.
                        StyleIndex = hidden ? 0u : r < Math.Min(headerRows, 2) ? 1u : r < headerRows ? 2u : 3u,
                    });
                }
            }
            data.Append(row);
        }
        var worksheet = new Worksheet();
        if (!hidden)
        {
            // The three header rows stay in view.
            worksheet.Append(new SheetViews(new SheetView(new Pane
            {
                VerticalSplit = headerRows, TopLeftCell = $"A{headerRows + 1}", ActivePane = PaneValues.BottomLeft, State = PaneStateValues.Frozen,
            }) { WorkbookViewId = 0 }));
            // Every column is text (codes such as "2023-01" must not turn into dates) but the value.
            worksheet.Append(new Columns(Enumerable.Range(1, width).Select(c => new Column { Min = (uint)c, Max = (uint)c, Width = 22, CustomWidth = true, Style = 3 })));
        }
        worksheet.Append(data);
        if (validations.Count > 0)
        {
            worksheet.Append(new DataValidations(validations) { Count = (uint)validations.Count });
        }
        part.Worksheet = worksheet;
        sheets.Append(new Sheet { Id = workbook.GetIdOfPart(part), SheetId = id, Name = name, State = hidden ? SheetStateValues.Hidden : null });
    }

    private static void AddStyles(WorkbookPart workbook)
    {
        var styles = workbook.AddNewPart<WorkbookStylesPart>();
        styles.Stylesheet = new Stylesheet(
            new Fonts(new Font(), new Font(new Bold()), new Font(new Italic(), new Color { Rgb = "FF595959" })) { Count = 3 },
            new Fills(new Fill(new PatternFill { PatternType = PatternValues.None }), new Fill(new PatternFill { PatternType = PatternValues.Gray125 })) { Count = 2 },
            new Borders(new Border()) { Count = 1 },
            new CellFormats(
                new CellFormat(),
                new CellFormat { FontId = 1, NumberFormatId = 49, ApplyFont = true, ApplyNumberFormat = true },
                new CellFormat { FontId = 2, NumberFormatId = 49, ApplyFont = true, ApplyNumberFormat = true },
                new CellFormat { NumberFormatId = 49, ApplyNumberFormat = true }) { Count = 4 });
    }

    /// <summary>A column's letters: 0 is A, 26 is AA.</summary>
    internal static string ColumnName(int index)
    {
        var name = "";
        for (var n = index + 1; n > 0; n = (n - 1) / 26)
        {
            name = (char)('A' + (n - 1) % 26) + name;
        }
        return name;
    }

    /// <summary>The dropdowns' lists, one column each on the hidden sheet, each written once.</summary>
    private sealed class Lists
    {
        private readonly List<(string Key, IReadOnlyList<string> Codes)> _columns = [];

        public int Count => _columns.Count;

        /// <summary>The absolute reference of <paramref name="key"/>'s list (added when new).</summary>
        public string Range(string key, IReadOnlyList<string> codes)
        {
            var index = _columns.FindIndex(c => c.Key == key);
            if (index < 0)
            {
                index = _columns.Count;
                _columns.Add((key, codes));
            }
            var column = ColumnName(index);
            return $"{ListsSheet}!${column}$2:${column}${codes.Count + 1}";
        }

        public List<IReadOnlyList<string>> Rows()
        {
            var height = _columns.Count == 0 ? 0 : _columns.Max(c => c.Codes.Count);
            var rows = new List<IReadOnlyList<string>> { _columns.Select(c => c.Key).ToList() };
            for (var r = 0; r < height; r++)
            {
                rows.Add(_columns.Select(c => r < c.Codes.Count ? c.Codes[r] : "").ToList());
            }
            return rows;
        }
    }
}
