using System.Globalization;
using DocumentFormat.OpenXml;
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
/// A small file must not make the reader spend much memory or time: before parsing, the zip directory's parts and their
/// total unpacked size (<see cref="MaxUnpackedBytes"/>) and the number of sheets (<see cref="MaxSheets"/>) are checked;
/// sheets and shared strings are streamed (one row in memory at a time, never a sheet's tree), and reading stops at
/// the caller's observation limit.
/// </summary>
public static class ObservationXlsx
{
    /// <summary>The rows a sheet's header may be on.</summary>
    private const int HeaderRows = 10;

    /// <summary>A workbook's parts may not unpack beyond this (a small file that expands to gigabytes is refused).</summary>
    private const long MaxCharactersInPart = 32L * 1024 * 1024;

    /// <summary>Excel's last column (XFD): a reference beyond it is refused, not allocated for.</summary>
    private const int MaxColumns = 16_384;

    /// <summary>The most a workbook may unpack to, over all its parts, as its zip directory declares (which the unzipping holds each part to).</summary>
    public const long MaxUnpackedBytes = 64L * 1024 * 1024;

    /// <summary>The most parts (zip entries) a workbook may hold.</summary>
    public const int MaxParts = 1_000;

    /// <summary>The most sheets a workbook may list (the template has five).</summary>
    public const int MaxSheets = 64;

    /// <summary>Reads every observation of the workbook; over <paramref name="maxObservations"/>, reading stops with an error naming the limit.</summary>
    public static ObservationFile Read(Stream stream, int maxObservations = int.MaxValue)
    {
        var result = new ObservationFile();
        stream = Seekable(stream);
        if (PackageRefusal(stream) is { } refusal)
        {
            result.Errors.Add(new("file", refusal.English, refusal.Spanish));
            return result;
        }
        SpreadsheetDocument document;
        try
        {
            document = SpreadsheetDocument.Open(stream, false, new OpenSettings { MaxCharactersInPart = MaxCharactersInPart });
        }
        catch (Exception e) when (e is DocumentFormat.OpenXml.Packaging.OpenXmlPackageException or InvalidDataException or System.IO.FileFormatException or System.Xml.XmlException)
        {
            result.Errors.Add(new("file", $"not an xlsx workbook: {e.Message}", $"no es un libro xlsx: {e.Message}"));
            return result;
        }
        using (document)
        {
            try
            {
                var workbook = document.WorkbookPart;
                var listed = workbook is null ? [] : Elements<Sheet>(workbook).Take(MaxSheets + 1).ToList();
                if (listed.Count > MaxSheets)
                {
                    result.Errors.Add(new("file", $"the workbook lists more than {MaxSheets} sheets, the limit; nothing was read", $"el libro tiene más de {MaxSheets} hojas, el límite; no se leyó nada"));
                    return result;
                }
                var strings = workbook?.SharedStringTablePart is { } stringsPart ? Elements<SharedStringItem>(stringsPart).Select(i => i.InnerText).ToList() : [];
                var sheets = 0;
                foreach (var sheet in listed)
                {
                    if (sheet.State is not null && sheet.State.Value != SheetStateValues.Visible || sheet.Id?.Value is not { } id
                        || workbook!.GetPartById(id) is not WorksheetPart part)
                    {
                        continue; // the template's hidden lists, a chart sheet
                    }
                    sheets++;
                    var outcome = ReadSheet(sheet.Name?.Value ?? "", part, strings, result, maxObservations);
                    if (outcome == SheetOutcome.Full)
                    {
                        break;
                    }
                    if (outcome == SheetOutcome.NoHeader)
                    {
                        // Its rows would be lost unread: say so (a sheet of notes can be hidden).
                        result.Errors.Add(new($"sheet '{sheet.Name?.Value}'", $"no header row: none of its first {HeaderRows} rows holds the standard layout's column names ({string.Join(",", ObservationCsv.Columns)}); every visible sheet is read",
                            $"sin fila de encabezado: ninguna de sus primeras {HeaderRows} filas tiene los nombres de columna del formato estándar ({string.Join(",", ObservationCsv.Columns)}); se leen todas las hojas visibles"));
                    }
                }
                if (sheets == 0)
                {
                    result.Errors.Add(new("file", "the workbook has no visible sheet", "el libro no tiene ninguna hoja visible"));
                }
            }
            catch (Exception e) when (e is InvalidDataException or System.Xml.XmlException or OpenXmlPackageException or InvalidOperationException)
            {
                // A part larger than the limit, a cell beyond the last column, XML that does not parse: nothing is read.
                result.Observations.Clear();
                result.Errors.Add(new("file", $"the workbook cannot be read: {e.Message}", $"no se puede leer el libro: {e.Message}"));
            }
        }
        return result;
    }

