using System.Globalization;
using System.Text;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// Writes export rows as plain CSV or SDMX-CSV 2.0.0, one row at a time, so an export of any size
/// never sits in memory. Both formats are RFC 4180 (comma, CRLF, fields quoted only when they hold a
/// comma, quote or line break, by <see cref="ObservationCsv.Quote"/>), numbers in the invariant culture
/// ("1234.5"), and files UTF-8 without a byte order mark (<see cref="Utf8"/>). Every text cell (notes,
/// labels, codes, headers; not the values, which are numbers) goes through
/// <see cref="SpreadsheetFormula.Neutralize"/>, so a spreadsheet never runs a note as a formula, and
/// <see cref="ExportReader"/> gives the text back exactly.
/// <para>
/// Plain CSV is the import layout (<see cref="ObservationCsv.Columns"/>), so a State's export without
/// labels reads back with <c>mirps submit</c>; labels add a <c>*_label</c> column right after each
/// coded column (<c>indicator_code,indicator_label,country,country_label,...</c>), and such a file is
/// for people, not for re-import. A withheld value is an empty <c>value</c> cell.
/// </para>
/// <para>
/// SDMX-CSV: <c>STRUCTURE,STRUCTURE_ID,ACTION</c>, then the components in <see cref="SdmxCsv.Components"/>
/// order. Every row is <c>dataflow</c>, the <see cref="ExportOptions.StructureId"/> and action <c>I</c>;
/// a dimension the indicator does not declare is <c>_Z</c>. With labels (the spec's <c>labels=both</c>),
/// component headers become <c>ID: Name</c>, coded cells and the structure id <c>CODE: Name</c>
/// (the code alone when it has no name), while non-coded cells (time period, value, comment) and the
/// three leading columns' headers stay as they are.
/// </para>
/// </summary>
public sealed class ExportWriter
{
    private const string LineEnd = "\r\n";

    /// <summary>UTF-8 without a byte order mark: a BOM would become part of the first header cell for many CSV readers.</summary>
    public static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly IReadOnlyList<Column> _columns;

