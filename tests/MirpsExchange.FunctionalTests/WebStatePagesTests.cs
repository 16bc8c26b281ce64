using System.Text;
using Microsoft.Playwright;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Spreadsheets;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.TestShared;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A State's pages at its node in real Chromium against real processes: the upload (every problem by row and column with
/// nothing written, then a confirmed submission written once; CSV and xlsx), submitters only; own data, shared data and
/// sync status read with the person's token, so a State account never sees another State's Secretariat-only figures;
/// axe on every page and a screenshot of each under the test output.
/// </summary>
public class WebStatePagesTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const string Header = "indicator_code,country,period,sex,age,country_of_origin,value,status,note";

    /// <summary>A node of <paramref name="country"/> serving the web app, its registered client, and the identity.</summary>
    private static async Task<(TestNode Node, string ClientId, TestIdentity Identity)> NodeAsync(string country, params string[] extraArgs)
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        var node = await TestNode.StartAsync(country, null, [$"--Node:HttpPort={port}", $"--Web:ClientId={clientId}", .. extraArgs]);
        return (node, clientId, identity);
    }

    private static async Task<List<StoredObservation>> StoredAsync(TestNode node) => await node.QueryAsync(new StreamObservationsRequest());

    /// <summary>Chooses <paramref name="content"/> as the file and posts the upload form; lands on the upload's page.</summary>
    private static async Task UploadAsync(IPage page, string name, byte[] content, string mimeType = "text/csv")
    {
        await page.SetInputFilesAsync("#upload-file", new FilePayload { Name = name, MimeType = mimeType, Buffer = content });
        await Task.WhenAll(page.WaitForURLAsync(u => System.Text.RegularExpressions.Regex.IsMatch(u, "/upload/[0-9a-f]{32}$")),
            page.ClickAsync("form.upload button[type=submit]"));
    }

    /// <summary>The problems table as (sheet or "", row, column code, message) per row.</summary>
    private static async Task<List<string[]>> ProblemsAsync(IPage page)
    {
        var rows = new List<string[]>();
        foreach (var row in await page.Locator("table.problems tbody tr").AllAsync())
        {
            rows.Add([.. (await row.Locator("td").AllInnerTextsAsync()).Select(t => t.Trim())]);
        }
        return rows;
    }

    [Fact]
    public async Task A_submitter_sees_every_error_of_a_file_by_row_and_column_with_nothing_written_then_submits_a_good_csv_once_and_an_xlsx()
    {
        var (node, clientId, identity) = await NodeAsync("CRI");
        await using var _ = node;
        var submitter = await WebApp.ReadyAccountAsync(identity, clientId, "sub.cri", AccountKind.Submitter, "CRI");
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{node.HttpAddress}/upload", submitter);
        Assert.Equal("Cargar datos", await page.InnerTextAsync("h1"));
        Assert.Contains("Cargar datos", await page.InnerTextAsync("nav"), StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "state-upload-es");

        // Problems of form: a number written with a decimal comma (line 3), an unknown status (line 4).
        var unreadable = $"{Header}\nREFUGEES,CRI,2023,_T,_T,_T,1000,,\nREFUGEES,CRI,2023,F,_T,_T,\"1.200,5\",,\nREFUGEES,CRI,2023,M,_T,_T,10,FINAL,\n";
        await UploadAsync(page, "unreadable.csv", Encoding.UTF8.GetBytes(unreadable));
        var problems = await ProblemsAsync(page);
        Assert.Equal(2, problems.Count);
        Assert.Equal(["Error", "3"], problems[0][..2]);
        Assert.Contains("value", problems[0][2], StringComparison.Ordinal);
        Assert.Contains("'1.200,5' no es un número (use punto para los decimales", problems[0][3], StringComparison.Ordinal);
        Assert.Equal(["Error", "4"], problems[1][..2]);
        Assert.Contains("status", problems[1][2], StringComparison.Ordinal);
        Assert.Contains("'FINAL' no es un estado", problems[1][3], StringComparison.Ordinal);
        Assert.Contains("No se escribió nada", await page.InnerTextAsync("[role=alert]"), StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "state-upload-errors-es");
        // The same problems in English, one click away.
        await page.ClickAsync("a.language");
        await page.WaitForSelectorAsync("html[lang=en]");
        Assert.Contains("'1.200,5' is not a number (use a dot for decimals", (await ProblemsAsync(page))[0][3], StringComparison.Ordinal);
        await page.ClickAsync("a.language");
        await page.WaitForSelectorAsync("html[lang=es]");
        Assert.Contains("no es un número", (await ProblemsAsync(page))[0][3], StringComparison.Ordinal);

        // The catalogue's rules (the node's validator): an unknown sex code on line 2, another State's figure on line 3, and
        // a breakdown above its total (the node's ValidateObservations) in a file that is otherwise well formed.
        var invalid = $"{Header}\nREFUGEES,CRI,2023,X,_T,_T,5,,\nREFUGEES,PAN,2023,_T,_T,_T,5,,\n";
        await UploadAsync(page, "invalid.csv", Encoding.UTF8.GetBytes(invalid));
        problems = await ProblemsAsync(page);
        Assert.Contains(problems, p => p[1] == "2" && p[2].Contains("sex", StringComparison.Ordinal) && p[3].Contains("'X' no es un código de la dimensión SEX", StringComparison.Ordinal));
        Assert.Contains(problems, p => p[1] == "3" && p[2].Contains("country", StringComparison.Ordinal) && p[3].StartsWith("este nodo guarda los datos de CRI", StringComparison.Ordinal));
        var aboveTotal = $"{Header}\nREFUGEES,CRI,2023,_T,_T,_T,100,,\nREFUGEES,CRI,2023,F,_T,_T,150,,\n";
        await UploadAsync(page, "above-total.csv", Encoding.UTF8.GetBytes(aboveTotal));
        problems = await ProblemsAsync(page);
        var rule = Assert.Single(problems);
        Assert.Equal(["Error", "3"], rule[..2]);
        Assert.StartsWith("regla «", rule[3], StringComparison.Ordinal);
        Assert.Contains("(BREAKDOWN_NOT_ABOVE_TOTAL): REFUGEES CRI 2023, 150 ≤ 100 no se cumple", rule[3], StringComparison.Ordinal);
        Assert.Contains("= 150 (línea 3)", rule[3], StringComparison.Ordinal);
        Assert.Contains("= 100 (línea 2)", rule[3], StringComparison.Ordinal);
        Assert.Empty(await StoredAsync(node));

        // A good file: valid, nothing written until the person confirms; then written, and a second confirmation writes nothing.
        var good = $"{Header}\nREFUGEES,CRI,2023,_T,_T,_T,1000,PROVISIONAL,fuente: CONARE\nREFUGEES,CRI,2023,F,_T,_T,400,,\n";
        await UploadAsync(page, "good.csv", Encoding.UTF8.GetBytes(good));
        Assert.Contains("El archivo es válido", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        Assert.Empty(await StoredAsync(node));
        await WebApp.AssertAccessibleAsync(page, "state-upload-valid-es");
        var confirm = await page.GetAttributeAsync("form[action$='/submit']", "action");
        var token = await page.GetAttributeAsync("form[action$='/submit'] input[name=__RequestVerificationToken]", "value");

        // The confirmation without the form's anti-forgery token (a cross-site post) is refused; so is another person's,
        // who cannot see this upload either: nothing is written.
        var forged = await page.APIRequest.PostAsync($"{node.HttpAddress}{confirm}", new APIRequestContextOptions { Form = page.APIRequest.CreateFormData(), MaxRedirects = 0 });
        Assert.Equal(400, forged.Status);
        var other = await WebApp.ReadyAccountAsync(identity, clientId, "sub2.cri", AccountKind.Submitter, "CRI");
        await using (var otherContext = await browser.Browser.NewContextAsync())
        {
            var otherPage = await otherContext.NewPageAsync();
            await WebApp.SignInAsync(otherPage, page.Url, other);
            Assert.Contains("no existe o ha caducado", await otherPage.InnerTextAsync("main"), StringComparison.Ordinal);
            Assert.Equal(0, await otherPage.Locator("form[action$='/submit']").CountAsync());
            var otherToken = await otherPage.GetAttributeAsync("form.upload input[name=__RequestVerificationToken]", "value");
            var stolen = await otherPage.APIRequest.PostAsync($"{node.HttpAddress}{confirm}", new APIRequestContextOptions
            {
                Form = otherPage.APIRequest.CreateFormData().Append("__RequestVerificationToken", otherToken!),
            });
            Assert.True(stolen.Ok, $"{stolen.Status}");
            Assert.Contains("no existe o ha caducado", System.Net.WebUtility.HtmlDecode(await stolen.TextAsync()), StringComparison.Ordinal);
        }
        Assert.Empty(await StoredAsync(node));
        await Task.WhenAll(page.WaitForURLAsync(u => !u.EndsWith("/submit", StringComparison.Ordinal)), page.ClickAsync("form[action$='/submit'] button"));
        Assert.Contains("Enviado: 2 nuevas, 0 revisadas, 0 sin cambios", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "state-upload-written-es");
        var stored = await StoredAsync(node);
        Assert.Equal([1000.0, 400.0], stored.OrderByDescending(o => o.Observation.Value).Select(o => o.Observation.Value));
        Assert.Equal(ObservationStatus.Provisional, stored.Single(o => o.Observation.Sex == "_T").Observation.Status);
        var sequence = (await new SyncService.SyncServiceClient(node.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.Single().LatestSequence;

        // The confirmation posted again (a double click, a resent form): the node answers from the first, nothing is written.
        var again = await page.APIRequest.PostAsync($"{node.HttpAddress}{confirm}", new APIRequestContextOptions
        {
            Form = page.APIRequest.CreateFormData().Append("__RequestVerificationToken", token!),
        });
        Assert.True(again.Ok, $"{again.Status}");
        var againText = System.Net.WebUtility.HtmlDecode(await again.TextAsync());
        Assert.True(againText.Contains("no se escribió nada de nuevo", StringComparison.Ordinal), againText[againText.IndexOf("<main", StringComparison.Ordinal)..]);
        Assert.Equal(sequence, (await new SyncService.SyncServiceClient(node.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.Single().LatestSequence);

        // The xlsx template, filled in: a problem names the sheet, the row and the column; the corrected workbook is written.
        var catalogue = StandardCatalogue.LoadStandard();
        using var template = new MemoryStream();
        XlsxTemplate.Write(template, catalogue, "CRI", "2024");
        var value = XlsxCells.ColumnOf(template, "Procedimientos de asilo", "value");
        const string Xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        using (var bad = XlsxCells.Fill(template, "Procedimientos de asilo", ($"{value}4", "muchas")))
        {
            await UploadAsync(page, "plantilla.xlsx", bad.ToArray(), Xlsx);
        }
        problems = await ProblemsAsync(page);
        Assert.Equal(["Error", "Procedimientos de asilo", "4"], Assert.Single(problems)[..3]);
        Assert.Contains("value", problems[0][3], StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "state-upload-xlsx-errors-es");
        using (var filled = XlsxCells.Fill(template, "Procedimientos de asilo", ($"{value}4", "130")))
        {
            await UploadAsync(page, "plantilla.xlsx", filled.ToArray(), Xlsx);
        }
        Assert.Contains("El archivo es válido", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        await Task.WhenAll(page.WaitForURLAsync(u => !u.EndsWith("/submit", StringComparison.Ordinal)), page.ClickAsync("form[action$='/submit'] button"));
        Assert.Contains("Enviado: 1 nuevas", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        Assert.Contains(await StoredAsync(node), o => o.Observation.IndicatorCode == "ASYLUM_APPLICATIONS" && o.Observation.Period == "2024" && o.Observation.Value == 130);

        // A file over the limit is refused unread, with the limit named.
        var huge = new byte[9 * 1024 * 1024];
        Array.Fill(huge, (byte)'x');
        await UploadAsync(page, "huge.csv", huge);
        Assert.Contains("supera el límite de 8 MiB", await page.InnerTextAsync("table.problems"), StringComparison.Ordinal);

        // In English too.
        await page.GotoAsync($"{node.HttpAddress}/language?to=en&returnUrl=%2Fupload");
        Assert.Equal("Upload", await page.InnerTextAsync("h1"));
        await WebApp.AssertAccessibleAsync(page, "state-upload-en");
    }

    [Fact]
    public async Task An_analyst_cannot_reach_or_post_to_the_upload_and_nothing_is_written()
    {
        var (node, clientId, identity) = await NodeAsync("CRI");
        await using var _ = node;
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "ana.cri", AccountKind.Analyst, "CRI");
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{node.HttpAddress}/", analyst);
        Assert.DoesNotContain("Cargar datos", await page.InnerTextAsync("nav"), StringComparison.Ordinal);
        // The anti-forgery token of a form the analyst may use (sign-out), valid for this session.
        var token = await page.GetAttributeAsync("form.signout input[name=__RequestVerificationToken]", "value");

        await page.GotoAsync($"{node.HttpAddress}/upload");
        Assert.Contains("/denied", page.Url, StringComparison.Ordinal);
        Assert.Equal("Acceso denegado", await page.InnerTextAsync("h1"));

        // The attack: the form posted by hand with a valid session and anti-forgery token.
        var good = $"{Header}\nREFUGEES,CRI,2023,_T,_T,_T,1000,,\n";
        var post = await page.APIRequest.PostAsync($"{node.HttpAddress}/upload/validate", new APIRequestContextOptions
        {
            Multipart = page.APIRequest.CreateFormData()
                .Append("__RequestVerificationToken", token!)
                .Append("file", new FilePayload { Name = "good.csv", MimeType = "text/csv", Buffer = Encoding.UTF8.GetBytes(good) }),
            MaxRedirects = 0,
        });
        Assert.Equal(302, post.Status);
        Assert.Contains("/denied", post.Headers["location"], StringComparison.Ordinal);
        var submit = await page.APIRequest.PostAsync($"{node.HttpAddress}/upload/{new string('0', 32)}/submit", new APIRequestContextOptions
        {
            Form = page.APIRequest.CreateFormData().Append("__RequestVerificationToken", token!),
            MaxRedirects = 0,
        });
        Assert.Equal(302, submit.Status);
        Assert.Contains("/denied", submit.Headers["location"], StringComparison.Ordinal);
        Assert.Empty(await StoredAsync(node));
    }

    /// <summary>
    /// 2,500 observations read 1,000 a page: each page names its rows, the pages hold every row once, and a figure submitted
    /// while the person pages (read "now" on the first page) neither shifts nor joins the later pages: they are read as of the first.
    /// </summary>
    [Fact]
    public async Task A_State_account_pages_through_more_observations_than_a_page_holds_each_row_once()
    {
        var (cri, clientId, identity) = await NodeAsync("CRI");
        await using var _ = cri;
        var rows = DistinctRefugees(2600, "CRI");
        await cri.Observations.SubmitObservationsAsync(Submit([.. rows.Take(2500)]));
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "ana.pages", AccountKind.Analyst, "CRI");
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{cri.HttpAddress}/data?indicator=REFUGEES", analyst);
        Assert.Equal(0, await page.Locator("#page-previous").CountAsync());
        await Task.Delay(1100); // past the second the next pages are pinned to
        await cri.Observations.SubmitObservationsAsync(Submit([.. rows.Skip(2500)]));

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (first, last) in new[] { (1, 1000), (1001, 2000), (2001, 2500) })
        {
            Assert.Equal($"Observaciones {first:#,0} a {last:#,0} (1,000 por página).", (await page.InnerTextAsync("#page-range")).Trim());
            var shown = await page.Locator("table.observations tbody tr").AllInnerTextsAsync();
            Assert.Equal(last - first + 1, shown.Count);
            Assert.All(shown, row => Assert.True(seen.Add(row), $"shown twice: {row}"));
            if (last < 2500)
            {
                await Task.WhenAll(page.WaitForURLAsync(u => u.Contains($"page={last / 1000 + 1}", StringComparison.Ordinal)), page.ClickAsync("#page-next"));
                Assert.Contains("indicator=REFUGEES", page.Url, StringComparison.Ordinal);
            }
        }
        Assert.Equal(0, await page.Locator("#page-next").CountAsync());
        Assert.Equal(2500, seen.Count);
        await WebApp.AssertAccessibleAsync(page, "state-own-data-paged-es");
        // Back one page: the same rows as before.
        await Task.WhenAll(page.WaitForURLAsync(u => u.Contains("page=2", StringComparison.Ordinal)), page.ClickAsync("#page-previous"));
        Assert.Equal("Observaciones 1,001 a 2,000 (1,000 por página).", (await page.InnerTextAsync("#page-range")).Trim());
        // Read now, the same filter holds the new figures too.
        await page.GotoAsync($"{cri.HttpAddress}/data?indicator=REFUGEES&page=3");
        Assert.Equal("Observaciones 2,001 a 2,600 (1,000 por página).", (await page.InnerTextAsync("#page-range")).Trim());
    }

    /// <summary>
    /// A page far past the last allowed (/data?page=2147483647 would have the node stream every row the reader can see and
    /// throw them away): refused with a message asking for a narrower filter, no table, nothing read.
    /// </summary>
    [Fact]
    public async Task A_page_beyond_the_last_allowed_is_refused_without_reading()
    {
        var (cri, clientId, identity) = await NodeAsync("CRI");
        await using var _ = cri;
        await cri.Observations.SubmitObservationsAsync(Submit([.. DistinctRefugees(3, "CRI")]));
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "ana.far", AccountKind.Analyst, "CRI");
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{cri.HttpAddress}/data?page=2147483647", analyst);
        Assert.Contains("100 páginas de 1,000", await page.InnerTextAsync("#page-beyond"), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("table.observations").CountAsync());
        await page.GotoAsync($"{cri.HttpAddress}/shared?page=101");
        Assert.Contains("100 páginas de 1,000", await page.InnerTextAsync("#page-beyond"), StringComparison.Ordinal);
        // The last allowed page is read as any other.
        await page.GotoAsync($"{cri.HttpAddress}/data?page=100");
        Assert.Equal(0, await page.Locator("#page-beyond").CountAsync());
        Assert.Contains("Ninguna observación coincide", await page.InnerTextAsync("main"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_State_account_sees_its_own_data_what_others_shared_with_withheld_values_named_never_another_States_Secretariat_only_figures_and_its_sync_status()
    {
        // Panama shares everything with every State but ASYLUM_APPLICATIONS (Secretariat only), and withholds counts under 5.
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll, "--Node:Sharing:Indicators:ASYLUM_APPLICATIONS:Readers=secretariat",
            "--Node:Sharing:Default:SmallCountThreshold=5");
        var applications = Refugees("PAN", value: 98765);
        applications.IndicatorCode = "ASYLUM_APPLICATIONS";
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", sex: "F", value: 3), Refugees("PAN", sex: "M", value: 227), applications));
        var folder = TempFolder.Create();
        try
        {
            var (cri, clientId, identity) = await NodeAsync("CRI",
                [.. PeerSyncTests.PullArgs(folder, await SharedIdentity.CredentialAsync("CRI"), pan.Peer), "--Node:Peers:0:Origins:0=PAN"]);
            await using var _ = cri;
            // Costa Rica's figure, revised later: the page reproduces the earlier one as of a time between the two.
            await cri.Observations.SubmitObservationsAsync(Submit(Refugees("CRI", value: 1500)));
            await Task.Delay(1100);
            var between = DateTimeOffset.UtcNow;
            await Task.Delay(1100);
            await cri.Observations.SubmitObservationsAsync(Submit(Refugees("CRI", value: 1600)));
            var latest = (await new SyncService.SyncServiceClient(pan.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.Single(o => o.Origin == "PAN").LatestSequence;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while ((await new SyncService.SyncServiceClient(cri.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.SingleOrDefault(o => o.Origin == "PAN")?.LatestSequence != latest)
            {
                Assert.True(DateTime.UtcNow < deadline, "CRI's node did not receive PAN's log");
                await Task.Delay(100);
            }
            var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "ana.cri", AccountKind.Analyst, "CRI");
            await using var context = await browser.Browser.NewContextAsync();
            var page = await context.NewPageAsync();

            // Own data: Costa Rica's figure, and no other State's.
            await WebApp.SignInAsync(page, $"{cri.HttpAddress}/data", analyst);
            Assert.Equal("Datos propios", await page.InnerTextAsync("h1"));
            var own = await page.InnerTextAsync("table.observations");
            Assert.Contains("Personas refugiadas", own, StringComparison.Ordinal);
            Assert.Contains("1,600", own, StringComparison.Ordinal);
            Assert.DoesNotContain("230", own, StringComparison.Ordinal);
            Assert.Contains("Cifras actuales", await page.InnerTextAsync("#asof"), StringComparison.Ordinal);
            await WebApp.AssertAccessibleAsync(page, "state-own-data-es");
            // As of a time between the submission and its revision: the earlier figure.
            // Chromium keeps a datetime-local value without its seconds when they are 0 (and Playwright then calls the typed value malformed).
            await page.FillAsync("input[name=asof]", between.UtcDateTime.ToString(between.Second == 0 ? "yyyy-MM-ddTHH:mm" : "yyyy-MM-ddTHH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
            await Task.WhenAll(page.WaitForURLAsync(u => u.Contains("asof=", StringComparison.Ordinal)), page.ClickAsync("form.query button[type=submit]"));
            var earlier = await page.InnerTextAsync("table.observations");
            Assert.Contains("1,500", earlier, StringComparison.Ordinal);
            Assert.DoesNotContain("1,600", earlier, StringComparison.Ordinal);
            Assert.Contains("Cifras al", await page.InnerTextAsync("#asof"), StringComparison.Ordinal);
            await WebApp.AssertAccessibleAsync(page, "state-own-data-asof-es");
            // Filtered by sex: no row (the figure is a total).
            await page.GotoAsync($"{cri.HttpAddress}/data?sex=F");
            Assert.Contains("Ninguna observación", await page.InnerTextAsync("main"), StringComparison.Ordinal);

            // Shared: Panama's refugees, the small count withheld (named, never 0), never the Secretariat-only applications.
            await page.GotoAsync($"{cri.HttpAddress}/shared");
            Assert.Equal("Datos compartidos", await page.InnerTextAsync("h1"));
            var shared = page.Locator("table.observations");
            Assert.Contains("Panamá", await shared.InnerTextAsync(), StringComparison.Ordinal);
            Assert.Contains("Reservado", await shared.Locator("tr", new LocatorLocatorOptions { HasText = "Femenino" }).InnerTextAsync(), StringComparison.Ordinal);
            foreach (var cell in await shared.Locator("td.number").AllInnerTextsAsync())
            {
                Assert.NotEqual("0", cell.Trim());
            }
            await WebApp.AssertAccessibleAsync(page, "state-shared-es");
            foreach (var url in new[] { "/shared", "/shared?origin=PAN&indicator=ASYLUM_APPLICATIONS", "/data?indicator=ASYLUM_APPLICATIONS", "/data?origin=PAN" })
            {
                await page.GotoAsync($"{cri.HttpAddress}{url}");
                var html = await page.ContentAsync();
                Assert.DoesNotContain("98765", html, StringComparison.Ordinal);
                Assert.DoesNotContain("98,765", html, StringComparison.Ordinal);
                Assert.DoesNotContain("Solicitudes de asilo presentadas</th>", html, StringComparison.Ordinal);
            }

            // Sync status: the logs the node holds and its pull from Panama's node (its own State's accounts may see it).
            await page.GotoAsync($"{cri.HttpAddress}/sync");
            Assert.Equal("Sincronización", await page.InnerTextAsync("h1"));
            Assert.Contains("Panamá", await page.InnerTextAsync("table.origins"), StringComparison.Ordinal);
            Assert.Contains(pan.Address, await page.InnerTextAsync("table.peers"), StringComparison.Ordinal);
            await WebApp.AssertAccessibleAsync(page, "state-sync-es");

            // English, one click away.
            await page.ClickAsync("a.language");
            Assert.Equal("Sync status", await page.InnerTextAsync("h1"));
            await WebApp.AssertAccessibleAsync(page, "state-sync-en");
            await page.GotoAsync($"{cri.HttpAddress}/shared");
            Assert.Contains("Withheld", await page.InnerTextAsync("table.observations"), StringComparison.Ordinal);
            await WebApp.AssertAccessibleAsync(page, "state-shared-en");
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