    /// <summary>
    /// The first visible sheet of a workbook read as a table (an export's xlsx download, <see cref="XlsxTemplate.WriteTable"/>): its name and,
    /// row by row, each row's number and its cells as text from column A to its last cell, blank rows left out. Read with the same limits
    /// as an upload (parts, unpacked size, sheets; streamed). Throws <see cref="InvalidDataException"/> naming what cannot be read.
    /// </summary>
    public static (string Sheet, List<(List<string> Fields, int Line)> Rows) ReadTable(Stream stream)
    {
        stream = Seekable(stream);
        if (PackageRefusal(stream) is { } refusal)
        {
            throw new InvalidDataException(refusal.English);
        }
        try
        {
            using var document = SpreadsheetDocument.Open(stream, false, new OpenSettings { MaxCharactersInPart = MaxCharactersInPart });
            var workbook = document.WorkbookPart ?? throw new InvalidDataException("the workbook has no sheet");
            var listed = Elements<Sheet>(workbook).Take(MaxSheets + 1).ToList();
            if (listed.Count > MaxSheets)
            {
                throw new InvalidDataException($"the workbook lists more than {MaxSheets} sheets, the limit");
            }
            var sheet = listed.FirstOrDefault(s => (s.State is null || s.State.Value == SheetStateValues.Visible) && s.Id?.Value is { } id && workbook.GetPartById(id) is WorksheetPart)
                ?? throw new InvalidDataException("the workbook has no visible sheet");
            var strings = workbook.SharedStringTablePart is { } stringsPart ? Elements<SharedStringItem>(stringsPart).Select(i => i.InnerText).ToList() : [];
            var rows = new List<(List<string> Fields, int Line)>();
            foreach (var (number, cells, _) in Rows((WorksheetPart)workbook.GetPartById(sheet.Id!.Value!)))
            {
                var text = Cells(number, cells, strings);
                if (text.Values.All(v => v.Length == 0))
                {
                    continue;
                }
                rows.Add(([.. Enumerable.Range(0, text.Keys.Max() + 1).Select(c => text.GetValueOrDefault(c, ""))], (int)(number ?? (uint)rows.Count + 1)));
            }
            // A row's trailing empty cells are not written: each row is as wide as the header.
            var width = rows.Count > 0 ? rows[0].Fields.Count : 0;
            foreach (var (fields, _) in rows.Where(r => r.Fields.Count < width))
            {
                fields.AddRange(Enumerable.Repeat("", width - fields.Count));
            }
            var name = sheet.Name?.Value ?? "";
            if (WrittenFormDifference(document, name, rows) is { } difference)
            {
                throw new InvalidDataException($"{difference}: not as the download writes it; what Excel shows would not be what is read, so nothing was read");
            }
            return (name, rows);
        }
        catch (Exception e) when (e is OpenXmlPackageException or System.IO.FileFormatException or System.Xml.XmlException or InvalidOperationException)
        {
            throw new InvalidDataException($"not a readable xlsx workbook: {e.Message}", e);
        }
    }