    public ExportWriter(StandardCatalogue catalogue, ExportOptions options)
    {
        Options = options;
        var labels = options.Labels == ExportLabels.None ? null : new ExportLabelText(catalogue, options.Labels);
        _columns = options.Format switch
        {
            ExportFormat.Csv => CsvColumns(labels),
            ExportFormat.SdmxCsv => SdmxColumns(labels, options.StructureId(catalogue), SdmxCsv.ComponentsOf(catalogue)),
            ExportFormat.SdmxCsv1 => SdmxColumns(labels, options.StructureId(catalogue), SdmxCsv.ComponentsOf(catalogue), version1: true),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Format, "Unknown export format."),
        };
    }

    public ExportOptions Options { get; }

    /// <summary>The header cells, in order (unquoted).</summary>
    public IReadOnlyList<string> Headers => [.. _columns.Select(c => c.Header)];

    public void WriteHeader(TextWriter writer) => WriteRecord(writer, column => SpreadsheetFormula.Neutralize(column.Header));

    /// <summary>Writes one row; refuses a row no reader could take back (bad period, no status, a value that is not finite).</summary>
    public void WriteRow(TextWriter writer, ExportRow row)
    {
        Check(row);
        WriteRecord(writer, column => column.Number ? column.Cell(row) : SpreadsheetFormula.Neutralize(column.Cell(row)));
    }

    /// <summary>One row's cells as <see cref="WriteRow"/> writes them (unquoted), for a spreadsheet of the same columns.</summary>
    public IReadOnlyList<string> Cells(ExportRow row)
    {
        Check(row);
        return [.. _columns.Select(column => column.Number ? column.Cell(row) : SpreadsheetFormula.Neutralize(column.Cell(row)))];
    }

    /// <summary>The header cells as <see cref="WriteHeader"/> writes them (unquoted).</summary>
    public IReadOnlyList<string> HeaderCells => [.. _columns.Select(column => SpreadsheetFormula.Neutralize(column.Header))];

    private void WriteRecord(TextWriter writer, Func<Column, string> cell)
    {
        for (var i = 0; i < _columns.Count; i++)
        {
            if (i > 0)
            {
                writer.Write(',');
            }
            writer.Write(ObservationCsv.Quote(cell(_columns[i])));
        }
        writer.Write(LineEnd);
    }

    /// <summary>The header, then every row, as the sequence yields them.</summary>
    public void Write(TextWriter writer, IEnumerable<ExportRow> rows)
    {
        WriteHeader(writer);
        foreach (var row in rows)
        {
            WriteRow(writer, row);
        }
        writer.Flush();
    }

    /// <summary>Writes to a stream in <see cref="Utf8"/>, leaving the stream open.</summary>
    public void Write(Stream stream, IEnumerable<ExportRow> rows)
    {
        using var writer = new StreamWriter(stream, Utf8, leaveOpen: true);
        Write(writer, rows);
    }

    /// <summary>
    /// The header, then every row as an asynchronous source (a gRPC stream, a database reader) yields
    /// it. Each row is formatted into a small buffer and written asynchronously, so a slow destination
    /// never blocks a thread.
    /// </summary>
    public async Task WriteAsync(TextWriter writer, IAsyncEnumerable<ExportRow> rows, CancellationToken cancellationToken = default)
    {
        var buffer = new StringBuilder();
        using var line = new StringWriter(buffer, CultureInfo.InvariantCulture);
        WriteHeader(line);
        await writer.WriteAsync(buffer, cancellationToken);
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            buffer.Clear();
            WriteRow(line, row);
            await writer.WriteAsync(buffer, cancellationToken);
        }
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>Writes to a stream in <see cref="Utf8"/>, leaving the stream open.</summary>
    public async Task WriteAsync(Stream stream, IAsyncEnumerable<ExportRow> rows, CancellationToken cancellationToken = default)
    {
        await using var writer = new StreamWriter(stream, Utf8, leaveOpen: true);
        await WriteAsync(writer, rows, cancellationToken);
    }

    /// <summary>
    /// The header, then every row as it is read, sent to <paramref name="output"/> in chunks of about <paramref name="chunkBytes"/>:
    /// memory holds one chunk whatever the answer's size. When reading the rows fails, what was not sent yet is dropped, never
    /// flushed, so a failure before the first chunk leaves <paramref name="output"/> untouched (an HTTP answer can still be an error).
    /// </summary>
    public async Task StreamAsync(Stream output, IAsyncEnumerable<ExportRow> rows, int chunkBytes, CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        using var text = new StreamWriter(buffer, Utf8, leaveOpen: true);
        async Task SendAsync()
        {
            await text.FlushAsync(cancellationToken);
            await output.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), cancellationToken);
            buffer.SetLength(0);
        }
        WriteHeader(text);
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            WriteRow(text, row);
            if (buffer.Length >= chunkBytes)
            {
                await SendAsync();
            }
        }
        await SendAsync();
    }

    /// <summary>A value in the invariant culture, shortest form that reads back to the same double; empty when withheld.</summary>
    public static string FormatValue(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    private static void Check(ExportRow row)
    {
        if (!Period.TryParse(row.Period, out _))
        {
            throw new ArgumentException($"Row {row}: the period '{row.Period}' is not {Period.Format}.", nameof(row));
        }
        if (!row.Deleted && (row.Status == ObservationStatus.Unspecified || !Enum.IsDefined(row.Status)))
        {
            throw new ArgumentException($"Row {row}: the status must be normal, provisional, estimated or confidential.", nameof(row));
        }
        if (row.Value is { } value && !double.IsFinite(value))
        {
            throw new ArgumentException($"Row {row}: the value {value} is not a finite number.", nameof(row));
        }
    }

    /// <summary>The import layout's columns, each coded one followed by its label column when labels are asked for.</summary>
    private static List<Column> CsvColumns(ExportLabelText? labels)
    {
        var columns = new List<Column>();
        foreach (var name in ObservationCsv.Columns)
        {
            (Func<ExportRow, string> Code, Func<ExportRow, string>? Label) cell = name switch
            {
                "indicator_code" => (r => r.IndicatorCode, r => labels!.Indicator(r.IndicatorCode)),
                "country" => (r => r.ReferenceArea, r => labels!.ReferenceArea(r.ReferenceArea)),
                "period" => (r => r.Period, null),
                "sex" => (r => r.Sex, r => labels!.DimensionCode(StandardCatalogue.SexDimension, r.Sex)),
                "age" => (r => r.Age, r => labels!.DimensionCode(StandardCatalogue.AgeDimension, r.Age)),
                "country_of_origin" => (r => r.CountryOfOrigin, r => labels!.DimensionCode(StandardCatalogue.CountryOfOriginDimension, r.CountryOfOrigin)),
                "value" => (r => FormatValue(r.Value), null),
                "status" => (r => ObservationCsv.FormatStatus(r.Status), r => labels!.Status(r.Status)),
                "note" => (r => r.Note, null),
                "application_type" or "decision_level" or "procedure_type" or "count_basis" or "country_of_destination" => AddedCell(name, labels),
                "lower_bound" => (r => ObservationCsv.FormatFlag(r.Attributes.LowerBound), null),
                "confidentiality" => (r => ObservationCsv.FormatConfidentiality(r.Attributes.Confidentiality), null),
                "synthetic" => (r => ObservationCsv.FormatFlag(r.Attributes.Synthetic), null),
                _ => throw new InvalidOperationException($"The CSV column '{name}' has no export."),
            };
            columns.Add(new(name, cell.Code, Number: name == "value"));
            if (labels is not null && cell.Label is not null)
            {
                columns.Add(new(CsvLabelColumn(name), cell.Label));
            }
        }
        return columns;
    }

    /// <summary>A catalogue 2.0 dimension's cell and label, by its field name.</summary>
    private static (Func<ExportRow, string>, Func<ExportRow, string>?) AddedCell(string field, ExportLabelText? labels)
    {
        var d = Mirps.Log.AddedDimensions.FieldNames.ToList().IndexOf(field);
        var dimension = Mirps.Log.AddedDimensions.DimensionIds[d];
        return (r => r.Added[d], r => labels!.DimensionCode(dimension, r.Added[d]));
    }

    /// <summary>The label column beside a coded plain-CSV column: <c>indicator_code</c> → <c>indicator_label</c>, <c>sex</c> → <c>sex_label</c>.</summary>
    internal static string CsvLabelColumn(string column) =>
        (column.EndsWith("_code", StringComparison.Ordinal) ? column[..^"_code".Length] : column) + "_label";

    private static List<Column> SdmxColumns(ExportLabelText? labels, string structureId, IReadOnlyList<string> components, bool version1 = false)
    {
        string Labelled(string code, string label) =>
            labels is null || label.Length == 0 ? code : code + SdmxCsv.LabelSeparator + label;
        string Dimension(string dimension, string code) => Labelled(code, labels?.DimensionCode(dimension, code) ?? "");
        string Header(string id) => Labelled(id, labels?.Component(id) ?? "");

        var structure = Labelled(structureId, labels?.Dataflow ?? "");
        var columns = version1
            ? new List<Column> { new(SdmxCsv.DataflowColumn, _ => structure) }
            : new List<Column>
            {
                new(SdmxCsv.StructureColumn, _ => SdmxCsv.DataflowStructure),
                new(SdmxCsv.StructureIdColumn, _ => structure),
                new(SdmxCsv.ActionColumn, r => r.Deleted ? SdmxCsv.DeleteAction : SdmxCsv.InformationAction),
            };
        foreach (var id in components)
        {
            Func<ExportRow, string> cell = id switch
            {
                SdmxCsv.IndicatorDimension => r => Labelled(r.IndicatorCode, labels?.Indicator(r.IndicatorCode) ?? ""),
                SdmxCsv.ReferenceAreaDimension => r => Labelled(r.ReferenceArea, labels?.ReferenceArea(r.ReferenceArea) ?? ""),
                SdmxCsv.TimePeriodDimension or SdmxCsv.ValueMeasure or SdmxCsv.CommentAttribute or SdmxCsv.ConfidentialityAttribute
                    or SdmxCsv.LowerBoundAttribute or SdmxCsv.SyntheticAttribute => r => SdmxCsv.Code(id, r),
                SdmxCsv.StatusAttribute => r => r.Deleted ? "" : Labelled(SdmxCsv.StatusCode(r.Status), labels?.Status(r.Status) ?? ""),
                _ => r => Dimension(id, SdmxCsv.Code(id, r)),
            };
            columns.Add(new(Header(id), cell, Number: id == SdmxCsv.ValueMeasure));
        }
        return columns;
    }

    /// <summary>One column: its header and its cell; a number's cell is written as it is, any other through <see cref="SpreadsheetFormula.Neutralize"/>.</summary>
    private readonly record struct Column(string Header, Func<ExportRow, string> Cell, bool Number = false);
}
