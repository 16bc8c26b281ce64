using System.Globalization;
using System.Text.RegularExpressions;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The local federation as a newcomer meets it: <c>mirps devnet</c> started (real processes on loopback, a temporary folder), the web
/// app's address and a demo account read from what it prints, and the Secretariat's pages in real Chromium after a real sign-in.
/// </summary>
public class DevnetWebTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task The_Secretariat_analyst_devnet_prints_signs_in_and_sees_the_federations_figures_and_a_States_page()
    {
        var folder = TempFolder.Create();
        var output = new StringWriter();
        var error = new StringWriter();
        var printed = TextWriter.Synchronized(output);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        var devnet = CliRunner.RunAsync(["devnet", "--dir", folder], printed, TextWriter.Synchronized(error), stop.Token);
        string Printed()
        {
            lock (printed)
            {
                return output.ToString();
            }
        }
        try
        {
            // Running once the tables are printed: the processes stay up until Ctrl+C (the token).
            while (!Printed().Contains("Running. Press", StringComparison.Ordinal))
            {
                if (devnet.IsCompleted)
                {
                    // The folder goes with the test: the end of each process's log is kept in the message.
                    Assert.Fail($"devnet stopped before it ran: {error}{Printed()}" + string.Concat(Directory.GetFiles(folder, "service.log", SearchOption.AllDirectories)
                        .Select(log => $"\n--- {log}:\n{string.Join('\n', File.ReadLines(log).TakeLast(15))}")));
                }
                await Task.Delay(500, stop.Token);
            }
            var text = Printed().ReplaceLineEndings(" ");
            var web = Regex.Match(text, @"web app: .*? secretariat (http://127\.0\.0\.1:\d+)").Groups[1].Value;
            var temporary = Regex.Match(text, @"demo\.secretaria \(Secretariat analyst\): (\S+)").Groups[1].Value;
            Assert.True(web.Length > 0 && temporary.Length > 0, text);

            await using var context = await browser.Browser.NewContextAsync();
            var page = await context.NewPageAsync();
            page.SetDefaultTimeout(60_000);
            // The printed temporary password, replaced at the first sign-in as the identity server's page asks.
            await WebApp.SignInAsync(page, $"{web}/regional?period=2023", "demo.secretaria", temporary, WebApp.Password);

            // The regional table holds the sums of the seven States' sample files, as devnet's own table printed them.
            string Cell(string indicator) => $"#regional tr[data-indicator={indicator}] td:nth-of-type(1)";
            Assert.Equal(CliTests.SampleTotal("REFUGEES").ToString("#,0.##", CultureInfo.InvariantCulture), (await page.InnerTextAsync(Cell("REFUGEES"))).Trim());
            // Mexico's "more than 140,000" claims make the regional applications a lower bound.
            Assert.Equal("≥ " + CliTests.SampleTotal("ASYLUM_APPLICATIONS").ToString("#,0.##", CultureInfo.InvariantCulture),
                (await page.InnerTextAsync(Cell("ASYLUM_APPLICATIONS"))).Trim());
            await WebApp.AssertAccessibleAsync(page, "devnet-secretariat-regional-es");

            // Belize's page: its 240 recognized refugees of the meeting report.
            await page.GotoAsync($"{web}/charts/state/BLZ?indicator=REFUGEES");
            Assert.Contains("Belice", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
            Assert.Matches(@"\b240\b", await page.InnerTextAsync("#state-by-sex table"));
        }
        finally
        {
            // Ctrl+C: every process stopped before the folder goes.
            await stop.CancelAsync();
            await Task.WhenAny(devnet, Task.Delay(TimeSpan.FromMinutes(1)));
            TempFolder.Delete(folder);
        }
        Assert.True(devnet.IsCompletedSuccessfully, $"devnet after Ctrl+C: {devnet.Status} {error}");
        Assert.Equal(CliApp.Ok, await devnet);
    }
}