    /// <summary>
    /// Where <paramref name="document"/> is not the workbook <see cref="XlsxTemplate.WriteTable"/> writes for the rows read from it, or null. The rows
    /// are written again by that writer and the two packages compared part by part: the same parts, no external relationship, the workbook and the
    /// styles alike (relationship ids aside), and the sheet alike row by row and cell by cell. Any formula (its cached value is what was read, not what
    /// Excel shows), style or number format, hidden row or column, second sheet or active tab is a difference, named by its sheet and cell, row or part.
    /// </summary>
    private static string? WrittenFormDifference(SpreadsheetDocument document, string sheetName, List<(List<string> Fields, int Line)> rows)
    {
        using var written = new MemoryStream();
        XlsxTemplate.WriteTable(written, sheetName, rows.Count > 0 ? rows[0].Fields : [], rows.Skip(1).Select(r => (IReadOnlyList<string>)r.Fields));
        written.Position = 0;
        using var expected = SpreadsheetDocument.Open(written, false);
        var actualParts = document.GetAllParts().ToDictionary(p => p.Uri.OriginalString, StringComparer.Ordinal);
        var expectedParts = expected.GetAllParts().ToDictionary(p => p.Uri.OriginalString, StringComparer.Ordinal);
        var workbook = document.WorkbookPart!;
        string NameOf(OpenXmlPart part) => part is WorksheetPart sheetPart && Elements<Sheet>(workbook).FirstOrDefault(s => s.Id?.Value is { } id
            && workbook.TryGetPartById(id, out var p) && p == sheetPart)?.Name?.Value is { } name ? $"sheet '{name}'" : $"part {part.Uri}";
        if (actualParts.Keys.Except(expectedParts.Keys).Order(StringComparer.Ordinal).FirstOrDefault() is { } extra)
        {
            return $"{NameOf(actualParts[extra])}: the workbook holds it, which the download never writes (it writes one sheet)";
        }
        if (expectedParts.Keys.Except(actualParts.Keys).Order(StringComparer.Ordinal).FirstOrDefault() is { } missing)
        {
            return $"part {missing}: the download writes it, the workbook lacks it";
        }
        // The sheet first: a cell is named where a person finds it, before the styles or workbook part it points into.
        foreach (var (uri, part) in actualParts.OrderBy(p => p.Value is WorksheetPart ? 0 : 1).ThenBy(p => p.Key, StringComparer.Ordinal))
        {
            var other = expectedParts[uri];
            if (part.ContentType != other.ContentType || part.ExternalRelationships.Any() || part.HyperlinkRelationships.Any() || part.DataPartReferenceRelationships.Any())
            {
                return $"part {uri}: its content type or relationships are not the download's";
            }
            if (part is WorksheetPart sheet)
            {
                if (SheetDifference(sheet, (WorksheetPart)other) is { } place)
                {
                    return $"sheet '{sheetName}', {place}";
                }
            }
            else if (Normalized(part) != Normalized(other))
            {
                return part is WorkbookPart ? $"part {uri} (the workbook: its sheets, views, active tab or calculation)" : $"part {uri}";
            }
        }
        return null;
    }

    /// <summary>A part's XML with each relationship id replaced by the part it names, so two packages written apart compare alike.</summary>
    private static string Normalized(OpenXmlPart part)
    {
        var xml = part.RootElement?.OuterXml ?? "";
        foreach (var child in part.Parts)
        {
            xml = xml.Replace($"\"{child.RelationshipId}\"", $"\"{child.OpenXmlPart.Uri}\"", StringComparison.Ordinal);
        }
        return xml;
    }

