using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Spreadsheets;

namespace MirpsExchange.Web.Secretariat;

/// <summary>
/// Downloads of what the regional page shows (the same period, "as of" and rows): CSV and SDMX-CSV by the
/// catalogue's <see cref="ExportWriter"/>, with labels in the person's language, and xlsx of the CSV's columns
/// by <see cref="XlsxTemplate.WriteTable"/>. Only for the Secretariat's analysts, read with their token.
/// </summary>
public static class RegionalDownloads
{
    public const string Path = "/regional/download";

    public static string Url(string format, string period, DateTimeOffset asOf) =>
        $"{Path}?format={format}&period={Uri.EscapeDataString(period)}&asOf={Uri.EscapeDataString(RegionalView.FormatAsOf(asOf) + "Z")}";

    public static IEndpointRouteBuilder MapRegionalDownloads(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, async (HttpContext http, RegionalView view, string? format, string? period, string? asOf) =>
        {
            if (!Period.TryParse(period ?? "", out var parsed) || RegionalView.ParseAsOf(asOf) is not { } time || format is not ("csv" or "sdmx-csv" or "xlsx"))
            {
                return Results.BadRequest("format (csv, sdmx-csv or xlsx), period and asOf are required");
            }
            var texts = Texts.Of(http);
            var labels = texts.IsEnglish ? ExportLabels.English : ExportLabels.Spanish;
            var result = await view.LoadAsync(parsed, time);
            var name = $"mirps-regional-{result.Period}-{RegionalView.FormatAsOf(result.AsOf).Replace(":", "", StringComparison.Ordinal)}Z";
            var stream = new MemoryStream();
            string type;
            if (format == "xlsx")
            {
                var writer = new ExportWriter(view.Catalogue, new ExportOptions(ExportFormat.Csv, labels));
                XlsxTemplate.WriteTable(stream, texts["nav.regional"], writer.HeaderCells, result.Rows.Select(writer.Cells));
                type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
                name += ".xlsx";
            }
            else
            {
                new ExportWriter(view.Catalogue, new ExportOptions(format == "csv" ? ExportFormat.Csv : ExportFormat.SdmxCsv, labels)).Write(stream, result.Rows);
                type = format == "csv" ? "text/csv; charset=utf-8" : "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8";
                name += format == "csv" ? ".csv" : ".sdmx.csv";
            }
            stream.Position = 0;
            return Results.File(stream, type, name);
        }).RequireAuthorization(WebPolicies.Secretariat);
        return app;
    }
}
