using System.Net;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using Mirps.Identity.V1;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// One headless Chromium (the system's /usr/bin/chromium; Playwright cannot download browsers here) per
/// test class, a fresh browser context (cookies) per person.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: install the Debian package chromium (.ci/run does)");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Tests may run as root, where Chromium's sandbox cannot start.
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        _playwright?.Dispose();
    }
}

/// <summary>The web app as a person uses it: accounts, sign-in through the identity server's pages, axe and screenshots.</summary>
public static class WebApp
{
    public const string Password = "a long web passphrase";

    /// <summary>A free loopback port for a process's web endpoint (Node:HttpPort), known before it starts so the redirect URI can be registered.</summary>
    public static int FreePort() => LoopbackPorts.Free();

    /// <summary>Registers the web app at <paramref name="addresses"/> as a public client (plus the test's own redirect URI, to make accounts ready).</summary>
    public static async Task<string> RegisterClientAsync(TestIdentity identity, params string[] addresses)
    {
        var request = new RegisterPublicClientRequest { Description = "web app under test", RedirectUris = { PersonSignIn.RedirectUri } };
        request.RedirectUris.Add(addresses.Select(a => a + "/signin-callback"));
        return (await new AccountService.AccountServiceClient(identity.AdminChannel).RegisterPublicClientAsync(request)).ClientId;
    }

    /// <summary>An account whose temporary password was replaced by <see cref="Password"/>: a unique user name (the identity server may be shared).</summary>
    public static async Task<string> ReadyAccountAsync(TestIdentity identity, string clientId, string name, AccountKind kind, string country = "")
    {
        var userName = $"{name}.{Guid.NewGuid():N}"[..24];
        var (_, temporary) = await PersonSignIn.CreateAccountAsync(identity, userName, kind, country,
            secretariat: country.Length == 0 && kind is AccountKind.Analyst or AccountKind.Approver);
        using var browser = new PersonSignIn(identity, clientId);
        var (response, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), userName, temporary, Password);
        PersonSignIn.CodeOf(response);
        return userName;
    }

    /// <summary>
    /// Opens <paramref name="url"/> of a web app, signs in on the identity server's page it is sent to (replacing a temporary
    /// <paramref name="password"/> by <paramref name="newPassword"/> on the page that asks for it), and lands back on it.
    /// </summary>
    public static async Task SignInAsync(IPage page, string url, string userName, string password = Password, string? newPassword = null)
    {
        await page.GotoAsync(url);
        await page.FillAsync("input[name=user_name]", userName);
        await page.FillAsync("input[name=password]", password);
        if (newPassword is not null)
        {
            await page.ClickAsync("button[type=submit]");
            await page.FillAsync("input[name=new_password]", newPassword);
            await page.FillAsync("input[name=confirm_password]", newPassword);
        }
        await Task.WhenAll(page.WaitForURLAsync(u => u.StartsWith(new Uri(url).GetLeftPart(UriPartial.Authority), StringComparison.Ordinal)),
            page.ClickAsync("button[type=submit]"));
    }

    /// <summary>axe finds no violation (WCAG 2.1 A and AA rules and best practices); the page is saved as a screenshot under the test output.</summary>
    public static async Task AssertAccessibleAsync(IPage page, string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
        var result = await page.RunAxe();
        Assert.True(result.Violations.Length == 0, $"axe on {name} ({page.Url}): " + string.Join("; ", result.Violations.Select(v =>
            $"{v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Select(n => string.Join(" ", n.Target)))}")));
    }
}
