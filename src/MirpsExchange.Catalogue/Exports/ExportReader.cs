using System.Globalization;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// Reads an export back into rows, whichever format and labels it was written with: a first header
/// cell <c>STRUCTURE</c> means SDMX-CSV, anything else plain CSV. Labels are dropped (label columns in
/// plain CSV; the <c>: Name</c> after a code in SDMX-CSV), <c>_Z</c> becomes an empty dimension and an
/// empty value a withheld one. The quote <see cref="SpreadsheetFormula.Neutralize"/> puts before a text
/// a spreadsheet would run as a formula is dropped from every cell, so texts read back exactly. Rows come one at a time as the file is read; the first problem stops
/// the reading with an <see cref="ExportFormatException"/> naming its line and column.
/// </summary>
public static class ExportReader
{
    private static readonly string[] SdmxRequired =
        [SdmxCsv.StructureColumn, SdmxCsv.StructureIdColumn, SdmxCsv.IndicatorDimension, SdmxCsv.ReferenceAreaDimension, SdmxCsv.TimePeriodDimension, SdmxCsv.ValueMeasure];

    private static readonly string[] SdmxDimensions =
        [StandardCatalogue.SexDimension, StandardCatalogue.AgeDimension, StandardCatalogue.CountryOfOriginDimension];

    private static readonly string[] StructureTypes = [SdmxCsv.DataflowStructure, "datastructure", "dataprovision"];

    public static IEnumerable<ExportRow> Read(TextReader reader) => ReadNumbered(reader).Select(r => r.Row);

    /// <summary>Each row with the line it was read from (the line of its record's first character).</summary>
    public static IEnumerable<(ExportRow Row, int Line)> ReadNumbered(TextReader reader) => ReadNumbered(Records(reader));

    /// <summary>
    /// A CSV file's records as written, each with its first line: a table of cells (a download that holds no figures, the completeness
    /// table), read by the same rules as an export. A cell keeps the quote <see cref="SpreadsheetFormula.Neutralize"/> may have put before it,
    /// and must be in the form the writer writes (<see cref="SpreadsheetFormula.IsWrittenForm"/>): a text that would run as a formula without
    /// its quote is refused, naming its line and field, for it reads back as the signed text but runs when the file is opened.
    /// </summary>
    public static IEnumerable<(List<string> Fields, int Line)> Table(TextReader reader)
    {
        List<string>? header = null;
        foreach (var record in Records(reader))
        {
            if (record.UnclosedQuoteLine is { } quoteLine)
            {
                throw new ExportFormatException(quoteLine, record.Fields.Count, "", "a quoted field starts here but its closing quote is missing (a quote inside a quoted field is written twice: \"\")");
            }
            header ??= record.Fields;
            if (record.Fields.FindIndex(f => !SpreadsheetFormula.IsWrittenForm(f)) is var i and >= 0)
            {
                throw new ExportFormatException(record.Line, i + 1, i < header.Count ? header[i].TrimStart('\uFEFF') : "",
                    $"'{record.Fields[i]}' would run as a spreadsheet formula: the download writes such a text with a quote before it ('), and this file lacks it");
            }
            yield return (record.Fields, record.Line);
        }
    }

    /// <summary>
    /// Rows of a table read cell by cell (an xlsx sheet, <see cref="Spreadsheets.ObservationXlsx.ReadTable"/>): each record's cells and its
    /// row number, the header first; read as a CSV file's records are, the row number standing for the line.
    /// </summary>
    public static IEnumerable<(ExportRow Row, int Line)> ReadNumbered(IEnumerable<(List<string> Fields, int Line)> records) =>
        ReadNumbered(records.Select(r => (r.Fields, r.Line, (int?)null)));

    private static IEnumerable<(List<string> Fields, int Line, int? UnclosedQuoteLine)> Records(TextReader reader)
    {
        var lineNumber = 0;
        while (ObservationCsv.ReadRecord(reader, ref lineNumber) is { } record)
        {
            yield return record;
        }
    }

