using System.Globalization;
using System.Text;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Validation;

namespace MirpsExchange.Catalogue.Csv;

/// <summary>
/// The standard CSV layout national systems submit (UTF-8, RFC 4180, comma separated, header first):
/// <c>indicator_code,country,period,sex,age,country_of_origin,application_type,decision_level,procedure_type,
/// count_basis,country_of_destination,value,status,lower_bound,confidentiality,synthetic,note</c>.
/// Columns may come in any order and all but indicator_code, country, period and value may be left out (a v1 file
/// has none of catalogue 2.0's); undeclared dimensions stay empty (a declared catalogue 2.0 dimension left empty
/// means its default); an empty status means NORMAL; lower_bound and synthetic are <c>true</c>, <c>false</c> or
/// empty (false); confidentiality is FREE, NOT_FOR_PUBLICATION, CONFIDENTIAL or empty (free);
/// values use a dot as decimal separator and no thousands separator. A cell that starts with a quote
/// before <c>= + - @</c>, tab, CR or another quote loses that one quote, as a spreadsheet reads it
/// (<see cref="SpreadsheetFormula"/>): the exports write texts that way, so they read back unchanged.
/// </summary>
public static class ObservationCsv
{
    public static readonly IReadOnlyList<string> Columns =
        ["indicator_code", "country", "period", "sex", "age", "country_of_origin", .. AddedDimensions.FieldNames, "value", "status", .. AttributeColumns, "note"];

    /// <summary>Catalogue 2.0's attributes, between the status and the note (free text stays last).</summary>
    public static IReadOnlyList<string> AttributeColumns => ["lower_bound", "confidentiality", "synthetic"];

    /// <summary>The columns a file must have; the export reader asks the same of plain CSV exports.</summary>
    internal static readonly IReadOnlyList<string> Required = ["indicator_code", "country", "period", "value"];

