using System.IO.Compression;
using Microsoft.Playwright;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Downloads of the completeness, charts and per-State charts pages in real Chromium: each is a zip of what the page shows
/// and its provenance, parsed back and compared with the services' answers; a State's account gets none of them.
/// </summary>
public class PageDownloadsWebTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static readonly DateTimeOffset January = new(2024, 1, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset March = new(2024, 3, 15, 0, 0, 0, TimeSpan.Zero);

    private static Observation Obs(string country, string period, double value, string sex = "_T") => new()
    {
        IndicatorCode = "REFUGEES", Country = country, Period = period, Sex = sex, Age = "_T", CountryOfOrigin = "_T", Value = value, Status = ObservationStatus.Normal,
    };

    [Fact]
    public async Task The_completeness_and_chart_pages_download_what_they_show_with_provenance_and_a_State_account_downloads_nothing()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        await using var secretariat = await TestSecretariat.StartAsync($"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        await secretariat.ReplicateAsync(January,
            [Obs("CRI", "2022", 100), Obs("CRI", "2023", 150), Obs("PAN", "2022", 50), Obs("PAN", "2023", 70), Obs("CRI", "2023", 80, sex: "F"), Obs("CRI", "2023", 70, sex: "M")]);
        // Panama's 2023 figure is revised in March; the view as of February shows (and downloads) the January one.
        await secretariat.ReplicateAsync(March, [Obs("PAN", "2023", 4321)]);
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "sec.dl", AccountKind.Analyst);

        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var links = new List<string>();

        // The charts as of February: each State's figures, the regional totals and the breakdowns, as the services answer them then.
        await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/charts?indicator=REFUGEES&asOf=2024-02-01T00:00", analyst);
        var (charts, provenance) = await DownloadAsync(page, "CSV", secretariat.Folder, links);
        Assert.Equal(new DateTimeOffset(2024, 2, 1, 0, 0, 0, TimeSpan.Zero), provenance.AsOfTime.ToDateTimeOffset());
        Assert.Contains(provenance.LogHeads, h => h.Origin == "PAN");
        Assert.Equal(70, Value(charts, "PAN", "2023"));
        Assert.DoesNotContain(charts, r => r.Value == 4321);
        Assert.Equal(150, Value(charts, "CRI", "2023"));
        // Only two States reported: the regional figures are partial, written as regional exports write them (no value, the partial sum named).
        Assert.Null(Value(charts, ExportRow.RegionalAggregate, "2023"));
        Assert.Contains("their sum is 220", Row(charts, ExportRow.RegionalAggregate, "2023").Note, StringComparison.Ordinal);
        Assert.Contains("their sum is 150", Row(charts, ExportRow.RegionalAggregate, "2022").Note, StringComparison.Ordinal);
        Assert.Contains("their sum is 80", Assert.Single(charts, r => r.ReferenceArea == ExportRow.RegionalAggregate && r.Sex == "F").Note, StringComparison.Ordinal);
        var (xlsx, _) = await DownloadAsync(page, "Excel (xlsx)", secretariat.Folder, links);
        Assert.Equal(charts, xlsx);
        await WebApp.AssertAccessibleAsync(page, "secretariat-charts-downloads-es");

        // Costa Rica's drill-down: its own figures (totals and by sex), nobody else's.
        await page.GotoAsync($"{secretariat.HttpAddress}/charts/state/CRI?indicator=REFUGEES&asOf=2024-02-01T00:00");
        var (drill, _) = await DownloadAsync(page, "SDMX-CSV", secretariat.Folder, links);
        Assert.All(drill, r => Assert.Equal("CRI", r.ReferenceArea));
        Assert.Equal(new[] { ("2022", "_T", 100.0), ("2023", "F", 80.0), ("2023", "M", 70.0), ("2023", "_T", 150.0) }.Order(),
            drill.Select(r => (r.Period, r.Sex, r.Value!.Value)).Order());

        // The completeness heatmap of 2023 now: one row per cell the page shows, in the page's words.
        await page.GotoAsync($"{secretariat.HttpAddress}/completeness?from=2023");
        var answer = await secretariat.Regional.GetCompletenessAsync(new GetCompletenessRequest { PeriodFrom = "2023", PeriodTo = "2023", Granularity = Mirps.Catalog.V1.PeriodGranularity.Year });
        var (lines, completenessProvenance) = await DownloadTextAsync(page, "CSV", secretariat.Folder, links);
        Assert.Equal("Código,Indicador,Período,Estado,Estado del reporte", lines[0]);
        Assert.Equal(answer.Cells.Count, lines.Length - 1);
        Assert.Contains("REFUGEES,Personas refugiadas,2023,PAN,reportado", lines);
        Assert.Contains("REFUGEES,Personas refugiadas,2023,HND,falta", lines);
        Assert.Equal(answer.LogHeads, completenessProvenance.LogHeads);
        await WebApp.AssertAccessibleAsync(page, "secretariat-completeness-downloads-es");

        // A State's person signed in at the Secretariat asks for the very files the analyst was given: refused, no figure.
        var state = await WebApp.ReadyAccountAsync(identity, clientId, "gtm.dl", AccountKind.Analyst, "GTM");
        await using var stateContext = await browser.Browser.NewContextAsync();
        var statePage = await stateContext.NewPageAsync();
        await WebApp.SignInAsync(statePage, $"{secretariat.HttpAddress}/", state);
        Assert.Equal(4, links.Count);
        foreach (var link in links)
        {
            var response = await stateContext.APIRequest.GetAsync(secretariat.HttpAddress.TrimEnd('/') + link, new() { MaxRedirects = 0 });
            // Refused as the pages are (sent to /denied), not merely unknown.
            Assert.True(response.Status == 302 && response.Headers.GetValueOrDefault("location", "").Contains("/denied", StringComparison.Ordinal),
                $"{link}: {response.Status} {response.Headers.GetValueOrDefault("location")}");
            Assert.NotEqual("application/zip", response.Headers.GetValueOrDefault("content-type"));
            var body = await response.TextAsync();
            Assert.DoesNotContain("REFUGEES", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Verify_checks_each_States_rows_of_the_chart_downloads_in_CSV_and_xlsx_and_names_the_file_or_sheet_row_and_field_of_a_tampered_one()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        await using var secretariat = await TestSecretariat.StartAsync($"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        await secretariat.ReplicateAsync(January,
            [Obs("CRI", "2022", 100), Obs("CRI", "2023", 150), Obs("PAN", "2022", 50), Obs("PAN", "2023", 70), Obs("CRI", "2023", 80, sex: "F"), Obs("CRI", "2023", 70, sex: "M"),
             Obs("GTM", "2022", 30)]);
        // Guatemala withholds its 2023 figure (it sends none): no download may show one for it.
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "sec.verify", AccountKind.Analyst);
        var credential = Path.Combine(secretariat.Folder, "verifier.json");
        MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(credential, System.Text.Json.JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        Task<(int Code, string Output, string Error)> VerifyAsync(string file) =>
            CliRunner.RunAsync("regional", "verify", file, "--node", secretariat.Address, "--identity", identity.Issuer, "--credential", credential);

        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var links = new List<string>();
        await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/charts?indicator=REFUGEES&asOf=2024-02-01T00:00", analyst);
        var csv = await DownloadZipAsync(page, "CSV", secretariat.Folder, links);
        var xlsx = await DownloadZipAsync(page, "Excel (xlsx)", secretariat.Folder, links);
        await page.GotoAsync($"{secretariat.HttpAddress}/charts/state/CRI?indicator=REFUGEES&asOf=2024-02-01T00:00");
        var drill = await DownloadZipAsync(page, "SDMX-CSV", secretariat.Folder, links);

        await page.GotoAsync($"{secretariat.HttpAddress}/completeness?from=2023");
        var completeness = await DownloadZipAsync(page, "CSV", secretariat.Folder, links);
        var completenessXlsx = await DownloadZipAsync(page, "Excel (xlsx)", secretariat.Folder, links);
        foreach (var file in new[] { completeness, completenessXlsx })
        {
            var verified = await VerifyAsync(file);
            Assert.True(verified.Code == MirpsExchange.Cli.CliApp.Ok, $"{Path.GetFileName(file)}: {verified.Error}{verified.Output}");
            Assert.Contains(" completeness cells follow from the signed logs of ", verified.Output, StringComparison.Ordinal);
        }
        // Honduras, which sent nothing, said to have reported REFUGEES in 2023.
        var matrix = System.Text.Encoding.UTF8.GetString(EntryBytes(completeness, ".csv")).Split("\r\n").ToList();
        var hnd = matrix.IndexOf("REFUGEES,Personas refugiadas,2023,HND,falta");
        Assert.True(hnd > 0, string.Join("\n", matrix.Take(5)));
        matrix[hnd] = "REFUGEES,Personas refugiadas,2023,HND,reportado";
        var forgedMatrix = await VerifyAsync(Rezip(completeness, ".csv", System.Text.Encoding.UTF8.GetBytes(string.Join("\r\n", matrix))));
        Assert.True(forgedMatrix.Code == MirpsExchange.Cli.CliApp.Refused, forgedMatrix.Error + forgedMatrix.Output);
        Assert.Contains($".csv, line {hnd + 1}: the cell REFUGEES 2023 HND, field state: the export says reported; the signed logs give missing", forgedMatrix.Error, StringComparison.Ordinal);

        // Untouched, each verifies: the States' rows against their signed logs, the regional totals and breakdowns computed again.
        foreach (var (file, figures) in new[] { (csv, 5 + 2 + 2), (xlsx, 5 + 2 + 2), (drill, 4) })
        {
            var verified = await VerifyAsync(file);
            Assert.True(verified.Code == MirpsExchange.Cli.CliApp.Ok, $"{Path.GetFileName(file)}: {verified.Error}{verified.Output}");
            Assert.Contains($"verified: {figures} figures", verified.Output, StringComparison.Ordinal);
        }

        // One cell of the workbook edited: Panama's 2023 figure 70 made 71.
        var (sheet, table) = MirpsExchange.Catalogue.Spreadsheets.ObservationXlsx.ReadTable(new MemoryStream(EntryBytes(xlsx, ".xlsx")));
        var valueColumn = table[0].Fields.IndexOf("value");
        var panRow = table.Single(r => r.Fields.Contains("PAN") && r.Fields.Contains("2023")).Line;
        var cell = $"{ColumnName(valueColumn)}{panRow}";
        // Edited as Excel saves a number (a numeric cell, no style): not the download's form, so not read at all, the cell named: it does not verify (exit 1).
        var edited = MirpsExchange.TestShared.XlsxCells.Fill(new MemoryStream(EntryBytes(xlsx, ".xlsx")), sheet, (cell, "71"));
        var result = await VerifyAsync(Rezip(xlsx, ".xlsx", edited.ToArray()));
        Assert.True(result.Code == MirpsExchange.Cli.CliApp.Refused, result.Error + result.Output);
        Assert.Contains($"sheet '{sheet}', cell {cell}: ", result.Error, StringComparison.Ordinal);
        // The same edit in the download's own form (written again by its writer): read, and the figure refused against the signed log.
        var forgedRows = table.Select(r => r.Fields.ToList()).ToList();
        forgedRows.Single(r => r.Contains("PAN") && r.Contains("2023"))[valueColumn] = "71";
        var rewritten = new MemoryStream();
        MirpsExchange.Catalogue.Spreadsheets.XlsxTemplate.WriteTable(rewritten, sheet, forgedRows[0], forgedRows.Skip(1));
        result = await VerifyAsync(Rezip(xlsx, ".xlsx", rewritten.ToArray()));
        Assert.True(result.Code == MirpsExchange.Cli.CliApp.Refused, result.Error + result.Output);
        Assert.Contains($"sheet '{sheet}', row {panRow}: the row REFUGEES PAN 2023 _T _T _T, field value: the export says value 71", result.Error, StringComparison.Ordinal);
        Assert.Contains("PAN's signed log up to the head at change 2 gives value 70", result.Error, StringComparison.Ordinal);

        // One State row of the CSV edited: Costa Rica's 2022 figure 100 made 110.
        var text = System.Text.Encoding.UTF8.GetString(EntryBytes(csv, ".csv"));
        var criLine = ExportReader.ReadNumbered(new StringReader(text)).Single(r => r.Row.ReferenceArea == "CRI" && r.Row.Period == "2022").Line;
        var lines = text.Split("\r\n").ToList();
        Assert.Contains(",100,", lines[criLine - 1], StringComparison.Ordinal);
        lines[criLine - 1] = lines[criLine - 1].Replace(",100,", ",110,", StringComparison.Ordinal);
        result = await VerifyAsync(Rezip(csv, ".csv", System.Text.Encoding.UTF8.GetBytes(string.Join("\r\n", lines))));
        Assert.True(result.Code == MirpsExchange.Cli.CliApp.Refused, result.Error + result.Output);
        Assert.Contains($".csv, line {criLine}: the row REFUGEES CRI 2022 _T _T _T, field value: the export says value 110", result.Error, StringComparison.Ordinal);
        Assert.Contains("CRI's signed log up to the head at change 4 gives value 100", result.Error, StringComparison.Ordinal);

        // A forged file beside the download and its provenance, or a second provenance: refused, the entry named (exit 1: it does not verify), never an unhandled exception.
        foreach (var extra in new[] { "mirps-final.csv", "other.csv.provenance.json" })
        {
            var copy = Path.Combine(Path.GetDirectoryName(csv)!, $"extra-{Guid.NewGuid():N}-{Path.GetFileName(csv)}");
            File.Copy(csv, copy);
            using (var archive = ZipFile.Open(copy, ZipArchiveMode.Update))
            {
                using var added = archive.CreateEntry(extra).Open();
                added.Write(EntryBytes(csv, ".csv"));
            }
            result = await VerifyAsync(copy);
            Assert.True(result.Code == MirpsExchange.Cli.CliApp.Refused, $"{extra}: {result.Error}{result.Output}");
            Assert.Contains(extra, result.Error, StringComparison.Ordinal);
        }

        // A row added for Guatemala, which withheld its 2023 figure, and one for Honduras, which sent none at all: neither follows from a signed log.
        var panLine = ExportReader.ReadNumbered(new StringReader(text)).Single(r => r.Row.ReferenceArea == "PAN" && r.Row.Period == "2023").Line;
        foreach (var (state, expected) in new[]
        {
            ("GTM", "does not follow from GTM's signed log up to the head at change 1: it holds no current figure of that key"),
            ("HND", "is HND's, but the provenance names no head of HND's log"),
        })
        {
            lines = [.. text.Split("\r\n")];
            lines.Insert(panLine, lines[panLine - 1].Replace(",PAN,", $",{state},", StringComparison.Ordinal));
            result = await VerifyAsync(Rezip(csv, ".csv", System.Text.Encoding.UTF8.GetBytes(string.Join("\r\n", lines))));
            Assert.True(result.Code == MirpsExchange.Cli.CliApp.Refused, $"{state}: {result.Error}{result.Output}");
            Assert.Contains($".csv, line {panLine + 1}: the row REFUGEES {state} 2023 _T _T _T (value 70, normal)", result.Error, StringComparison.Ordinal);
            Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        }

        // A State's row left out of the drill-down: Costa Rica signed it, so the download is not what the page showed.
        var drillText = System.Text.Encoding.UTF8.GetString(EntryBytes(drill, ".csv"));
        var femaleLine = ExportReader.ReadNumbered(new StringReader(drillText)).Single(r => r.Row.Sex == "F").Line;
        lines = [.. drillText.Split("\r\n")];
        lines.RemoveAt(femaleLine - 1);
        result = await VerifyAsync(Rezip(drill, ".csv", System.Text.Encoding.UTF8.GetBytes(string.Join("\r\n", lines))));
        Assert.True(result.Code == MirpsExchange.Cli.CliApp.Refused, result.Error + result.Output);
        Assert.Contains("the figure REFUGEES CRI 2023 F _T _T (value 80, normal) is in CRI's signed log (its change 3) but not in the export", result.Error, StringComparison.Ordinal);
    }

    /// <summary>A spreadsheet column's letters: 0 is A, 26 is AA.</summary>
    private static string ColumnName(int index) => index < 26 ? ((char)('A' + index)).ToString() : ColumnName(index / 26 - 1) + (char)('A' + index % 26);

    /// <summary>Clicks the download link <paramref name="name"/> and saves the zip as it came.</summary>
    private static async Task<string> DownloadZipAsync(IPage page, string name, string folder, List<string> links)
    {
        var link = page.Locator("p.downloads").GetByRole(AriaRole.Link, new() { Name = name, Exact = true });
        links.Add((await link.GetAttributeAsync("href"))!);
        var download = await page.RunAndWaitForDownloadAsync(() => link.ClickAsync(), new PageRunAndWaitForDownloadOptions { Timeout = 120_000 });
        var file = Path.Combine(folder, $"{Guid.NewGuid():N}-{download.SuggestedFilename}");
        await download.SaveAsAsync(file);
        return file;
    }

    /// <summary>The bytes of the zip's data file (the entry ending in <paramref name="ending"/>).</summary>
    private static byte[] EntryBytes(string zip, string ending)
    {
        using var archive = ZipFile.OpenRead(zip);
        using var stream = archive.Entries.Single(e => e.Name.EndsWith(ending, StringComparison.Ordinal)).Open();
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>A copy of <paramref name="zip"/> whose data file (ending in <paramref name="ending"/>) holds <paramref name="data"/>, its provenance unchanged.</summary>
    private static string Rezip(string zip, string ending, byte[] data)
    {
        var copy = Path.Combine(Path.GetDirectoryName(zip)!, $"tampered-{Guid.NewGuid():N}-{Path.GetFileName(zip)}");
        File.Copy(zip, copy);
        using var archive = ZipFile.Open(copy, ZipArchiveMode.Update);
        var entry = archive.Entries.Single(e => e.Name.EndsWith(ending, StringComparison.Ordinal));
        var name = entry.FullName;
        entry.Delete();
        using var stream = archive.CreateEntry(name).Open();
        stream.Write(data);
        return copy;
    }

    private static ExportRow Row(List<ExportRow> rows, string area, string period) =>
        Assert.Single(rows, r => r.ReferenceArea == area && r.Period == period && r.Sex is "_T" or "" && r.Age is "_T" or "" && r.CountryOfOrigin is "_T" or "");

    private static double? Value(List<ExportRow> rows, string area, string period) => Row(rows, area, period).Value;

    /// <summary>Clicks the download link <paramref name="name"/>, keeps its address, and reads the zip's file and provenance.</summary>
    private static async Task<(string Data, ExportProvenance Provenance)> DownloadFileAsync(IPage page, string name, string folder, List<string> links)
    {
        var link = page.Locator("p.downloads").GetByRole(AriaRole.Link, new() { Name = name, Exact = true });
        links.Add((await link.GetAttributeAsync("href"))!);
        var download = await page.RunAndWaitForDownloadAsync(() => link.ClickAsync(), new PageRunAndWaitForDownloadOptions { Timeout = 120_000 });
        Assert.EndsWith(".zip", download.SuggestedFilename, StringComparison.Ordinal);
        var file = Path.Combine(folder, $"{Guid.NewGuid():N}-{download.SuggestedFilename}");
        await download.SaveAsAsync(file);
        using var zip = ZipFile.OpenRead(file);
        Assert.Equal(2, zip.Entries.Count);
        var data = Assert.Single(zip.Entries, e => !e.Name.EndsWith(".provenance.json", StringComparison.Ordinal));
        var sidecar = Assert.Single(zip.Entries, e => e.Name == data.Name + ".provenance.json");
        using var provenance = new StreamReader(sidecar.Open());
        var extracted = Path.Combine(folder, $"{Guid.NewGuid():N}-{data.Name}");
        data.ExtractToFile(extracted);
        return (extracted, ExportProvenance.Parser.ParseJson(await provenance.ReadToEndAsync()));
    }

    private static async Task<(List<ExportRow> Rows, ExportProvenance Provenance)> DownloadAsync(IPage page, string name, string folder, List<string> links)
    {
        var (file, provenance) = await DownloadFileAsync(page, name, folder, links);
        var text = file.EndsWith(".xlsx", StringComparison.Ordinal) ? WebSecretariatTests.XlsxAsCsv(file) : await File.ReadAllTextAsync(file);
        return (ExportReader.Read(text), provenance);
    }

    private static async Task<(string[] Lines, ExportProvenance Provenance)> DownloadTextAsync(IPage page, string name, string folder, List<string> links)
    {
        var (file, provenance) = await DownloadFileAsync(page, name, folder, links);
        return ((await File.ReadAllTextAsync(file)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries), provenance);
    }
}
