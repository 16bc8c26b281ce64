using Microsoft.Playwright;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The identity server's own pages (sign-in, new password, TOTP enrolment and code) in real Chromium, reached
/// the way a person reaches them: from a node's web app through the authorization code flow. axe finds no
/// violation on any of them, in Spanish and English, with and without an error shown.
/// </summary>
public class IdentityPagesWebTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task The_sign_in_new_password_and_TOTP_pages_pass_axe_in_Spanish_and_English_with_their_errors()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        await using var node = await TestNode.StartAsync("HND", null, $"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        var userName = $"ana.hnd.{Guid.NewGuid():N}"[..24];
        var (_, temporary) = await PersonSignIn.CreateAccountAsync(identity, userName, AccountKind.Analyst, "HND", twoFactor: true);

        string key;
        await using (var context = await browser.Browser.NewContextAsync())
        {
            var page = await context.NewPageAsync();
            await page.GotoAsync($"{node.HttpAddress}/");
            Assert.Contains("/account/login", page.Url, StringComparison.Ordinal);
            Assert.Equal("es", await page.GetAttributeAsync("html", "lang"));
            Assert.Equal("Iniciar sesión — MIRPS", await page.InnerTextAsync("h1"));
            await WebApp.AssertAccessibleAsync(page, "identity-login-es");

            await page.ClickAsync("nav a");
            Assert.Equal("en", await page.GetAttributeAsync("html", "lang"));
            await WebApp.AssertAccessibleAsync(page, "identity-login-en");
            await page.ClickAsync("nav a");
            Assert.Equal("es", await page.GetAttributeAsync("html", "lang"));

            // A wrong password: the error is announced and tied to the fields.
            await page.FillAsync("#user_name", userName);
            await page.FillAsync("#password", "not the password at all");
            await page.ClickAsync("button[type=submit]");
            Assert.Equal("Usuario o contraseña incorrectos.", await page.InnerTextAsync("[role=alert]"));
            await WebApp.AssertAccessibleAsync(page, "identity-login-error-es");

            // The temporary password leads to the new-password page.
            await page.FillAsync("#user_name", userName);
            await page.FillAsync("#password", temporary);
            await page.ClickAsync("button[type=submit]");
            await page.WaitForURLAsync(u => u.Contains("/account/change-password", StringComparison.Ordinal));
            await WebApp.AssertAccessibleAsync(page, "identity-change-password-es");
            await page.FillAsync("#new_password", WebApp.Password);
            await page.FillAsync("#confirm_password", WebApp.Password + " but different");
            await page.ClickAsync("button[type=submit]");
            Assert.Equal("Las contraseñas no coinciden.", await page.InnerTextAsync("[role=alert]"));
            await WebApp.AssertAccessibleAsync(page, "identity-change-password-error-es");
            await page.ClickAsync("nav a");
            Assert.Equal("en", await page.GetAttributeAsync("html", "lang"));
            await WebApp.AssertAccessibleAsync(page, "identity-change-password-en");
            await page.FillAsync("#new_password", WebApp.Password);
            await page.FillAsync("#confirm_password", WebApp.Password);
            await page.ClickAsync("button[type=submit]");

            // Two-step verification is required for this account: the enrolment page shows the key.
            await page.WaitForURLAsync(u => u.Contains("/account/enrol", StringComparison.Ordinal));
            Assert.Equal("en", await page.GetAttributeAsync("html", "lang"));
            key = await page.InnerTextAsync("#key");
            await WebApp.AssertAccessibleAsync(page, "identity-enrol-en");
            await page.ClickAsync("nav a");
            await WebApp.AssertAccessibleAsync(page, "identity-enrol-es");
            await page.FillAsync("#code", WrongCode(Totp.Code(key)));
            await page.ClickAsync("button[type=submit]");
            Assert.Equal("El código no es válido.", await page.InnerTextAsync("[role=alert]"));
            await WebApp.AssertAccessibleAsync(page, "identity-enrol-error-es");
            await page.FillAsync("#code", Totp.Code(key));
            await Task.WhenAll(page.WaitForURLAsync(u => u.StartsWith(node.HttpAddress.TrimEnd('/'), StringComparison.Ordinal)), page.ClickAsync("button[type=submit]"));
        }

        // A later sign-in asks for the code: that page too, in both languages and with its error.
        await using (var context = await browser.Browser.NewContextAsync())
        {
            var page = await context.NewPageAsync();
            await page.GotoAsync($"{node.HttpAddress}/");
            await page.FillAsync("#user_name", userName);
            await page.FillAsync("#password", WebApp.Password);
            await page.ClickAsync("button[type=submit]");
            await page.WaitForURLAsync(u => u.Contains("/account/two-factor", StringComparison.Ordinal));
            await WebApp.AssertAccessibleAsync(page, "identity-two-factor-es");
            await page.FillAsync("#code", WrongCode(Totp.Code(key)));
            await page.ClickAsync("button[type=submit]");
            Assert.Equal("El código no es válido.", await page.InnerTextAsync("[role=alert]"));
            await WebApp.AssertAccessibleAsync(page, "identity-two-factor-error-es");
            await page.ClickAsync("nav a");
            Assert.Equal("en", await page.GetAttributeAsync("html", "lang"));
            await WebApp.AssertAccessibleAsync(page, "identity-two-factor-en");
            await page.FillAsync("#code", Totp.Code(key));
            await Task.WhenAll(page.WaitForURLAsync(u => u.StartsWith(node.HttpAddress.TrimEnd('/'), StringComparison.Ordinal)), page.ClickAsync("button[type=submit]"));
            Assert.Equal("Bienvenida", await page.InnerTextAsync("h1"));
        }
    }

    /// <summary>A six-digit code that is not <paramref name="right"/> (nor the neighbouring steps', with overwhelming likelihood).</summary>
    private static string WrongCode(string right) => right == "000000" ? "111111" : "000000";
}