    /// <summary>
    /// Reads every row. Problems of form (missing column, unreadable number or status, wrong column
    /// count, a quote never closed) are returned as violations naming the line; catalogue rules are the
    /// validator's job.
    /// </summary>
    public static ObservationFile Read(TextReader reader)
    {
        var result = new ObservationFile();
        var lineNumber = 0;
        string[]? header = null;
        Dictionary<string, int> index = [];
        while (ReadRecord(reader, ref lineNumber, lineFeedsOnly: true) is { } record)
        {
            var (fields, line, unclosedQuoteLine) = record;
            if (unclosedQuoteLine is { } quoteLine)
            {
                // The quote took every following line into one field; reading on would only mislead.
                result.Errors.Add(new($"line {quoteLine}", "a quoted field starts here but its closing quote is missing, so the rest of the file would be read into it (a quote inside a quoted field is written twice: \"\")",
                    "aquí empieza un campo entre comillas sin comilla de cierre, de modo que el resto del archivo se leería dentro de él (una comilla dentro de un campo entre comillas se escribe dos veces: \"\")"));
                return result;
            }
            fields = fields.ConvertAll(SpreadsheetFormula.Restore);
            if (header is null)
            {
                header = [.. fields.Select(f => f.Trim().TrimStart('\uFEFF').ToLowerInvariant())];
                index = ReadHeader(header, $"line {line}", result.Errors);
                if (result.Errors.Count > 0)
                {
                    return result;
                }
                continue;
            }
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue; // a blank line
            }
            if (fields.Count != header.Length)
            {
                result.Errors.Add(new($"line {line}", $"{fields.Count} fields where the header has {header.Length}", $"{fields.Count} campos donde el encabezado tiene {header.Length}"));
                continue;
            }
            var observation = FromFields(name => index.TryGetValue(name, out var i) ? fields[i] : null, $"line {line}", result.Errors);
            result.Add(observation, line, $"line {line}");
        }
        if (header is null)
        {
            result.Errors.Add(new("line 1", $"the file is empty; it needs the header {string.Join(",", Columns)}", $"el archivo está vacío; necesita el encabezado {string.Join(",", Columns)}"));
        }
        return result;
    }

    /// <summary>
    /// The header's columns (lower case) by position; an unknown, repeated or missing required column is a problem at
    /// <paramref name="place"/>. Shared by the CSV and xlsx readers; a spreadsheet's blank header cells are
    /// columns it does not use (<paramref name="blankIgnored"/>).
    /// </summary>
    internal static Dictionary<string, int> ReadHeader(IReadOnlyList<string> header, string place, List<Violation> errors, bool blankIgnored = false)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < header.Count; i++)
        {
            if (blankIgnored && header[i].Length == 0)
            {
                continue;
            }
            if (!Columns.Contains(header[i]))
            {
                errors.Add(new(place, $"unknown column '{header[i]}' (columns: {string.Join(",", Columns)})", $"columna desconocida '{header[i]}' (columnas: {string.Join(",", Columns)})"));
            }
            else if (!index.TryAdd(header[i], i))
            {
                errors.Add(new(place, $"column '{header[i]}' appears twice", $"la columna '{header[i]}' aparece dos veces"));
            }
        }
        foreach (var column in Required.Where(c => !index.ContainsKey(c)))
        {
            errors.Add(new(place, $"the required column '{column}' is missing", $"falta la columna obligatoria '{column}'"));
        }
        return index;
    }

    /// <summary>
    /// One row of the standard layout as an observation: <paramref name="cell"/> gives a column's text (null when the file
    /// has no such column). Problems of form are added to <paramref name="errors"/> at <paramref name="place"/> and the column.
    /// Shared by the CSV and xlsx readers.
    /// </summary>
    internal static Observation FromFields(Func<string, string?> cell, string place, List<Violation> errors)
    {
        string Field(string name) => cell(name)?.Trim() ?? "";
        var observation = new Observation
        {
            IndicatorCode = Field("indicator_code"),
            Country = Field("country"),
            Period = Field("period"),
            Sex = Field("sex"),
            Age = Field("age"),
            CountryOfOrigin = Field("country_of_origin"),
            ApplicationType = Field("application_type"),
            DecisionLevel = Field("decision_level"),
            ProcedureType = Field("procedure_type"),
            CountBasis = Field("count_basis"),
            CountryOfDestination = Field("country_of_destination"),
            Note = cell("note") ?? "",
        };
        bool Flag(string column)
        {
            if (!TryParseFlag(Field(column), out var flag))
            {
                errors.Add(new($"{place}, {column}", $"'{Field(column)}' is not true, false or empty (false)", $"'{Field(column)}' no es true, false ni vacío (false)"));
            }
            return flag;
        }
        observation.LowerBound = Flag("lower_bound");
        observation.Synthetic = Flag("synthetic");
        if (TryParseConfidentiality(Field("confidentiality"), out var confidentiality))
        {
            observation.Confidentiality = confidentiality;
        }
        else
        {
            errors.Add(new($"{place}, confidentiality", $"'{Field("confidentiality")}' is not FREE, NOT_FOR_PUBLICATION, CONFIDENTIAL or empty (free)",
                $"'{Field("confidentiality")}' no es FREE, NOT_FOR_PUBLICATION, CONFIDENTIAL ni vacío (libre)"));
        }
        var value = Field("value");
        if (double.TryParse(value, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            observation.Value = number;
        }
        else
        {
            errors.Add(new($"{place}, value", $"'{value}' is not a number (use a dot for decimals and no thousands separator)",
                $"'{value}' no es un número (use punto para los decimales y ningún separador de miles)"));
        }
        var status = Field("status");
        if (TryParseStatus(status, out var parsed))
        {
            observation.Status = parsed;
        }
        else
        {
            errors.Add(new($"{place}, status", $"'{status}' is not a status (NORMAL, PROVISIONAL, ESTIMATED, CONFIDENTIAL, or empty for NORMAL)",
                $"'{status}' no es un estado (NORMAL, PROVISIONAL, ESTIMATED, CONFIDENTIAL, o vacío para NORMAL)"));
        }
        return observation;
    }

    public static bool TryParseStatus(string text, out ObservationStatus status)
    {
        status = text.Trim().ToUpperInvariant() switch
        {
            "" or "NORMAL" => ObservationStatus.Normal,
            "PROVISIONAL" => ObservationStatus.Provisional,
            "ESTIMATED" => ObservationStatus.Estimated,
            "CONFIDENTIAL" => ObservationStatus.Confidential,
            _ => ObservationStatus.Unspecified,
        };
        return status != ObservationStatus.Unspecified;
    }

    public static string FormatStatus(ObservationStatus status) => status.ToString().ToUpperInvariant();

    /// <summary>A flag attribute's cell: <c>true</c>, <c>false</c> or empty (false), any case.</summary>
    public static bool TryParseFlag(string text, out bool flag)
    {
        var trimmed = text.Trim();
        flag = trimmed.Equals("true", StringComparison.OrdinalIgnoreCase);
        return flag || trimmed.Length == 0 || trimmed.Equals("false", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A flag as written: <c>true</c>, or empty for false (most rows).</summary>
    public static string FormatFlag(bool flag) => flag ? "true" : "";

    /// <summary>A confidentiality cell: FREE, NOT_FOR_PUBLICATION, CONFIDENTIAL or empty (UNSPECIFIED: free).</summary>
    public static bool TryParseConfidentiality(string text, out ConfidentialityStatus confidentiality)
    {
        confidentiality = ConfidentialityStatus.Unspecified;
        switch (text.Trim().ToUpperInvariant())
        {
            case "":
                return true;
            case "FREE":
                confidentiality = ConfidentialityStatus.Free;
                return true;
            case "NOT_FOR_PUBLICATION":
                confidentiality = ConfidentialityStatus.NotForPublication;
                return true;
            case "CONFIDENTIAL":
                confidentiality = ConfidentialityStatus.Confidential;
                return true;
            default:
                return false;
        }
    }

    /// <summary>A confidentiality as written: empty when unspecified.</summary>
    public static string FormatConfidentiality(ConfidentialityStatus confidentiality) => confidentiality switch
    {
        ConfidentialityStatus.Unspecified => "",
        ConfidentialityStatus.Free => "FREE",
        ConfidentialityStatus.NotForPublication => "NOT_FOR_PUBLICATION",
        ConfidentialityStatus.Confidential => "CONFIDENTIAL",
        _ => ((int)confidentiality).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Writes observations in the standard layout, header first, texts through <see cref="SpreadsheetFormula.Neutralize"/>.</summary>
    public static void Write(TextWriter writer, IEnumerable<Observation> observations)
    {
        writer.WriteLine(string.Join(",", Columns));
        foreach (var o in observations)
        {
            writer.WriteLine(string.Join(",",
                Text(o.IndicatorCode), Text(o.Country), Text(o.Period), Text(o.Sex), Text(o.Age), Text(o.CountryOfOrigin),
                Text(o.ApplicationType), Text(o.DecisionLevel), Text(o.ProcedureType), Text(o.CountBasis), Text(o.CountryOfDestination),
                o.Value.ToString("R", CultureInfo.InvariantCulture), FormatStatus(o.Status),
                FormatFlag(o.LowerBound), FormatConfidentiality(o.Confidentiality), FormatFlag(o.Synthetic), Text(o.Note)));
        }
    }

    private static string Text(string text) => Quote(SpreadsheetFormula.Neutralize(text));

    public static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{field.Replace("\"", "\"\"")}\"" : field;

    /// <summary>
    /// Reads one RFC 4180 record, character by character: CRLF, LF or CR end a record outside quotes and
    /// are kept exactly inside a quoted field. Null at the end of the input. When the input ends inside a
    /// quoted field, <c>UnclosedQuoteLine</c> is the line its opening quote is on. Shared with the export
    /// reader so that both read CSV by the same rules.
    /// </summary>
    /// <param name="lineFeedsOnly">
    /// A line break inside a quoted field becomes \n (a CRLF from Excel on Windows, a lone CR), as the note
    /// rules accept line feeds only; without it the field keeps its characters exactly (reading exports back).
    /// </param>
    internal static (List<string> Fields, int Line, int? UnclosedQuoteLine)? ReadRecord(TextReader reader, ref int lineNumber, bool lineFeedsOnly = false)
    {
        if (reader.Peek() < 0)
        {
            return null;
        }
        var startLine = ++lineNumber;
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var quoteLine = 0;
        int c;
        while ((c = reader.Read()) >= 0)
        {
            if (quoted)
            {
                if (c == '\r' && lineFeedsOnly)
                {
                    if (reader.Peek() == '\n')
                    {
                        reader.Read();
                    }
                    field.Append('\n');
                    lineNumber++;
                }
                else if (c != '"')
                {
                    field.Append((char)c);
                    if (c == '\n' || (c == '\r' && reader.Peek() != '\n'))
                    {
                        lineNumber++;
                    }
                }
                else if (reader.Peek() == '"')
                {
                    field.Append((char)reader.Read());
                }
                else
                {
                    quoted = false;
                }
            }
            else if (c == '"' && field.Length == 0)
            {
                quoted = true;
                quoteLine = lineNumber;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c is '\r' or '\n')
            {
                if (c == '\r' && reader.Peek() == '\n')
                {
                    reader.Read();
                }
                break;
            }
            else
            {
                field.Append((char)c);
            }
        }
        fields.Add(field.ToString());
        return (fields, startLine, quoted ? quoteLine : null);
    }
}

/// <summary>Rows read from a file (CSV or xlsx), where each one is (its line or row, and the place named in messages), and problems of form.</summary>
public sealed partial class ObservationFile
{
    public List<Observation> Observations { get; } = [];

    /// <summary>The line each row started on (CSV), or its row number on its sheet (xlsx).</summary>
    public List<int> Lines { get; } = [];

    /// <summary>Where each row is, as messages name it: "line 4", or "sheet 'Poblaciones', row 5".</summary>
    public List<string> Places { get; } = [];

    public List<Violation> Errors { get; } = [];

    /// <summary>Rows left without a value (an xlsx template's rows not filled in), not read.</summary>
    public int Skipped { get; set; }

    public void Add(Observation observation, int line, string place)
    {
        Observations.Add(observation);
        Lines.Add(line);
        Places.Add(place);
    }

    /// <summary>
    /// Where a problem is in the file, for people: its sheet (xlsx; null for CSV), its line or row (null for the whole file or
    /// sheet), its column (empty for the whole row) and its description with every row it names ("observations[3]") given as
    /// its place. Reads both the readers' problems ("line 4, value", "sheet 'Poblaciones', row 5, status") and the validator's
    /// and a node's ("observations[3].period", the rows of a batch counted from <paramref name="offset"/>).
    /// </summary>
    public FileProblem Locate(Violation violation, int offset = 0)
    {
        string? Place(string index) =>
            int.TryParse(index, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var row) && offset + row < Places.Count ? Places[offset + row] : null;

        var description = RowReference().Replace(violation.Description, m => Place(m.Groups[1].Value) ?? m.Value);
        var spanish = violation.Spanish is { } es ? RowReference().Replace(es, m => Place(m.Groups[1].Value) is { } p ? SpanishPlace(p) : m.Value) : null;
        var field = violation.Field;
        var column = "";
        var row = RowField().Match(field);
        if (row.Success && int.TryParse(row.Groups[1].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i)
            && offset + i < Places.Count)
        {
            field = Places[offset + i];
            column = row.Groups[2].Value.TrimStart('.');
        }
        var place = PlaceText().Match(field);
        if (!place.Success)
        {
            return new FileProblem(null, null, "", field, description) { Spanish = spanish };
        }
        var sheet = place.Groups["sheet"].Success ? place.Groups["sheet"].Value : null;
        int? number = place.Groups["row"].Success ? int.Parse(place.Groups["row"].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
        if (place.Groups["column"].Success)
        {
            column = place.Groups["column"].Value;
            field = field[..place.Groups["column"].Index].TrimEnd(' ', ',');
        }
        return new FileProblem(sheet, number, column, field, description) { Spanish = spanish };
    }

    /// <summary>A place as the readers write it ("line 4", "sheet 'S', row 5, value") in Spanish ("línea 4", "hoja 'S', fila 5, value").</summary>
    public static string SpanishPlace(string place)
    {
        var match = PlaceText().Match(place);
        if (!match.Success)
        {
            return place == "file" ? "archivo" : place;
        }
        var text = match.Groups["sheet"].Success
            ? $"hoja '{match.Groups["sheet"].Value}'" + (match.Groups["row"].Success ? $", fila {match.Groups["row"].Value}" : "")
            : $"línea {match.Groups["row"].Value}";
        return match.Groups["column"].Success ? $"{text}, {match.Groups["column"].Value}" : text;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^observations\[(\d+)\](.*)$")]
    private static partial System.Text.RegularExpressions.Regex RowField();

    [System.Text.RegularExpressions.GeneratedRegex(@"\bobservations\[(\d+)\]")]
    private static partial System.Text.RegularExpressions.Regex RowReference();

    /// <summary>The places the readers write: "line 4", "sheet 'S', row 5", "sheet 'S'", each optionally followed by ", column".</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^(?:line (?<row>\d+)|sheet '(?<sheet>.*)'(?:, row (?<row>\d+))?)(?:, (?<column>[a-z_]+))?$")]
    private static partial System.Text.RegularExpressions.Regex PlaceText();
}

/// <summary>
/// One problem located in a file (<see cref="ObservationFile.Locate"/>): the sheet (xlsx) or null, the line or row or null
/// (the whole file or sheet), the column or empty (the whole row), the place as the messages name it, and what is wrong.
/// </summary>
public sealed record FileProblem(string? Sheet, int? Row, string Column, string Place, string Description)
{
    /// <summary>The description in Spanish, its rows named in Spanish ("línea 4"), where the problem's was written; else null.</summary>
    public string? Spanish { get; init; }

    /// <summary>The description in <paramref name="language"/> ("es": Spanish where written), else English.</summary>
    public string DescriptionIn(string language) => language == "es" && Spanish is { } spanish ? spanish : Description;

    /// <summary>Equal when sheet, row, column, place and English description are (the Spanish says the same).</summary>
    public bool Equals(FileProblem? other) => other is not null && Sheet == other.Sheet && Row == other.Row
        && string.Equals(Column, other.Column, StringComparison.Ordinal) && string.Equals(Place, other.Place, StringComparison.Ordinal)
        && string.Equals(Description, other.Description, StringComparison.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Sheet, Row, Column, Place, Description);

    public override string ToString() => Column.Length > 0 ? $"{Place}, {Column}: {Description}" : $"{Place}: {Description}";
}
