using System.Globalization;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Playwright;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The Secretariat's pages in real Chromium: the regional indicators table as RegionalService answers it,
/// an earlier "as of" view, downloads of what is shown parsed back, and a State's account kept out.
/// </summary>
public class WebSecretariatTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static readonly string[] States = ["BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN"];
    private static readonly DateTimeOffset January = new(2024, 1, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset February = new(2024, 2, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset March = new(2024, 3, 15, 0, 0, 0, TimeSpan.Zero);

    private static Observation Obs(string indicator, string country, string period, double value, ObservationStatus status = ObservationStatus.Normal, bool lowerBound = false) => new()
    {
        IndicatorCode = indicator, Country = country, Period = period, Sex = "_T", Age = "_T", CountryOfOrigin = "_T", Value = value, Status = status, LowerBound = lowerBound,
    };

    /// <summary>A Secretariat with a web port and figures received in January, one revised in March.</summary>
    private static async Task<(TestSecretariat Secretariat, string ClientId)> StartAsync()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        var secretariat = await TestSecretariat.StartAsync($"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        // Refugees of every State (Mexico's provisional); applications of all but Honduras, Mexico's a lower bound; decisions for the rates.
        await secretariat.ReplicateAsync(January,
        [
            .. States.Select((c, i) => Obs("REFUGEES", c, "2023", 100 * (i + 1), c == "MEX" ? ObservationStatus.Provisional : ObservationStatus.Normal)),
            .. States.Where(c => c != "HND").Select(c => Obs("ASYLUM_APPLICATIONS", c, "2023", 1000, lowerBound: c == "MEX")),
            .. States.Select(c => Obs("DECISIONS_RECOGNIZED", c, "2023", 30)),
            .. States.Select(c => Obs("DECISIONS_COMPLEMENTARY", c, "2023", 10)),
            .. States.Select(c => Obs("DECISIONS_REJECTED", c, "2023", 60)),
        ]);
        // Belize revises its refugees 100 -> 240 in March.
        await secretariat.ReplicateAsync(March, [Obs("REFUGEES", "BLZ", "2023", 240)]);
        return (secretariat, clientId);
    }

    /// <summary>The page's "as of" (from its link to the view).</summary>
    private static async Task<DateTimeOffset> AsOfOfAsync(IPage page)
    {
        var link = await page.GetAttributeAsync("#permalink", "href");
        var asOf = System.Web.HttpUtility.ParseQueryString(new Uri(new Uri("http://x"), link).Query)["asOf"];
        return DateTimeOffset.Parse(asOf!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
    }

    private static async Task<string> CellAsync(IPage page, string indicator, int column) =>
        (await page.InnerTextAsync($"#regional tr[data-indicator={indicator}] td:nth-of-type({column})")).Trim();

    [Fact]
    public async Task A_Secretariat_analyst_sees_the_regional_table_as_RegionalService_answers_it_switches_language_picks_an_earlier_as_of_and_downloads_each_format()
    {
        var (secretariat, clientId) = await StartAsync();
        await using var _ = secretariat;
        var analyst = await WebApp.ReadyAccountAsync(secretariat.Identity, clientId, "sec.web", AccountKind.Analyst);
        await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { AcceptDownloads = true });
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/regional?period=2023", analyst);

        // Every row is RegionalService's answer for the same period and "as of" (asked here with the Secretariat's credential).
        var asOf = await AsOfOfAsync(page);
        var rows = await page.Locator("#regional tbody tr").AllAsync();
        Assert.True(rows.Count > 10, $"only {rows.Count} indicators");
        var codes = new List<string>();
        foreach (var row in rows)
        {
            var code = (await row.GetAttributeAsync("data-indicator"))!;
            codes.Add(code);
            var answer = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = code, Period = "2023", AsOfTime = Timestamp.FromDateTimeOffset(asOf) });
            var cell = Assert.Single(answer.Cells);
            var shown = cell.ContributingCountries.Count == 0 ? "sin datos"
                : (cell.Complete ? "" : "parcial ") + (cell.LowerBound ? "≥ " : "") + cell.Value.ToString("#,0.##", CultureInfo.InvariantCulture);
            Assert.Equal(shown, (await row.Locator("td").First.InnerTextAsync()).Trim());
            var coverage = await row.Locator("td").Nth(1).InnerTextAsync();
            if (cell.ContributingCountries.Count == 0)
            {
                Assert.Equal("ningún Estado reportó", coverage.Trim());
            }
            foreach (var missing in cell.ContributingCountries.Count == 0 ? [] : cell.MissingCountries)
            {
                Assert.Contains($"({missing})", coverage, StringComparison.Ordinal);
            }
        }
        // 240 + 200 + ... + 700, Mexico's provisional; applications partial without Honduras, at least 6,000 (Mexico's lower bound).
        Assert.Equal("2,940", await CellAsync(page, "REFUGEES", 1));
        Assert.Contains("provisional: MEX", await CellAsync(page, "REFUGEES", 3), StringComparison.Ordinal);
        Assert.Equal("parcial ≥ 6,000", await CellAsync(page, "ASYLUM_APPLICATIONS", 1));
        Assert.Contains("faltan Honduras (HND)", await CellAsync(page, "ASYLUM_APPLICATIONS", 2), StringComparison.Ordinal);
        Assert.Contains("cota inferior (al menos): MEX", await CellAsync(page, "ASYLUM_APPLICATIONS", 3), StringComparison.Ordinal);
        // Protection rates from the regional sums: 210 recognized, 70 complementary, 420 rejected.
        var rates = await page.InnerTextAsync("#rates");
        Assert.Contains("30.0%", rates, StringComparison.Ordinal);
        Assert.Contains("40.0%", rates, StringComparison.Ordinal);
        Assert.Contains("210 / 700", rates, StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "secretariat-regional-es");

        await page.ClickAsync("a.language");
        Assert.Equal("Regional indicators", await page.InnerTextAsync("h1"));
        Assert.Equal("partial ≥ 6,000", await CellAsync(page, "ASYLUM_APPLICATIONS", 1));
        Assert.Contains("Refugees", await page.InnerTextAsync("#regional tr[data-indicator=REFUGEES] th"), StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "secretariat-regional-en");

        // As of February, before Belize's revision: the earlier figure, and a URL that reproduces it.
        await page.FillAsync("#asOf", "2024-02-15T00:00");
        await Task.WhenAll(page.WaitForURLAsync(u => u.Contains("asOf=", StringComparison.Ordinal)), page.ClickAsync("form.query button"));
        Assert.Equal("2,800", await CellAsync(page, "REFUGEES", 1));
        Assert.Equal(February, await AsOfOfAsync(page));
        var shared = await context.NewPageAsync();
        await shared.GotoAsync(page.Url);
        Assert.Equal("2,800", await CellAsync(shared, "REFUGEES", 1));
        await WebApp.AssertAccessibleAsync(page, "secretariat-regional-asof-en");

        // Downloads of what is shown (as of February), each parsed back: the same rows in CSV, SDMX-CSV and xlsx, the protection rates last
        // (30% and 40%, complete), each in a zip beside its provenance, which `mirps regional verify` checks against the States' signed logs.
        var expected = (await RegionalExport.RowsAsync((request, token) => secretariat.Regional.GetRegionalValueAsync(request, cancellationToken: token).ResponseAsync,
            MirpsExchange.Catalogue.StandardCatalogue.LoadStandard(), codes, ["2023"], Breakdown.Unspecified, Timestamp.FromDateTimeOffset(February), CancellationToken.None,
            rates: (request, token) => secretariat.Regional.GetProtectionRatesAsync(request, cancellationToken: token).ResponseAsync)).Rows;
        Assert.Contains(expected, r => r.IndicatorCode == "REFUGEES" && r.Value == 2800);
        Assert.Equal([("REFUGEE_RECOGNITION_RATE", 0.3), ("TOTAL_PROTECTION_RATE", 0.4)], expected.TakeLast(2).Select(r => (r.IndicatorCode, Math.Round(r.Value!.Value, 6))));
        var credential = Path.Combine(secretariat.Folder, "verifier.json");
        OwnerOnlyFile.WriteAllText(credential, System.Text.Json.JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        foreach (var (link, name) in new[] { ("CSV", "csv"), ("SDMX-CSV", "sdmx-csv"), ("Excel (xlsx)", "xlsx") })
        {
            // Each download computes the page again (every indicator and the rates): allow for a loaded machine.
            var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = link, Exact = true }).ClickAsync(),
                new PageRunAndWaitForDownloadOptions { Timeout = 120_000 });
            Assert.EndsWith(".zip", download.SuggestedFilename, StringComparison.Ordinal);
            var file = Path.Combine(secretariat.Folder, $"{Guid.NewGuid():N}-{download.SuggestedFilename}");
            await download.SaveAsAsync(file);
            var folder = Directory.CreateTempSubdirectory("mirps-download-").FullName;
            System.IO.Compression.ZipFile.ExtractToDirectory(file, folder);
            var data = Assert.Single(Directory.GetFiles(folder), f => !f.EndsWith(".provenance.json", StringComparison.Ordinal));
            var provenance = ExportProvenance.Parser.ParseJson(await File.ReadAllTextAsync(data + ".provenance.json"));
            Assert.Equal((February, true), (provenance.AsOfTime.ToDateTimeOffset(), provenance.Rates));
            Assert.Equal(States, provenance.LogHeads.Select(h => h.Origin));
            var text = name == "xlsx" ? XlsxAsCsv(data) : await File.ReadAllTextAsync(data);
            if (name == "sdmx-csv")
            {
                Assert.StartsWith("STRUCTURE,", text, StringComparison.Ordinal);
            }
            Assert.Equal(expected, ExportReader.Read(text));
            var verified = await CliRunner.RunAsync("regional", "verify", file, "--node", secretariat.Address, "--identity", secretariat.Identity.Issuer, "--credential", credential);
            Assert.True(verified.Code == MirpsExchange.Cli.CliApp.Ok, $"{name}: {verified.Error}{verified.Output}");
            Assert.Contains($"verified: {expected.Count} figures", verified.Output, StringComparison.Ordinal);
            Directory.Delete(folder, recursive: true);
        }

        // Approved figures only: nothing here is approved, so no State counts, and the downloads say so in their provenance.
        await page.SelectOptionAsync("#lifecycle", "approved");
        await Task.WhenAll(page.WaitForURLAsync(u => u.Contains("lifecycle=approved", StringComparison.Ordinal)), page.ClickAsync("form.query button"));
        Assert.Equal("no data", await CellAsync(page, "REFUGEES", 1));
        Assert.Equal("—", (await page.InnerTextAsync("#rates tbody tr td")).Trim());
        Assert.Contains("lifecycle=approved", await page.GetAttributeAsync("#permalink", "href"), StringComparison.Ordinal);
        Assert.Contains("lifecycle=approved", await page.GetByRole(AriaRole.Link, new() { Name = "CSV", Exact = true }).GetAttributeAsync("href"), StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "secretariat-regional-approved-en");
    }

    [Fact]
    public async Task A_Secretariat_analyst_sees_the_completeness_heatmap_as_RegionalService_answers_it_and_as_of_an_earlier_time()
    {
        var (secretariat, clientId) = await StartAsync();
        await using var _ = secretariat;
        var analyst = await WebApp.ReadyAccountAsync(secretariat.Identity, clientId, "sec.heat", AccountKind.Analyst);
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/completeness?from=2023", analyst);

        var answer = await secretariat.Regional.GetCompletenessAsync(new GetCompletenessRequest { PeriodFrom = "2023", PeriodTo = "2023", Granularity = Mirps.Catalog.V1.PeriodGranularity.Year });
        Assert.Equal(answer.Cells.Select(c => (c.IndicatorCode, c.Period)).Distinct().Count(), await page.Locator("#completeness tbody tr").CountAsync());
        foreach (var cell in answer.Cells.Where(c => c.IndicatorCode is "REFUGEES" or "ASYLUM_APPLICATIONS" or "IDPS"))
        {
            var shown = (await page.InnerTextAsync($"#completeness tr[data-indicator={cell.IndicatorCode}] td[data-state={cell.Country}]")).Trim();
            var expected = cell.State switch { ReportingState.Reported => "✓ reportado", ReportingState.Provisional => "p provisional", _ => "— falta" };
            Assert.Equal(expected, shown.Replace('\n', ' '));
        }
        Assert.Equal("p provisional", (await page.InnerTextAsync("#completeness tr[data-indicator=REFUGEES] td[data-state=MEX]")).Trim().Replace('\n', ' '));
        Assert.Equal("— falta", (await page.InnerTextAsync("#completeness tr[data-indicator=ASYLUM_APPLICATIONS] td[data-state=HND]")).Trim().Replace('\n', ' '));
        // The same matrix as a heatmap drawn by ECharts (from the NuGet package's script) beside the table.
        await page.WaitForSelectorAsync("#completeness-chart[data-chart-drawn] svg");
        await WebApp.AssertAccessibleAsync(page, "secretariat-completeness-es");
        // This Secretariat published no reporting calendar: the cycle section says so rather than judging anyone late.
        Assert.Contains("no ha publicado un calendario", await page.InnerTextAsync("#cycle-note"));

        // Before anything was received, every State is missing.
        await page.GotoAsync($"{secretariat.HttpAddress}/completeness?from=2023&asOf=2024-01-01T00:00:00");
        Assert.Equal("— falta", (await page.InnerTextAsync("#completeness tr[data-indicator=REFUGEES] td[data-state=BLZ]")).Trim().Replace('\n', ' '));
    }

    /// <summary>
    /// BLZ's log reaches the Secretariat only through a relay that did not hold its first change (a NOT_HELD placeholder): no
    /// figure can read any of BLZ's log, so BLZ is missing everywhere. The regional and completeness pages say why: change 1
    /// is pending, and none of BLZ's log (held up to change 2) is read (RegionalProvenanceTests has the answers themselves).
    /// </summary>
    [Fact]
    public async Task A_Secretariat_analyst_sees_why_a_State_is_missing_when_its_first_change_is_pending()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, Samples.ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Samples.Submit(Obs("REFUGEES", "BLZ", "2023", 100)));
        await origin.Observations.SubmitObservationsAsync(Samples.Submit(Obs("REFUGEES", "BLZ", "2022", 70)));
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        var (relay, secretariat) = await RegionalProvenanceTests.RelayedAsync(origin, sequence => sequence == 1, $"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        await using var _ = relay;
        await using var __ = secretariat;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (secretariat.CountRows("withheld_changes") != 1 || secretariat.CountRows("log_heads") != 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for BLZ's log through the relay");
            await Task.Delay(100);
        }
        var analyst = await WebApp.ReadyAccountAsync(secretariat.Identity, clientId, "sec.pending", AccountKind.Analyst);
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/regional?period=2023", analyst);

        Assert.Equal("sin datos", await CellAsync(page, "REFUGEES", 1));
        Assert.Contains("pendiente: Belice (BLZ) desde el cambio 1", await CellAsync(page, "REFUGEES", 2), StringComparison.Ordinal);
        var pending = await page.InnerTextAsync("#pending li[data-state=BLZ]");
        Assert.Contains("Belice (BLZ): el cambio 1 de su registro está pendiente (el nodo que lo retransmitió no lo tenía", pending, StringComparison.Ordinal);
        Assert.Contains("no leen nada de su registro (recibido hasta el cambio 2)", pending, StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "secretariat-regional-pending-es");

        await page.GotoAsync($"{secretariat.HttpAddress}/completeness?from=2023");
        Assert.Equal("— falta", (await page.InnerTextAsync("#completeness tr[data-indicator=REFUGEES] td[data-state=BLZ]")).Trim().Replace('\n', ' '));
        Assert.Contains("el cambio 1 de su registro está pendiente", await page.InnerTextAsync("#pending li[data-state=BLZ]"), StringComparison.Ordinal);
    }

    /// <summary>
    /// The completeness page's reporting cycle, as GetTimeliness answers it: PAN approved two quarters ago's refugees late and
    /// this quarter's on time; Belize approved nothing (overdue two quarters ago, its extension not run out this quarter).
    /// Each cell shows the approval state and the timeliness; the rates per State follow. Without a calendar, the page says so.
    /// </summary>
    [Fact]
    public async Task A_Secretariat_analyst_sees_approval_and_timeliness_per_State_as_GetTimeliness_answers_them()
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var current = new MirpsExchange.Catalogue.Periods.Period(Mirps.Catalog.V1.PeriodGranularity.Quarter, today.Year, (today.Month - 1) / 3 + 1);
        var earlier = current.Previous().Previous();
        await using var pan = await TestNode.StartAsync("PAN", null, Samples.ShareWithAll);
        await using var blz = await TestNode.StartAsync("BLZ", null, Samples.ShareWithAll);
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        var file = Path.Combine(pan.Folder, $"secretariat-{Guid.NewGuid():N}.json");
        MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        await using var secretariat = await TestSecretariat.StartAsync(
            $"--Node:HttpPort={port}", $"--Web:ClientId={clientId}", $"--Node:Credential={file}", "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={pan.Address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN",
            $"--Node:Peers:1:Address={blz.Address}", "--Node:Peers:1:Country=BLZ", "--Node:Peers:1:Origins:0=BLZ",
            "--Calendar:Rules:0:GroupId=POPULATIONS", "--Calendar:Rules:0:Granularity=quarter", "--Calendar:Rules:0:DueDays=45", "--Calendar:Rules:0:Extensions:BLZ=30");
        await pan.Observations.SubmitObservationsAsync(Samples.Submit(Samples.Refugees("PAN", earlier.ToString(), 230), Samples.Refugees("PAN", current.ToString(), 231)));
        await blz.Observations.SubmitObservationsAsync(Samples.Submit(Samples.Refugees("BLZ", earlier.ToString(), 240)));
        await new Mirps.Approval.V1.ApprovalService.ApprovalServiceClient(pan.ChannelWith(pan.TokensFor(await SharedIdentity.ApproverAsync("PAN"),
                $"{Mirps.Auth.MirpsAuth.ReadScope} {Mirps.Auth.MirpsAuth.ApproveScope}").ToCallCredentials()))
            .ApproveDataAsync(new Mirps.Approval.V1.ApproveDataRequest { GroupIds = { "POPULATIONS" }, Periods = { earlier.ToString(), current.ToString() } });
        var request = new GetTimelinessRequest { PeriodFrom = earlier.ToString(), PeriodTo = current.ToString() };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var answer = await secretariat.Regional.GetTimelinessAsync(request);
        while (!answer.Cells.Any(c => c.Country == "PAN" && c.Period == current.ToString() && c.Timeliness == Timeliness.OnTime) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            answer = await secretariat.Regional.GetTimelinessAsync(request);
        }

        var analyst = await WebApp.ReadyAccountAsync(secretariat.Identity, clientId, "sec.cycle", AccountKind.Analyst);
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/completeness?from={earlier}&to={current}", analyst);

        async Task<string> ShownAsync(string period, string state) =>
            (await page.InnerTextAsync($"#cycle tr[data-group=POPULATIONS][data-period='{period}'] td[data-state={state}]")).Trim().Replace('\n', ' ');
        var cells = answer.Cells.ToDictionary(c => (c.Country, c.Period));
        Assert.Equal($"aprobado tarde por {cells[("PAN", earlier.ToString())].DaysLate} días", await ShownAsync(earlier.ToString(), "PAN"));
        Assert.Equal($"borrador vencido hace {cells[("BLZ", earlier.ToString())].DaysLate} días", await ShownAsync(earlier.ToString(), "BLZ"));
        Assert.Equal("aprobado a tiempo", await ShownAsync(current.ToString(), "PAN"));
        Assert.Equal($"borrador vence el {cells[("BLZ", current.ToString())].DueDate}", await ShownAsync(current.ToString(), "BLZ"));
        Assert.Equal(current.End.AddDays(75).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), cells[("BLZ", current.ToString())].DueDate);
        // Rates as GetTimeliness counts them (PAN: this quarter on time, two quarters ago late, the quarter between overdue
        // once its due date passed); Belize approved nothing: 0 %; a State with nothing at all has no rate.
        var states = answer.States.ToDictionary(r => r.Country);
        Assert.Equal(1, states["PAN"].OnTimeCount);
        Assert.Equal($"{100.0 / states["PAN"].DueCount:0} %", (await page.InnerTextAsync("#timeliness tr[data-state=PAN] td:nth-of-type(5)")).Trim());
        Assert.Equal("0 %", (await page.InnerTextAsync("#timeliness tr[data-state=BLZ] td:nth-of-type(5)")).Trim());
        Assert.Equal(answer.States.Count, await page.Locator("#timeliness tbody tr").CountAsync());
        await WebApp.AssertAccessibleAsync(page, "secretariat-completeness-cycle-es");
    }

    /// <summary>The first sheet of an xlsx as CSV text (every cell an inline string, as the download writes them).</summary>
    internal static string XlsxAsCsv(string file)
    {
        using var document = SpreadsheetDocument.Open(file, false);
        var workbook = document.WorkbookPart!;
        var part = (WorksheetPart)workbook.GetPartById(workbook.Workbook.Sheets!.Elements<Sheet>().First().Id!);
        var lines = new List<string>();
        var width = 0;
        foreach (var row in part.Worksheet.GetFirstChild<SheetData>()!.Elements<Row>())
        {
            var cells = new List<string>();
            foreach (var cell in row.Elements<Cell>())
            {
                var column = new string([.. cell.CellReference!.Value!.TakeWhile(char.IsLetter)]).Aggregate(0, (n, c) => n * 26 + c - 'A' + 1) - 1;
                while (cells.Count < column)
                {
                    cells.Add("");
                }
                cells.Add(cell.InlineString?.InnerText ?? cell.CellValue?.Text ?? "");
            }
            // Empty cells are not written: a row is as wide as the header.
            width = Math.Max(width, cells.Count);
            while (cells.Count < width)
            {
                cells.Add("");
            }
            lines.Add(string.Join(',', cells.Select(ObservationCsv.Quote)));
        }
        return string.Join("\r\n", lines) + "\r\n";
    }

    [Fact]
    public async Task A_State_account_signed_in_at_the_Secretariat_cannot_open_its_regional_page_or_downloads()
    {
        var (secretariat, clientId) = await StartAsync();
        await using var _ = secretariat;
        // A Guatemalan analyst: the identity server issues a token for the Secretariat's audience (role state), so sign-in succeeds.
        var stateAnalyst = await WebApp.ReadyAccountAsync(secretariat.Identity, clientId, "gtm.web", AccountKind.Analyst, "GTM");
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/", stateAnalyst);
        Assert.DoesNotContain("Indicadores regionales", await page.InnerTextAsync("nav"), StringComparison.Ordinal);

        var regional = await page.GotoAsync($"{secretariat.HttpAddress}/regional?period=2023");
        Assert.Contains("/denied", page.Url, StringComparison.Ordinal);
        Assert.Equal("Acceso denegado", await page.InnerTextAsync("h1"));
        Assert.Equal(0, await page.Locator("#regional").CountAsync());
        Assert.DoesNotContain("2,940", await page.ContentAsync(), StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "secretariat-denied-es");

        // The download of the same figures, asked directly: refused, no file.
        var download = await context.APIRequest.GetAsync($"{secretariat.HttpAddress}{MirpsExchange.Web.Secretariat.RegionalDownloads.Url("csv", "2023", January)}",
            new() { MaxRedirects = 0 });
        Assert.NotEqual(200, download.Status);
        Assert.DoesNotContain("REFUGEES", await download.TextAsync(), StringComparison.Ordinal);
    }
}