    private static IEnumerable<(ExportRow Row, int Line)> ReadNumbered(IEnumerable<(List<string> Fields, int Line, int? UnclosedQuoteLine)> records)
    {
        using var each = records.GetEnumerator();
        if (!each.MoveNext())
        {
            throw new ExportFormatException(1, 0, "", "the file is empty; an export starts with its header row");
        }
        var first = each.Current;
        var header = Fields(first);
        header[0] = header[0].TrimStart('\uFEFF');
        var table = header[0].StartsWith(SdmxCsv.StructureColumn, StringComparison.Ordinal) ? SdmxTable(header, first.Line)
            : header[0] == SdmxCsv.DataflowColumn ? SdmxTable(header, first.Line, version1: true)
            : CsvTable(header, first.Line);
        while (each.MoveNext())
        {
            var record = each.Current;
            var fields = Fields(record);
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue; // a blank line
            }
            if (fields.Count != header.Count)
            {
                throw new ExportFormatException(record.Line, Math.Min(fields.Count, header.Count) + 1, "",
                    $"{fields.Count} fields where the header has {header.Count}");
            }
            yield return (table(fields, record.Line), record.Line);
        }
    }

    /// <summary>Reads a whole export held in a string (tests, small files).</summary>
    public static List<ExportRow> Read(string text) => [.. Read(new StringReader(text))];

    /// <summary>The record's cells, each as the writer had it before <see cref="SpreadsheetFormula.Neutralize"/>.</summary>
    private static List<string> Fields((List<string> Fields, int Line, int? UnclosedQuoteLine) record) =>
        record.UnclosedQuoteLine is { } quoteLine
            ? throw new ExportFormatException(quoteLine, record.Fields.Count, "",
                "a quoted field starts here but its closing quote is missing (a quote inside a quoted field is written twice: \"\")")
            : record.Fields.ConvertAll(SpreadsheetFormula.Restore);

    /// <summary>Plain CSV: the import columns in any order, label columns beside them ignored.</summary>
    private static Func<List<string>, int, ExportRow> CsvTable(List<string> header, int line)
    {
        var index = Index(header, line, name => name.Trim().ToLowerInvariant(), (i, name) =>
            ObservationCsv.Columns.Contains(name) ? name
            : ObservationCsv.Columns.Any(c => ExportWriter.CsvLabelColumn(c) == name) ? null
            : throw new ExportFormatException(line, i + 1, name,
                $"unknown column (columns: {string.Join(",", ObservationCsv.Columns)}, each coded one optionally followed by its *_label column)"));
        Require(index, ObservationCsv.Required, line);
        return (fields, row) =>
        {
            var cells = new Cells(fields, index, row, header);
            return new ExportRow(
                cells.Code("indicator_code"),
                cells.Code("country"),
                cells.Period("period"),
                cells.Code("sex"),
                cells.Code("age"),
                cells.Code("country_of_origin"),
                cells.Value("value"),
                cells.Status("status", ObservationCsv.TryParseStatus, "NORMAL, PROVISIONAL, ESTIMATED, CONFIDENTIAL, or empty for NORMAL"),
                cells.Text("note"),
                new AddedDimensions(cells.Code("application_type"), cells.Code("decision_level"), cells.Code("procedure_type"), cells.Code("count_basis"), cells.Code("country_of_destination")),
                new ValueAttributes(cells.Flag("lower_bound"),
                    cells.Confidentiality("confidentiality", ObservationCsv.TryParseConfidentiality, "FREE, NOT_FOR_PUBLICATION, CONFIDENTIAL or empty"),
                    cells.Flag("synthetic")));
        };
    }

    /// <summary>SDMX-CSV 2.0: components in any order, with or without labels; action I, A or R. 1.0.0 (<paramref name="version1"/>): DATAFLOW, then the components.</summary>
    private static Func<List<string>, int, ExportRow> SdmxTable(List<string> header, int line, bool version1 = false)
    {
        if (!version1 && header[0] != SdmxCsv.StructureColumn && !(header[0].StartsWith(SdmxCsv.StructureColumn + "[", StringComparison.Ordinal) && header[0].EndsWith(']')))
        {
            throw new ExportFormatException(line, 1, header[0],
                $"the first header cell must be {SdmxCsv.StructureColumn}; only the comma is read as separator");
        }
        var labelled = header.Any(h => h.Contains(SdmxCsv.LabelSeparator, StringComparison.Ordinal));
        var known = new HashSet<string>([SdmxCsv.StructureIdColumn, SdmxCsv.ActionColumn, .. SdmxCsv.Components], StringComparer.Ordinal);
        var index = Index(header, line, Id, (i, name) =>
            i == 0 ? (version1 ? SdmxCsv.DataflowColumn : SdmxCsv.StructureColumn)
            : known.Contains(name) ? name
            : throw new ExportFormatException(line, i + 1, name,
                $"unknown column (columns: {SdmxCsv.StructureColumn},{SdmxCsv.StructureIdColumn},{SdmxCsv.ActionColumn},{string.Join(",", SdmxCsv.Components)})"));
        Require(index, version1 ? [SdmxCsv.DataflowColumn, .. SdmxRequired.Skip(2)] : SdmxRequired, line);
        return (fields, row) =>
        {
            var cells = new Cells(fields, index, row, header, labelled);
            var structure = version1 ? SdmxCsv.DataflowStructure : cells.Code(SdmxCsv.StructureColumn);
            if (!StructureTypes.Contains(structure))
            {
                cells.Fail<string>(SdmxCsv.StructureColumn, $"'{structure}' is not a structure type ({string.Join(", ", StructureTypes)})");
            }
            var structureColumn = version1 ? SdmxCsv.DataflowColumn : SdmxCsv.StructureIdColumn;
            if (cells.Code(structureColumn).Length == 0)
            {
                cells.Fail<string>(structureColumn, "the structure id (AGENCY:ID(VERSION)) is missing");
            }
            var action = index.ContainsKey(SdmxCsv.ActionColumn) ? cells.Code(SdmxCsv.ActionColumn) : SdmxCsv.InformationAction;
            if (action is not ("I" or "A" or "R"))
            {
                cells.Fail<string>(SdmxCsv.ActionColumn, action == "D"
                    ? "a deletion (D) carries no observation to read"
                    : $"'{action}' is not an action (I, A, R or D)");
            }
            string Dimension(string id)
            {
                if (!index.ContainsKey(id))
                {
                    return "";
                }
                var code = cells.Code(id);
                return code == SdmxCsv.NotApplicable ? ""
                    : code.Length > 0 ? code
                    : cells.Fail<string>(id, $"the dimension is empty; a dimension the indicator does not declare is {SdmxCsv.NotApplicable}");
            }
            var added = AddedDimensions.DimensionIds.Select(Dimension).ToArray();
            return new ExportRow(
                cells.Required(SdmxCsv.IndicatorDimension),
                cells.Required(SdmxCsv.ReferenceAreaDimension),
                cells.Period(SdmxCsv.TimePeriodDimension),
                Dimension(StandardCatalogue.SexDimension),
                Dimension(StandardCatalogue.AgeDimension),
                Dimension(StandardCatalogue.CountryOfOriginDimension),
                cells.Value(SdmxCsv.ValueMeasure),
                cells.Status(SdmxCsv.StatusAttribute, SdmxCsv.TryParseStatusCode, "A, P, E, C, or empty for A"),
                cells.Text(SdmxCsv.CommentAttribute),
                new AddedDimensions(added[0], added[1], added[2], added[3], added[4]),
                new ValueAttributes(cells.Flag(SdmxCsv.LowerBoundAttribute),
                    cells.Confidentiality(SdmxCsv.ConfidentialityAttribute, SdmxCsv.TryParseConfidentialityCode, "F, N, C or empty"),
                    cells.Flag(SdmxCsv.SyntheticAttribute)));
        };
    }

    /// <summary>A header cell's component id: the text before <c>": "</c> when the cell carries a label.</summary>
    private static string Id(string cell)
    {
        var separator = cell.IndexOf(SdmxCsv.LabelSeparator, StringComparison.Ordinal);
        return (separator < 0 ? cell : cell[..separator]).Trim();
    }

    /// <summary>Maps each known column to its position; <paramref name="known"/> returns null for a column to ignore and throws for an unknown one.</summary>
    private static Dictionary<string, int> Index(List<string> header, int line, Func<string, string> normalize, Func<int, string, string?> known)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < header.Count; i++)
        {
            if (known(i, normalize(header[i])) is { } name && !index.TryAdd(name, i))
            {
                throw new ExportFormatException(line, i + 1, name, "the column appears twice");
            }
        }
        return index;
    }

    private static void Require(Dictionary<string, int> index, IEnumerable<string> required, int line)
    {
        if (required.FirstOrDefault(c => !index.ContainsKey(c)) is { } missing)
        {
            throw new ExportFormatException(line, 0, missing, "the required column is missing");
        }
    }

    /// <summary>The cells of one row, read by column name, each problem reported with line and column.</summary>
    private readonly struct Cells(List<string> fields, Dictionary<string, int> index, int line, List<string> header, bool labelled = false)
    {
        /// <summary>A code, without the label a labelled SDMX-CSV file puts after it.</summary>
        public string Code(string column)
        {
            if (!index.TryGetValue(column, out var i))
            {
                return "";
            }
            var cell = fields[i].Trim();
            return labelled ? Id(cell) : cell;
        }

        public string Required(string column) =>
            Code(column) is { Length: > 0 } code ? code : Fail<string>(column, "the code is missing");

        /// <summary>Free text, exactly as written (spaces are part of a field in RFC 4180).</summary>
        public string Text(string column) => index.TryGetValue(column, out var i) ? fields[i] : "";

        public string Period(string column)
        {
            var text = fields[index[column]].Trim();
            return Periods.Period.TryParse(text, out _) ? text : Fail<string>(column, $"'{text}' is not {Periods.Period.Format}");
        }

        public double? Value(string column)
        {
            var text = fields[index[column]].Trim();
            if (text.Length == 0)
            {
                return null;
            }
            return double.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
                ? value
                : Fail<double?>(column, $"'{text}' is not a number (a dot for decimals, no thousands separator, empty when withheld)");
        }

        public delegate bool StatusParser(string text, out ObservationStatus status);

        public ObservationStatus Status(string column, StatusParser parse, string expected)
        {
            var code = Code(column);
            return parse(code, out var status) ? status : Fail<ObservationStatus>(column, $"'{code}' is not a status ({expected})");
        }

        /// <summary>A flag attribute: <c>true</c>, <c>false</c> or empty (false); false when the column is absent.</summary>
        public bool Flag(string column) =>
            ObservationCsv.TryParseFlag(Code(column), out var flag) ? flag : Fail<bool>(column, $"'{Code(column)}' is not true, false or empty (false)");

        public delegate bool ConfidentialityParser(string text, out ConfidentialityStatus confidentiality);

        public ConfidentialityStatus Confidentiality(string column, ConfidentialityParser parse, string expected) =>
            parse(Code(column), out var confidentiality) ? confidentiality : Fail<ConfidentialityStatus>(column, $"'{Code(column)}' is not a confidentiality ({expected})");

        /// <summary>Throws; typed so that it can stand where a cell's value is expected.</summary>
        public T Fail<T>(string column, string message)
        {
            var i = index[column];
            throw new ExportFormatException(line, i + 1, Id(header[i]), message);
        }
    }
}

/// <summary>An export file that cannot be read: the line (1-based), the column (1-based, 0 for the whole row) and its name.</summary>
public sealed class ExportFormatException(int line, int column, string columnName, string reason)
    : FormatException(column == 0 && columnName.Length == 0 ? $"line {line}: {reason}"
        : columnName.Length == 0 ? $"line {line}, column {column}: {reason}"
        : column == 0 ? $"line {line}, column {columnName}: {reason}"
        : $"line {line}, column {column} ({columnName}): {reason}")
{
    public int Line { get; } = line;
    public int Column { get; } = column;
    public string ColumnName { get; } = columnName;
    public string Reason { get; } = reason;
}
