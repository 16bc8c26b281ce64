using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using Microsoft.Playwright;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.TestShared;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The upload page's xlsx template in real Chromium: downloaded for a period, filled in as a person would, uploaded
/// back through the same page, and written.
/// </summary>
public class UploadTemplateWebTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task A_submitter_downloads_the_xlsx_template_from_the_upload_page_fills_it_in_and_the_same_upload_writes_its_rows()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        await using var node = await TestNode.StartAsync("SLV", null, $"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        var submitter = await WebApp.ReadyAccountAsync(identity, clientId, "sub.slv.tpl", AccountKind.Submitter, "SLV");
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{node.HttpAddress}/upload", submitter);
        await WebApp.AssertAccessibleAsync(page, "state-upload-template-es");

        await page.FillAsync("#template-period", "2024");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("form.template button[type=submit]"));
        Assert.Equal("mirps-SLV-2024.xlsx", download.SuggestedFilename);
        using var template = new MemoryStream(await File.ReadAllBytesAsync(await download.PathAsync()));

        // The catalogue's columns under Spanish headers (then English, then the column names), one sheet per group, the State and period filled in.
        const string Sheet = "Procedimientos de asilo";
        var value = XlsxCells.ColumnOf(template, Sheet, "value");
        using (var document = SpreadsheetDocument.Open(template, false))
        {
            var workbook = document.WorkbookPart!;
            var sheets = workbook.Workbook.Sheets!.Elements<Sheet>().Select(s => s.Name!.Value).ToList();
            Assert.Contains(Sheet, sheets);
            var part = (WorksheetPart)workbook.GetPartById(workbook.Workbook.Sheets!.Elements<Sheet>().Single(s => s.Name == Sheet).Id!);
            var rows = part.Worksheet.Descendants<Row>().ToList();
            Assert.Contains("Valor", rows[0].InnerText, StringComparison.Ordinal);
            Assert.Contains("Value", rows[1].InnerText, StringComparison.Ordinal);
            Assert.Contains("SLV", rows[3].InnerText, StringComparison.Ordinal);
            Assert.Contains("2024", rows[3].InnerText, StringComparison.Ordinal);
            // Code-list dropdowns.
            Assert.NotEmpty(part.Worksheet.Descendants<DataValidation>());
        }
        template.Position = 0;

        using (var filled = XlsxCells.Fill(template, Sheet, ($"{value}4", "321")))
        {
            await page.SetInputFilesAsync("#upload-file", new FilePayload
            {
                Name = download.SuggestedFilename, MimeType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Buffer = filled.ToArray(),
            });
            await Task.WhenAll(page.WaitForURLAsync(u => System.Text.RegularExpressions.Regex.IsMatch(u, "/upload/[0-9a-f]{32}$")),
                page.ClickAsync("form.upload button[type=submit]"));
        }
        Assert.Contains("El archivo es válido", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        Assert.Empty(await node.QueryAsync(new StreamObservationsRequest()));
        await Task.WhenAll(page.WaitForURLAsync(u => !u.EndsWith("/submit", StringComparison.Ordinal)), page.ClickAsync("form[action$='/submit'] button"));
        Assert.Contains("Enviado: 1 nuevas", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        var stored = Assert.Single(await node.QueryAsync(new StreamObservationsRequest()));
        Assert.Equal(("ASYLUM_APPLICATIONS", "SLV", "2024", 321.0), (stored.Observation.IndicatorCode, stored.Observation.Country, stored.Observation.Period, stored.Observation.Value));

        // Not a period: refused, no file.
        var bad = await context.APIRequest.GetAsync($"{node.HttpAddress.TrimEnd('/')}{MirpsExchange.Web.Uploads.UploadEndpoints.TemplatePath}?period=soon");
        Assert.Equal(400, bad.Status);
    }
}
