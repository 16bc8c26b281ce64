using Microsoft.Playwright;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The web app in real Chromium against real processes on 127.0.0.1: people sign in through the identity
/// server's code flow with PKCE, pages are Spanish first with English one click away, and axe finds no
/// violation on any page (screenshots under the test output's screenshots folder).
/// </summary>
public class WebAppTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task A_person_signs_in_at_a_node_and_at_the_Secretariat_reads_in_Spanish_switches_to_English_and_signs_out()
    {
        var identity = await SharedIdentity.GetAsync();
        int nodePort = WebApp.FreePort(), secretariatPort = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{nodePort}", $"http://127.0.0.1:{secretariatPort}");
        await using var node = await TestNode.StartAsync("CRI", null, $"--Node:HttpPort={nodePort}", $"--Web:ClientId={clientId}");
        await using var secretariat = await TestSecretariat.StartAsync($"--Node:HttpPort={secretariatPort}", $"--Web:ClientId={clientId}");
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "ana.cri", AccountKind.Analyst, "CRI");
        var regional = await WebApp.ReadyAccountAsync(identity, clientId, "sec", AccountKind.Analyst);

        // Costa Rica's node: the home page asks for a sign-in first, then reads the catalogue with the person's token.
        await using (var context = await browser.Browser.NewContextAsync())
        {
            var page = await context.NewPageAsync();
            await WebApp.SignInAsync(page, $"{node.HttpAddress}/", analyst);
            Assert.Equal("es", await page.GetAttributeAsync("html", "lang"));
            Assert.Equal("Bienvenida", await page.InnerTextAsync("h1"));
            Assert.Contains("Costa Rica", await page.InnerTextAsync("main"), StringComparison.Ordinal);
            Assert.Contains("Nodo de Costa Rica", await page.InnerTextAsync("header"), StringComparison.Ordinal);
            Assert.Contains("Personas refugiadas", await page.InnerTextAsync("main table"), StringComparison.Ordinal);
            Assert.Contains("Datos propios", await page.InnerTextAsync("nav"), StringComparison.Ordinal);
            Assert.DoesNotContain("Indicadores regionales", await page.InnerTextAsync("nav"), StringComparison.Ordinal);
            await WebApp.AssertAccessibleAsync(page, "node-home-es");

            await page.ClickAsync("a.language");
            Assert.Equal("en", await page.GetAttributeAsync("html", "lang"));
            Assert.Equal("Welcome", await page.InnerTextAsync("h1"));
            Assert.Contains("Refugees", await page.InnerTextAsync("main table"), StringComparison.Ordinal);
            await WebApp.AssertAccessibleAsync(page, "node-home-en");

            // Remembered: a new visit stays in English; signing out ends the session.
            await page.GotoAsync($"{node.HttpAddress}/");
            Assert.Equal("Welcome", await page.InnerTextAsync("h1"));
            // Signed out, the home page sends the browser to the identity server's login page again.
            await Task.WhenAll(page.WaitForURLAsync(u => u.Contains("/account/login", StringComparison.Ordinal)), page.ClickAsync("form.signout button"));
        }

        // The Secretariat: a Secretariat analyst signs in there too.
        await using (var context = await browser.Browser.NewContextAsync())
        {
            var page = await context.NewPageAsync();
            await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/", regional);
            Assert.Equal("Bienvenida", await page.InnerTextAsync("h1"));
            Assert.Contains("Secretaría Técnica", await page.InnerTextAsync("header"), StringComparison.Ordinal);
            Assert.Contains("Indicadores regionales", await page.InnerTextAsync("nav"), StringComparison.Ordinal);
            await WebApp.AssertAccessibleAsync(page, "secretariat-home-es");
        }
    }

    [Fact]
    public async Task Over_TLS_a_person_signs_in_at_a_node_whose_pages_read_with_the_token_bound_to_the_node_certificate_and_the_session_cookie_is_secure()
    {
        var folder = TempFolder.Create();
        try
        {
            var certificates = Path.Combine(folder, "certs");
            var ca = MirpsExchange.Cli.Federation.DevelopmentCertificates.CertificateFile(certificates, MirpsExchange.Cli.Federation.DevelopmentCertificates.CaName);
            MirpsExchange.Cli.Federation.DevelopmentCertificates.Ensure(certificates, ["identity", "blz", "admin-client", "blz-client"]);
            await using var identity = await TestIdentity.StartAsync(TlsFederation.TlsArgs(certificates, "identity", ca));
            var port = WebApp.FreePort();
            var clientId = await WebApp.RegisterClientAsync(identity, $"https://127.0.0.1:{port}");
            await using var node = await TestNode.StartAsync("BLZ", identity, [.. TlsFederation.TlsArgs(certificates, "blz", ca), $"--Node:Port={port}", $"--Web:ClientId={clientId}"]);
            Assert.Equal($"https://127.0.0.1:{port}", node.HttpAddress.TrimEnd('/'));
            var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "ana.blz", AccountKind.Analyst, "BLZ");

            // The browser does not know the development CA (the processes trust only it).
            await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
            var page = await context.NewPageAsync();
            await WebApp.SignInAsync(page, $"{node.HttpAddress}/", analyst);
            Assert.Equal("Bienvenida", await page.InnerTextAsync("h1"));
            Assert.Contains("Personas refugiadas", await page.InnerTextAsync("main table"), StringComparison.Ordinal);
            var session = Assert.Single(await context.CookiesAsync(), c => c.Name == "mirps-web");
            Assert.True(session.Secure && session.HttpOnly);
            await WebApp.AssertAccessibleAsync(page, "node-home-tls-es");
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public void Every_web_text_is_written_in_Spanish_and_English_with_the_same_placeholders()
    {
        foreach (var (key, es, en) in MirpsExchange.Web.Texts.All)
        {
            Assert.False(string.IsNullOrWhiteSpace(es) || string.IsNullOrWhiteSpace(en), key);
            Assert.Equal(System.Text.RegularExpressions.Regex.Matches(es, @"\{\d\}").Select(m => m.Value).Order(),
                System.Text.RegularExpressions.Regex.Matches(en, @"\{\d\}").Select(m => m.Value).Order());
        }
    }
}