    /// <summary>Where a sheet differs from the one written (its row or cell, or what lies outside its rows: columns, views), or null; streamed.</summary>
    private static string? SheetDifference(WorksheetPart actual, WorksheetPart expected)
    {
        using (var actualRows = Rows(actual).GetEnumerator())
        using (var expectedRows = Rows(expected).GetEnumerator())
        {
            while (true)
            {
                var more = actualRows.MoveNext();
                if (more != expectedRows.MoveNext())
                {
                    return more ? $"row {actualRows.Current.Number}: a row the download does not write (blank, or beyond the rows read)" : "a row the download writes is missing";
                }
                if (!more)
                {
                    break;
                }
                var (number, cells, attributes) = actualRows.Current;
                if (number != expectedRows.Current.Number || attributes != expectedRows.Current.Attributes)
                {
                    return $"row {number}: its attributes ({attributes}) are not the download's (a hidden row, a height, an outline)";
                }
                var written = expectedRows.Current.Cells;
                for (var i = 0; i < Math.Max(cells.Count, written.Count); i++)
                {
                    var cell = i < cells.Count ? cells[i] : null;
                    if (cell?.OuterXml != written.ElementAtOrDefault(i)?.OuterXml)
                    {
                        var reference = cell?.CellReference?.Value ?? written[i].CellReference?.Value;
                        return $"cell {reference}: " + (cell?.CellFormula is not null ? "a formula (Excel shows what it computes, not the value read)"
                            : cell is not null && cell.DataType?.Value != CellValues.InlineString ? "a number or shared text, not an inline string as the download writes its cells"
                            : cell?.StyleIndex?.Value != written.ElementAtOrDefault(i)?.StyleIndex?.Value ? "a style or number format the download does not write"
                            : "not the cell the download writes there");
                    }
                }
            }
        }
        return Outside(actual).SequenceEqual(Outside(expected)) ? null : "its columns, views or other settings (a hidden column, say) are not the download's";
    }

    /// <summary>A sheet's settings outside its rows: the worksheet's attributes and each element beside its sheet data, as XML; streamed.</summary>
    private static List<string> Outside(WorksheetPart part)
    {
        var found = new List<string>();
        using var reader = OpenXmlReader.Create(part);
        var more = reader.Read();
        while (more)
        {
            if (reader.IsStartElement && reader.Depth == 0)
            {
                found.Add(string.Join(" ", reader.Attributes.Select(a => $"{a.NamespaceUri}:{a.LocalName}={a.Value}")));
                more = reader.Read();
            }
            else if (reader.IsStartElement && reader.Depth == 1 && reader.ElementType != typeof(SheetData))
            {
                found.Add(reader.LoadCurrentElement()!.OuterXml);
                more = !reader.EOF;
            }
            else
            {
                more = reader.Read();
            }
        }
        return found;
    }

    /// <summary><paramref name="stream"/>, or a copy in memory when it cannot seek (a zip entry, a request body): the package reader needs to.</summary>
    private static Stream Seekable(Stream stream)
    {
        if (stream.CanSeek)
        {
            return stream;
        }
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        copy.Position = 0;
        return copy;
    }

