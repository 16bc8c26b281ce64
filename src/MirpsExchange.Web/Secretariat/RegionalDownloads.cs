using System.IO.Compression;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Spreadsheets;

namespace MirpsExchange.Web.Secretariat;

/// <summary>
/// Downloads of what the regional page shows (the same period, "as of", lifecycle filter and rows, the protection rates
/// included): CSV and SDMX-CSV by the catalogue's <see cref="ExportWriter"/>, with labels in the person's language, and xlsx of
/// the CSV's columns by <see cref="XlsxTemplate.WriteTable"/>. Each is a zip of the file and its provenance
/// (<c>FILE.provenance.json</c>, as <c>mirps regional export --out FILE</c> writes it), which <c>mirps regional verify</c> reads
/// as it is. Only for the Secretariat's analysts, read with their token.
/// </summary>
public static class RegionalDownloads
{
    public const string Path = "/regional/download";

    /// <summary>The formats offered: the query's value and the link's text.</summary>
    public static readonly IReadOnlyList<(string Format, string Text)> Formats = [("csv", "CSV"), ("sdmx-csv", "SDMX-CSV"), ("xlsx", "Excel (xlsx)")];

    public static string Url(string format, string period, DateTimeOffset asOf, LifecycleFilter lifecycle = LifecycleFilter.Unspecified) =>
        $"{Path}?format={format}&period={Uri.EscapeDataString(period)}&asOf={Uri.EscapeDataString(RegionalView.FormatAsOf(asOf) + "Z")}" +
        (lifecycle == LifecycleFilter.Unspecified ? "" : $"&lifecycle={RegionalView.FormatLifecycle(lifecycle)}");

    public static IEndpointRouteBuilder MapRegionalDownloads(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, async (HttpContext http, RegionalView view, string? format, string? period, string? asOf, string? lifecycle) =>
        {
            if (!Period.TryParse(period ?? "", out var parsed) || RegionalView.ParseAsOf(asOf) is not { } time || format is not ("csv" or "sdmx-csv" or "xlsx")
                || lifecycle is not (null or "" or "approved" or "accepted"))
            {
                return Results.BadRequest("format (csv, sdmx-csv or xlsx), period and asOf are required; lifecycle is approved, accepted or absent");
            }
            var result = await view.LoadAsync(parsed, time, RegionalView.ParseLifecycle(lifecycle));
            var name = $"mirps-regional-{result.Period}{(result.Lifecycle == LifecycleFilter.Unspecified ? "" : "-" + RegionalView.FormatLifecycle(result.Lifecycle))}-" +
                $"{RegionalView.FormatAsOf(result.AsOf).Replace(":", "", StringComparison.Ordinal)}Z";
            return File(view.Catalogue, Texts.Of(http), format, name, result.Rows, result.Provenance);
        }).RequireAuthorization(WebPolicies.Secretariat);
        return app;
    }

    /// <summary>
    /// A download of <paramref name="rows"/> in <paramref name="format"/> (csv, sdmx-csv or xlsx) named <paramref name="name"/>: a zip of the file and,
    /// beside it, its <paramref name="provenance"/> in protobuf JSON (the CLI's sidecar). The one writer of every Secretariat page's downloads of figures.
    /// </summary>
    public static IResult File(StandardCatalogue catalogue, Texts texts, string format, string name, IEnumerable<ExportRow> rows, ExportProvenance provenance,
        string? sheet = null)
    {
        var labels = texts.IsEnglish ? ExportLabels.English : ExportLabels.Spanish;
        if (format == "xlsx")
        {
            var writer = new ExportWriter(catalogue, new ExportOptions(ExportFormat.Csv, labels));
            return Table(texts, format, name, sheet ?? texts["nav.regional"], writer.HeaderCells, rows.Select(writer.Cells), provenance);
        }
        return Zip(name + (format == "csv" ? ".csv" : ".sdmx.csv"),
            file => new ExportWriter(catalogue, new ExportOptions(format == "csv" ? ExportFormat.Csv : ExportFormat.SdmxCsv, labels)).Write(file, rows), provenance);
    }

    /// <summary>
    /// A download of a table a page shows that holds no figures (the completeness heatmap), in <paramref name="format"/> (csv or xlsx), with its
    /// <paramref name="provenance"/> beside it as <see cref="File"/> writes it. Cells are neutralized against spreadsheet formulas.
    /// </summary>
    public static IResult Table(Texts texts, string format, string name, string sheet, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows,
        ExportProvenance provenance)
    {
        if (format == "xlsx")
        {
            return Zip(name + ".xlsx", file => XlsxTemplate.WriteTable(file, sheet, headers, rows), provenance);
        }
        return Zip(name + ".csv", file =>
        {
            using var writer = new StreamWriter(file, ExportWriter.Utf8, leaveOpen: true) { NewLine = "\r\n" };
            foreach (var row in rows.Prepend(headers))
            {
                writer.WriteLine(string.Join(',', row.Select(c => ObservationCsv.Quote(SpreadsheetFormula.Neutralize(c)))));
            }
        }, provenance);
    }

    /// <summary>A zip of <paramref name="entry"/> (written by <paramref name="write"/>) and <c>entry.provenance.json</c>.</summary>
    private static IResult Zip(string entry, Action<Stream> write, ExportProvenance provenance)
    {
        var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            // Written whole first: the xlsx writer needs a stream it can seek, which a zip entry is not.
            var file = new MemoryStream();
            write(file);
            using (var data = archive.CreateEntry(entry).Open())
            {
                file.Position = 0;
                file.CopyTo(data);
            }
            using var sidecar = new StreamWriter(archive.CreateEntry(entry + ".provenance.json").Open());
            sidecar.Write(ProvenanceJson.Format(provenance));
        }
        zip.Position = 0;
        return Results.File(zip, "application/zip", entry + ".zip");
    }

    /// <summary>Protobuf JSON with the schema's field names, as <c>mirps regional export</c> writes the provenance.</summary>
    private static readonly JsonFormatter ProvenanceJson = new(JsonFormatter.Settings.Default.WithIndentation().WithPreserveProtoFieldNames(true));
}
