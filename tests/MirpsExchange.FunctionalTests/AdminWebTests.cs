using System.Net;
using Microsoft.Playwright;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The admin pages, served by the identity server (its admin API takes only its own audience): an admin signs in there
/// (password and TOTP) in real Chromium, manages accounts and credentials through CredentialService and AccountService
/// with their own token, and the audit names them; nobody else reaches or posts to the pages.
/// </summary>
public class AdminWebTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task An_admin_creates_an_account_and_disables_it_issues_rotates_and_revokes_a_credential_in_the_browser_and_the_audit_names_the_admin()
    {
        await using var identity = await TestIdentity.StartAsync();
        var (adminName, adminId, totpKey) = await ReadyAdminAsync(identity);
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await SignInAsAdminAsync(page, identity, adminName, totpKey);
        Assert.EndsWith("/admin", page.Url, StringComparison.Ordinal);
        Assert.Equal("Administración", await page.InnerTextAsync("h1"));
        Assert.Contains("Servidor de identidad", await page.InnerTextAsync("header"), StringComparison.Ordinal);
        await WebApp.AssertAccessibleAsync(page, "admin-home-es");

        // Accounts: create one; its temporary password is shown once, in the answer to the form.
        await page.ClickAsync("nav.admin-nav >> text=Cuentas de personas");
        await WebApp.AssertAccessibleAsync(page, "admin-accounts-es");
        var userName = $"ana.{Guid.NewGuid():N}"[..16];
        await page.FillAsync("#user-name", userName);
        await page.SelectOptionAsync("#kind", AccountKind.Analyst.ToString());
        await page.SelectOptionAsync("#country", "CRI");
        await page.FillAsync("#display-name", "Ana de Costa Rica");
        await page.ClickAsync("form.admin-form button[type=submit]");
        var temporary = await page.InnerTextAsync("#temporary-password");
        Assert.True(temporary.Length >= 20, temporary);
        Assert.Contains(userName, await page.InnerTextAsync("#accounts"), StringComparison.Ordinal);
        // Never cached, and gone from the page read again.
        Assert.Contains("no-store", (await page.GotoAsync(page.Url))!.Headers["cache-control"], StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#temporary-password").CountAsync());
        await WebApp.AssertAccessibleAsync(page, "admin-accounts-created-es");
        var created = (await AccountsAsync(identity)).Single(a => a.UserName == userName);
        Assert.Equal("CRI", created.Country);
        Assert.Null(created.DisableTime);

        // Disable it on its own page.
        await page.ClickAsync($"a[href='/admin/accounts/{created.AccountId}']");
        await WebApp.AssertAccessibleAsync(page, "admin-account-es");
        await page.FillAsync("#disable-reason", "left the office");
        await page.ClickAsync("text=Deshabilitar la cuenta >> xpath=ancestor-or-self::button");
        Assert.Contains("deshabilitada", await page.InnerTextAsync("#account-status"), StringComparison.Ordinal);
        Assert.NotNull((await AccountsAsync(identity)).Single(a => a.UserName == userName).DisableTime);
        // ... and reset its password: a new temporary one, shown once.
        await page.ClickAsync("text=Restablecer la contraseña >> xpath=ancestor-or-self::button");
        Assert.NotEqual(temporary, await page.InnerTextAsync("#temporary-password"));

        // Credentials: issue a State's, whose secret (shown once) gets a token; rotate it (the old secret stops at once); revoke it.
        await page.ClickAsync("nav.admin-nav >> text=Credenciales de sistemas");
        await WebApp.AssertAccessibleAsync(page, "admin-credentials-es");
        await page.SelectOptionAsync("#role", Role.State.ToString());
        await page.SelectOptionAsync("#country", "HND");
        await page.FillAsync("#description", "Honduras test system");
        await page.ClickAsync("form.admin-form button[type=submit]");
        var secret = await page.InnerTextAsync("#client-secret");
        var issued = (await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest { PageSize = 100 })).Credentials.Single(c => c.Description == "Honduras test system");
        Assert.Equal(200, (await identity.RequestTokenAsync(new ClientCredential(issued.ClientId, secret), MirpsAuth.ReadScope)).Status);
        await WebApp.AssertAccessibleAsync(page, "admin-credentials-issued-es");
        await page.ClickAsync($"a[href='/admin/credentials/{issued.ClientId}']");
        await WebApp.AssertAccessibleAsync(page, "admin-credential-es");
        await page.ClickAsync("text=Cambiar el secreto >> xpath=ancestor-or-self::button");
        var rotated = await page.InnerTextAsync("#client-secret");
        Assert.NotEqual(secret, rotated);
        Assert.Equal(200, (await identity.RequestTokenAsync(new ClientCredential(issued.ClientId, rotated), MirpsAuth.ReadScope)).Status);
        Assert.NotEqual(200, (await identity.RequestTokenAsync(new ClientCredential(issued.ClientId, secret), MirpsAuth.ReadScope)).Status);
        await page.FillAsync("#revoke-reason", "system retired");
        await page.ClickAsync("text=Revocar la credencial >> xpath=ancestor-or-self::button");
        Assert.True(await page.Locator("#credential-revoked").CountAsync() == 1, await page.InnerTextAsync("main"));

        // The audit names the person (their account id, shown with their user name) for every action.
        await page.ClickAsync("nav.admin-nav >> text=Registro de auditoría");
        var audit = await page.InnerTextAsync("#audit");
        foreach (var action in new[] { "CreateAccount", "DisableAccount", "ResetPassword", "IssueCredential", "RotateSecret", "RevokeCredential" })
        {
            Assert.Contains((await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 100 })).Events,
                e => e.Action == action && e.Actor == adminId);
            Assert.Matches($"{System.Text.RegularExpressions.Regex.Escape(adminName)} \\({adminId}\\)\\s+{action}", audit);
        }
        await WebApp.AssertAccessibleAsync(page, "admin-audit-es");

        // English one click away.
        await page.ClickAsync("a.language");
        Assert.Equal("Audit log", await page.InnerTextAsync("h1"));
        await WebApp.AssertAccessibleAsync(page, "admin-audit-en");
    }

    [Fact]
    public async Task Over_TLS_an_admin_signs_in_to_the_admin_pages_and_creates_an_account_with_a_token_bound_to_the_admin_certificate()
    {
        var folder = TempFolder.Create();
        try
        {
            var certificates = Path.Combine(folder, "certs");
            var ca = MirpsExchange.Cli.Federation.DevelopmentCertificates.CertificateFile(certificates, MirpsExchange.Cli.Federation.DevelopmentCertificates.CaName);
            var adminClient = MirpsExchange.Cli.Federation.DevelopmentCertificates.ClientName(Mirps.Tls.FederationIdentity.Admin);
            MirpsExchange.Cli.Federation.DevelopmentCertificates.Ensure(certificates, ["identity", adminClient]);
            await using var identity = await TestIdentity.StartAsync(
            [
                .. TlsFederation.TlsArgs(certificates, "identity", ca),
                $"--Identity:AdminWebCertificateFile={MirpsExchange.Cli.Federation.DevelopmentCertificates.CertificateFile(certificates, adminClient)}",
                $"--Identity:AdminWebKeyFile={MirpsExchange.Cli.Federation.DevelopmentCertificates.KeyFile(certificates, adminClient)}",
            ]);
            Assert.StartsWith("https://", identity.Issuer, StringComparison.Ordinal);
            var (adminName, _, totpKey) = await ReadyAdminAsync(identity);

            // The browser does not know the development CA (the processes trust only it).
            await using var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
            var page = await context.NewPageAsync();
            await SignInAsAdminAsync(page, identity, adminName, totpKey);
            Assert.Equal("Administración", await page.InnerTextAsync("h1"));
            var session = Assert.Single(await context.CookiesAsync(), c => c.Name == "mirps-web");
            Assert.True(session.Secure && session.HttpOnly);

            // The pages call the admin API over mutual TLS with the admin's bound token: an account is created, and the audit names the admin.
            await page.ClickAsync("nav.admin-nav >> text=Cuentas de personas");
            var userName = $"tls.{Guid.NewGuid():N}"[..16];
            await page.FillAsync("#user-name", userName);
            await page.SelectOptionAsync("#kind", AccountKind.Analyst.ToString());
            await page.SelectOptionAsync("#country", "PAN");
            await page.ClickAsync("form.admin-form button[type=submit]");
            Assert.True((await page.InnerTextAsync("#temporary-password")).Length >= 20, await page.InnerTextAsync("main"));
            Assert.Contains(await AccountsAsync(identity), a => a.UserName == userName && a.Country == "PAN");
            await WebApp.AssertAccessibleAsync(page, "admin-accounts-tls-es");
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_person_who_is_not_an_admin_cannot_reach_or_post_to_the_admin_pages_at_a_node_or_at_the_identity_server()
    {
        await using var identity = await TestIdentity.StartAsync();
        var nodePort = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{nodePort}");
        await using var node = await TestNode.StartAsync("CRI", identity, $"--Node:HttpPort={nodePort}", $"--Web:ClientId={clientId}");
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "ana.cri", AccountKind.Analyst, "CRI");
        var before = (await AccountsAsync(identity)).Count;

        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        // At the State's node, where the person has a session: the admin pages are refused, reading and posting.
        await WebApp.SignInAsync(page, $"{node.HttpAddress}/", analyst);
        Assert.DoesNotContain("Administración", await page.InnerTextAsync("nav"), StringComparison.Ordinal);
        var antiforgery = await page.GetAttributeAsync("form.signout input[name=__RequestVerificationToken]", "value");
        foreach (var path in new[] { "/admin", "/admin/accounts", "/admin/credentials", "/admin/audit", $"/admin/accounts/{Guid.NewGuid()}" })
        {
            var response = await page.GotoAsync(node.HttpAddress + path);
            Assert.True(page.Url.Contains("/denied", StringComparison.Ordinal), $"{path} at the node: {page.Url} {response?.Status}");
        }
        await WebApp.AssertAccessibleAsync(page, "node-admin-denied-es");
        var post = await page.APIRequest.PostAsync(node.HttpAddress + "/admin/accounts", new APIRequestContextOptions
        {
            Form = Form(page, antiforgery, ("_handler", "create-account"), ("Create.UserName", "made.at.a.node"), ("Create.Kind", "Admin")),
            MaxRedirects = 0,
        });
        Assert.True(post.Status is 302 or 403, $"POST at the node: {post.Status}");
        Assert.DoesNotContain("/admin/accounts", post.Headers.GetValueOrDefault("location", ""), StringComparison.Ordinal);

        // At the identity server: the person's sign-in there is refused (their token is for their node, not the admin API),
        // so they never get a session, and the pages send them back to sign in.
        await page.GotoAsync($"{identity.Issuer}admin/accounts");
        await page.FillAsync("input[name=user_name]", analyst);
        await page.FillAsync("input[name=password]", WebApp.Password);
        var callback = await page.RunAndWaitForResponseAsync(() => page.ClickAsync("button[type=submit]"), r => r.Url.Contains("/signin-callback", StringComparison.Ordinal));
        Assert.Equal((int)HttpStatusCode.Forbidden, callback.Status);
        var again = await page.APIRequest.GetAsync($"{identity.Issuer}admin/accounts", new APIRequestContextOptions { MaxRedirects = 0 });
        Assert.Equal(302, again.Status);
        Assert.Contains("/signin", again.Headers["location"], StringComparison.Ordinal);
        var anonymous = await page.APIRequest.PostAsync($"{identity.Issuer}admin/accounts", new APIRequestContextOptions
        {
            Form = Form(page, null, ("_handler", "create-account"), ("Create.UserName", "made.anonymously"), ("Create.Kind", "Admin")),
            MaxRedirects = 0,
        });
        Assert.True(anonymous.Status is 302 or 400, $"anonymous POST at the identity server: {anonymous.Status}");

        // An admin's own browser, led by another site to post the form without its anti-forgery token: refused.
        var (adminName, _, totpKey) = await ReadyAdminAsync(identity);
        await using var adminContext = await browser.Browser.NewContextAsync();
        var adminPage = await adminContext.NewPageAsync();
        await SignInAsAdminAsync(adminPage, identity, adminName, totpKey);
        var forged = await adminPage.APIRequest.PostAsync($"{identity.Issuer}admin/accounts", new APIRequestContextOptions
        {
            Form = Form(adminPage, null, ("_handler", "create-account"), ("Create.UserName", "made.by.a.forgery"), ("Create.Kind", "Admin")),
            MaxRedirects = 0,
        });
        Assert.Equal(400, forged.Status);

        var after = await AccountsAsync(identity);
        Assert.DoesNotContain(after, a => a.UserName.StartsWith("made.", StringComparison.Ordinal));
        Assert.Equal(before + 1, after.Count); // the admin made for this test, nothing else
    }

    private static IFormData Form(IPage page, string? antiforgery, params (string Name, string Value)[] fields)
    {
        var form = page.APIRequest.CreateFormData();
        if (antiforgery is not null)
        {
            form.Set("__RequestVerificationToken", antiforgery);
        }
        foreach (var (name, value) in fields)
        {
            form.Set(name, value);
        }
        return form;
    }

    /// <summary>An admin account whose temporary password was replaced and whose TOTP authenticator is enrolled: its user name, id and key.</summary>
    private static async Task<(string UserName, string Id, string TotpKey)> ReadyAdminAsync(TestIdentity identity)
    {
        var userName = $"admin.{Guid.NewGuid():N}"[..18];
        var (id, temporary) = await PersonSignIn.CreateAccountAsync(identity, userName, AccountKind.Admin);
        using var person = new PersonSignIn(identity, await PersonSignIn.RegisterClientAsync(identity));
        var (response, key) = await person.SignInAsync(person.AuthorizeUrl(PersonSignIn.Pkce().Challenge), userName, temporary, WebApp.Password);
        PersonSignIn.CodeOf(response);
        Assert.NotNull(key);
        return (userName, id, key);
    }

    /// <summary>Opens the identity server's /admin and signs in on its login and two-factor pages.</summary>
    private static async Task SignInAsAdminAsync(IPage page, TestIdentity identity, string userName, string totpKey)
    {
        await page.GotoAsync($"{identity.Issuer}admin");
        await page.FillAsync("input[name=user_name]", userName);
        await page.FillAsync("input[name=password]", WebApp.Password);
        await Task.WhenAll(page.WaitForURLAsync(u => u.Contains("/account/two-factor", StringComparison.Ordinal)), page.ClickAsync("button[type=submit]"));
        await page.FillAsync("input[name=code]", Totp.Code(totpKey));
        // The code's answer goes through the authorization redirect to /admin: wait for that page, not for a load event that
        // can be missed between the redirects (a CI run timed out on it once at 30 s).
        await Task.WhenAll(page.WaitForURLAsync(u => u.EndsWith("/admin", StringComparison.Ordinal), new() { Timeout = 60_000 }), page.ClickAsync("button[type=submit]"));
        Assert.True(page.Url.EndsWith("/admin", StringComparison.Ordinal), $"{page.Url}: {await page.InnerTextAsync("body")}");
    }

    private static async Task<List<Account>> AccountsAsync(TestIdentity identity)
    {
        var accounts = new AccountService.AccountServiceClient(identity.AdminChannel);
        var all = new List<Account>();
        var token = "";
        do
        {
            var page = await accounts.ListAccountsAsync(new ListAccountsRequest { PageSize = 100, PageToken = token });
            all.AddRange(page.Accounts);
            token = page.NextPageToken;
        }
        while (token.Length > 0);
        return all;
    }
}