    /// <summary>
    /// The zip directory's refusal of a package too large to unpack (too many parts, or more than <see cref="MaxUnpackedBytes"/>
    /// in all), or null; a stream that is no zip is left to the package reader to refuse.
    /// </summary>
    private static (string English, string Spanish)? PackageRefusal(Stream stream)
    {
        var start = stream.Position;
        try
        {
            using var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Read, leaveOpen: true);
            if (zip.Entries.Count > MaxParts)
            {
                return ($"the workbook holds {zip.Entries.Count:N0} parts, more than the limit of {MaxParts:N0}; nothing was read",
                    $"el libro contiene {zip.Entries.Count:N0} partes, más que el límite de {MaxParts:N0}; no se leyó nada");
            }
            long total = 0;
            foreach (var entry in zip.Entries)
            {
                total += entry.Length;
                if (total > MaxUnpackedBytes)
                {
                    return ($"the workbook unpacks to more than {MaxUnpackedBytes / (1024 * 1024)} MiB, the limit; nothing was read",
                        $"el libro se descomprime en más de {MaxUnpackedBytes / (1024 * 1024)} MiB, el límite; no se leyó nada");
                }
            }
            return null;
        }
        catch (InvalidDataException)
        {
            return null;
        }
        finally
        {
            stream.Position = start;
        }
    }

    /// <summary>A part's elements of type <typeparamref name="T"/>, streamed: one in memory at a time, never the part's whole tree.</summary>
    private static IEnumerable<T> Elements<T>(OpenXmlPart part) where T : OpenXmlElement
    {
        using var reader = OpenXmlReader.Create(part);
        var more = reader.Read();
        while (more)
        {
            if (reader.IsStartElement && reader.ElementType == typeof(T))
            {
                yield return (T)reader.LoadCurrentElement()!;
                more = !reader.EOF;
            }
            else
            {
                more = reader.Read();
            }
        }
    }

    /// <summary>A sheet's rows, streamed: each row's number and its cells (at most <see cref="MaxColumns"/>), one row in memory at a time.</summary>
    private static IEnumerable<(uint? Number, List<Cell> Cells, string Attributes)> Rows(WorksheetPart part)
    {
        using var reader = OpenXmlReader.Create(part);
        List<Cell>? cells = null;
        uint? number = null;
        var attributes = "";
        var more = reader.Read();
        while (more)
        {
            if (reader.ElementType == typeof(Row))
            {
                if (reader.IsStartElement)
                {
                    cells = [];
                    number = reader.Attributes.FirstOrDefault(a => a.LocalName == "r").Value is { } r
                        && uint.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
                    attributes = string.Join(" ", reader.Attributes.Select(a => $"{a.NamespaceUri}:{a.LocalName}={a.Value}"));
                }
                if (reader.IsEndElement && cells is not null)
                {
                    yield return (number, cells, attributes);
                    cells = null;
                }
                more = reader.Read();
            }
            else if (cells is not null && reader.IsStartElement && reader.ElementType == typeof(Cell))
            {
                if (cells.Count >= MaxColumns)
                {
                    throw new InvalidDataException($"row {number}: more cells than Excel's {MaxColumns:N0} columns");
                }
                cells.Add((Cell)reader.LoadCurrentElement()!);
                more = !reader.EOF;
            }
            else
            {
                more = reader.Read();
            }
        }
    }

    private enum SheetOutcome
    {
        Read,
        NoHeader,
        Full,
    }

    /// <summary>Reads one sheet's rows: NoHeader when it has no header row (a sheet of notes, say), Full when the observation limit was passed.</summary>
    private static SheetOutcome ReadSheet(string name, WorksheetPart part, List<string> strings, ObservationFile result, int maxObservations)
    {
        Dictionary<string, int>? index = null;
        foreach (var (rowNumber, rowCells, _) in Rows(part))
        {
            var number = (int)(rowNumber ?? 0);
            var cells = Cells(rowNumber, rowCells, strings);
            var place = $"sheet '{name}', row {number}";
            if (index is null)
            {
                if (number > HeaderRows)
                {
                    return SheetOutcome.NoHeader;
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
                    return SheetOutcome.Read;
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
            if (result.Observations.Count >= maxObservations)
            {
                result.Errors.Add(new("file", $"more than {maxObservations:N0} observations, the most one upload holds: reading stopped at {place} (send larger files in batches: mirps submit)",
                    $"más de {maxObservations:N0} observaciones, lo máximo que admite una carga: la lectura se detuvo en {place} (envíe archivos más grandes por partes: mirps submit)"));
                return SheetOutcome.Full;
            }
            result.Add(ObservationCsv.FromFields(Cell, place, result.Errors), number, place);
        }
        return index is not null ? SheetOutcome.Read : SheetOutcome.NoHeader;
    }

    /// <summary>A row's cells as text by column (0 is A): shared and inline strings, numbers as written, booleans as true/false.</summary>
    private static Dictionary<int, string> Cells(uint? rowNumber, List<Cell> row, List<string> strings)
    {
        var cells = new Dictionary<int, string>();
        var next = 0;
        foreach (var cell in row)
        {
            var column = cell.CellReference?.Value is { } reference ? ColumnIndex(reference) : next;
            if (column is < 0 or >= MaxColumns)
            {
                throw new InvalidDataException($"row {rowNumber}: cell reference '{cell.CellReference?.Value}' is beyond Excel's last column (XFD)");
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
