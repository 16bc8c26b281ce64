using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// People sign in through the authorization code flow with PKCE, driven as a browser would (cookies, the
/// login form and its anti-forgery token, redirects), against a real identity server and nodes on
/// 127.0.0.1; their tokens carry the role, country and audience of a credential, so nodes apply the same
/// sharing rules to them.
/// </summary>
public class PersonSignInTests
{
    private const string NewPassword = "a long new passphrase";

    private static AccountService.AccountServiceClient Accounts(TestIdentity identity) => new(identity.AdminChannel);

    /// <summary>A new account whose temporary password was replaced through its first sign-in (which also yields a first code, not redeemed).</summary>
    private static async Task<string> ReadyAccountAsync(TestIdentity identity, PersonSignIn browser, string userName, AccountKind kind, string country)
    {
        var (id, temporary) = await PersonSignIn.CreateAccountAsync(identity, userName, kind, country);
        var (response, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), userName, temporary, NewPassword);
        Assert.NotEmpty(PersonSignIn.CodeOf(response));
        return id;
    }

    private static async Task<List<StoredObservation>> QueryAsync(ObservationService.ObservationServiceClient client)
    {
        var result = new List<StoredObservation>();
        using var call = client.StreamObservations(new StreamObservationsRequest());
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            result.AddRange(message.Observations);
        }
        return result;
    }

    [Fact]
    public async Task A_person_signs_in_with_the_code_flow_and_PKCE_and_the_token_serves_exactly_what_a_credential_of_the_same_State_gets()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity,
            SharingPolicyTests.Policy(("REFUGEES", "Readers", "CRI"), ("ASYLUM_APPLICATIONS", "Readers", "all")));
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var browser = new PersonSignIn(identity, clientId);

        // A Belize submitter: the first sign-in asks for a new password, then the code comes back with the state.
        var (submitterId, temporary) = await PersonSignIn.CreateAccountAsync(identity, "ana.blz", AccountKind.Submitter, "BLZ");
        var (verifier, challenge) = PersonSignIn.Pkce();
        var (response, _) = await browser.SignInAsync(browser.AuthorizeUrl(challenge), "ana.blz", temporary, NewPassword);
        var code = PersonSignIn.CodeOf(response);
        Assert.Contains("state=xyz", response.Headers.Location!.Query, StringComparison.Ordinal);

        // The wrong verifier, or none, gets no token; the right one does, once.
        Assert.Equal(400, (await browser.RedeemAsync(code, PersonSignIn.Pkce().Verifier)).Status);
        Assert.Equal(400, (await browser.RedeemAsync(code, null)).Status);
        var (status, body) = await browser.RedeemAsync(code, verifier);
        Assert.True(status == 200, body.ToString());
        var (again, againBody) = await browser.RedeemAsync(code, verifier);
        Assert.Equal(400, again);
        Assert.Equal("invalid_grant", againBody.GetProperty("error").GetString());

        var token = new JsonWebToken(body.GetProperty("access_token").GetString()!);
        Assert.Equal(submitterId, token.Subject);
        Assert.Equal(MirpsAuth.StateRole, token.GetClaim(MirpsAuth.RoleClaim).Value);
        Assert.Equal("BLZ", token.GetClaim(MirpsAuth.CountryClaim).Value);
        Assert.Equal([MirpsAuth.NodeAudience("BLZ")], token.Audiences);
        Assert.Equal($"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}", token.GetClaim("scope").Value);

        // Belize's node takes it: the submitter submits and reads Belize's own data, withheld from others or not.
        var asSubmitter = belize.ObservationsWith(token.EncodedToken);
        await asSubmitter.SubmitObservationsAsync(Submit(Refugees(value: 240), SharingPolicyTests.Applications(value: 100)));
        Assert.Equal(["ASYLUM_APPLICATIONS", "REFUGEES"], (await QueryAsync(asSubmitter)).Select(s => s.Observation.IndicatorCode).Order());

        // A Panama analyst, with a token for Belize's node: Belize's policy shares REFUGEES with Costa Rica only.
        await ReadyAccountAsync(identity, browser, "luis.pan", AccountKind.Analyst, "PAN");
        var analyst = await browser.AccessTokenAsync("luis.pan", NewPassword, resource: MirpsAuth.NodeAudience("BLZ"),
            scope: $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}");
        Assert.Equal(MirpsAuth.ReadScope, new JsonWebToken(analyst).GetClaim("scope").Value); // an analyst never gets submit
        var asAnalyst = belize.ObservationsWith(analyst);
        Assert.Equal(["ASYLUM_APPLICATIONS"], (await QueryAsync(asAnalyst)).Select(s => s.Observation.IndicatorCode));
        var history = await Assert.ThrowsAsync<RpcException>(async () =>
            await asAnalyst.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees()) }));
        Assert.Equal(StatusCode.NotFound, history.StatusCode);
        var submit = await Assert.ThrowsAsync<RpcException>(async () => await asAnalyst.SubmitObservationsAsync(Submit(Refugees(country: "PAN"))));
        Assert.Equal(StatusCode.PermissionDenied, submit.StatusCode);
        // The same person's token for Panama's audience is worth nothing at Belize's node.
        var forPanama = await browser.AccessTokenAsync("luis.pan", NewPassword);
        var wrongNode = await Assert.ThrowsAsync<RpcException>(async () => await QueryAsync(belize.ObservationsWith(forPanama)));
        Assert.Equal(StatusCode.Unauthenticated, wrongNode.StatusCode);

        var audit = (await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest())).Events;
        Assert.Contains(audit, e => e.Action == "CreateAccount" && e.ClientId == submitterId);
        Assert.Contains(audit, e => e.Action == "ChangePassword" && e.ClientId == submitterId);
        Assert.Contains(audit, e => e.Action == "SignIn" && e.ClientId == submitterId);
        Assert.Contains(audit, e => e.Action == "RegisterPublicClient" && e.ClientId == clientId);
    }

    [Fact]
    public async Task Authorization_requests_without_PKCE_with_the_plain_method_or_to_an_unregistered_redirect_URI_and_forms_without_the_antiforgery_token_are_refused()
    {
        await using var identity = await TestIdentity.StartAsync();
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var browser = new PersonSignIn(identity, clientId);
        var (_, temporary) = await PersonSignIn.CreateAccountAsync(identity, "eva.cri", AccountKind.Analyst, "CRI");

        // No code_challenge, or the plain method: refused before any login page (an OAuth2 error page).
        foreach (var url in new[] { browser.AuthorizeUrl(null), browser.AuthorizeUrl("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs", method: "plain") })
        {
            using var response = await browser.GetAsync(url);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Null(response.Headers.Location);
            Assert.Contains("invalid_request", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // A redirect URI not registered exactly: no redirect at all, not even with an error.
        foreach (var uri in new[] { "http://127.0.0.1:9/callback/", "http://127.0.0.1:9/other", "http://evil.example/callback" })
        {
            using var response = await browser.GetAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge, redirectUri: uri));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Null(response.Headers.Location);
        }
        // The login form posted without its anti-forgery token (a cross-site post) is refused, the password not even checked.
        using (var login = await browser.GetAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge)))
        {
            using var page = await browser.GetAsync(login.Headers.Location!.ToString());
            var html = (await page.Content.ReadAsStringAsync()).Replace("name=\"__RequestVerificationToken\"", "name=\"ignored\"", StringComparison.Ordinal);
            Assert.Contains("<html lang=\"es\">", html, StringComparison.Ordinal);
            Assert.Contains("<label for=\"password\">Contraseña</label>", html, StringComparison.Ordinal);
            using var forged = await browser.PostFormAsync(html, ("user_name", "eva.cri"), ("password", temporary));
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        }
        // The login page sends nowhere but this server's authorization endpoint, whatever return_url says (no open redirect).
        using (var redirected = await browser.SubmitFormAsync("/account/login?return_url=" + Uri.EscapeDataString("https://evil.example/connect/authorize?x=1"),
            ("user_name", "eva.cri"), ("password", temporary), ("return_url", "https://evil.example/connect/authorize?x=1")))
        {
            Assert.Equal(HttpStatusCode.Redirect, redirected.StatusCode);
            var location = redirected.Headers.Location!.ToString();
            Assert.StartsWith("/account/change-password", location, StringComparison.Ordinal);
            Assert.DoesNotContain("evil", Uri.UnescapeDataString(location), StringComparison.Ordinal);
        }
        // English is one link away.
        using (var english = await browser.GetAsync("/account/login?lang=en"))
        {
            Assert.Contains("<label for=\"password\">Password</label>", await english.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Wrong_TOTP_codes_lock_the_account_out_even_against_the_right_one_the_password_does_not_reset_their_count_and_the_lockout_is_audited()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:SignInFailuresBeforeLockout=3");
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var browser = new PersonSignIn(identity, clientId);
        var (id, temporary) = await PersonSignIn.CreateAccountAsync(identity, "rosa.gtm", AccountKind.Analyst, "GTM", twoFactor: true);
        var (first, key) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "rosa.gtm", temporary, NewPassword);
        Assert.NotEmpty(PersonSignIn.CodeOf(first));
        var url = browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge);
        var staleCode = Totp.Code(key!, DateTimeOffset.UtcNow.AddMinutes(-10));

        // Two wrong codes, then the password again (which must not buy more guesses), then a third wrong code: locked.
        var twoFactor = await PasswordStepAsync(browser, url, "rosa.gtm", NewPassword);
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            using var wrong = await browser.SubmitFormAsync(twoFactor, ("code", staleCode));
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using var again = new PersonSignIn(identity, clientId); // a new browser: the login form again, not the code page
        twoFactor = await PasswordStepAsync(again, url, "rosa.gtm", NewPassword);
        using (var third = await again.SubmitFormAsync(twoFactor, ("code", staleCode)))
        {
            Assert.Equal(HttpStatusCode.Locked, third.StatusCode);
        }
        // Locked even against the right password and code; only the one who gave the right password learns it.
        using var fresh = new PersonSignIn(identity, clientId);
        using (var authorize = await fresh.GetAsync(url))
        {
            using var locked = await fresh.SubmitFormAsync(authorize.Headers.Location!.ToString(), ("user_name", "rosa.gtm"), ("password", NewPassword));
            Assert.Equal(HttpStatusCode.Locked, locked.StatusCode);
            Assert.Contains("role=\"alert\"", await locked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        var (wrongPassword, _) = await fresh.SignInAsync(url, "rosa.gtm", "a wrong password!");
        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);

        var account = (await Accounts(identity).ListAccountsAsync(new ListAccountsRequest())).Accounts.Single(a => a.AccountId == id);
        Assert.NotNull(account.LockoutEndTime);
        var audit = (await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest())).Events;
        Assert.Contains(audit, e => e.Action == "AccountLockedOut" && e.ClientId == id);

        // An admin's password reset ends the lockout: the new temporary password (then the code) signs in.
        var reset = await Accounts(identity).ResetPasswordAsync(new ResetPasswordRequest { AccountId = id, Reason = "locked out" });
        var (after, _) = await fresh.SignInAsync(url, "rosa.gtm", reset.TemporaryPassword, NewPassword + " again", totpKey: key);
        Assert.NotEmpty(PersonSignIn.CodeOf(after));
        Assert.Contains((await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest())).Events, e => e.Action == "ResetPassword" && e.ClientId == id);
    }

    /// <summary>The authorization request, then the password: the address of the TOTP page it leads to.</summary>
    private static async Task<string> PasswordStepAsync(PersonSignIn browser, string url, string userName, string password)
    {
        using var authorize = await browser.GetAsync(url);
        using var response = await browser.SubmitFormAsync(authorize.Headers.Location!.ToString(), ("user_name", userName), ("password", password));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.StartsWith("/account/two-factor", location, StringComparison.Ordinal);
        return location;
    }

    [Fact]
    public async Task An_account_with_two_factor_gets_no_code_without_its_TOTP_code_and_a_reset_makes_it_enrol_again()
    {
        await using var identity = await TestIdentity.StartAsync();
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var browser = new PersonSignIn(identity, clientId);
        var (id, temporary) = await PersonSignIn.CreateAccountAsync(identity, "sec.analyst", AccountKind.Analyst, twoFactor: true, secretariat: true);

        // First sign-in: new password, then enrol an authenticator (the page shows its key; a code from it confirms).
        var (first, key) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "sec.analyst", temporary, NewPassword);
        Assert.NotEmpty(PersonSignIn.CodeOf(first));
        Assert.NotNull(key);

        // Next sign-in: the password alone leads to the TOTP page; asking for the code again without it gets the same page.
        var url = browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge);
        using (var authorize = await browser.GetAsync(url))
        {
            using var password = await browser.SubmitFormAsync(authorize.Headers.Location!.ToString(), ("user_name", "sec.analyst"), ("password", NewPassword));
            Assert.Equal(HttpStatusCode.Redirect, password.StatusCode);
            var twoFactor = password.Headers.Location!.ToString();
            Assert.StartsWith("/account/two-factor", twoFactor, StringComparison.Ordinal);
            using var skipped = await browser.GetAsync(url);
            Assert.StartsWith("/account/two-factor", skipped.Headers.Location!.ToString(), StringComparison.Ordinal);
            using var wrong = await browser.SubmitFormAsync(twoFactor, ("code", Totp.Code(key, DateTimeOffset.UtcNow.AddMinutes(-10))));
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            using var right = await browser.SubmitFormAsync(twoFactor, ("code", Totp.Code(key)));
            Assert.Equal(HttpStatusCode.Redirect, right.StatusCode);
            using var coded = await browser.GetAsync(right.Headers.Location!.ToString());
            Assert.NotEmpty(PersonSignIn.CodeOf(coded));
        }
        var token = new JsonWebToken(await browser.AccessTokenAsync("sec.analyst", NewPassword, totpKey: key));
        Assert.Equal(MirpsAuth.SecretariatRole, token.GetClaim(MirpsAuth.RoleClaim).Value);
        Assert.False(token.TryGetClaim(MirpsAuth.CountryClaim, out _));
        Assert.Equal([MirpsAuth.NodeAudience(MirpsAuth.Secretariat)], token.Audiences);

        // The admin resets the second factor: the old key no longer signs in, the next sign-in enrols a new one.
        await Accounts(identity).ResetTwoFactorAsync(new ResetTwoFactorRequest { AccountId = id, Reason = "phone lost" });
        var (again, newKey) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "sec.analyst", NewPassword, totpKey: key);
        Assert.NotEmpty(PersonSignIn.CodeOf(again));
        Assert.NotNull(newKey);
        Assert.NotEqual(key, newKey);
        var audit = (await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest())).Events;
        Assert.Equal(2, audit.Count(e => e.Action == "EnrolTwoFactor" && e.ClientId == id));
        Assert.Contains(audit, e => e.Action == "ResetTwoFactor" && e.ClientId == id);
    }

    [Fact]
    public async Task A_disabled_account_cannot_sign_in_and_its_tokens_and_codes_are_refused_at_a_node_once_the_revocation_list_updates()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var panama = await TestNode.StartAsync("PAN", identity, "--Node:RevocationPollInterval=00:00:01");
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var browser = new PersonSignIn(identity, clientId);
        var id = await ReadyAccountAsync(identity, browser, "juan.pan", AccountKind.Analyst, "PAN");
        var token = await browser.AccessTokenAsync("juan.pan", NewPassword);
        var client = panama.ObservationsWith(token);
        await QueryAsync(client);
        // A code obtained before the account is disabled, redeemed after.
        var (verifier, challenge) = PersonSignIn.Pkce();
        var (pending, _) = await browser.SignInAsync(browser.AuthorizeUrl(challenge), "juan.pan", NewPassword);
        var code = PersonSignIn.CodeOf(pending);

        await Accounts(identity).DisableAccountAsync(new DisableAccountRequest { AccountId = id, Reason = "left the office" });
        var since = Stopwatch.StartNew();

        var (signIn, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "juan.pan", NewPassword);
        var (wrong, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "juan.pan", NewPassword + "x");
        // Refused as a wrong password is: the answer does not confirm a disabled account's password.
        Assert.Equal(HttpStatusCode.Unauthorized, signIn.StatusCode);
        Assert.Equal(wrong.StatusCode, signIn.StatusCode);
        Assert.Equal(400, (await browser.RedeemAsync(code, verifier)).Status);
        while (true)
        {
            try
            {
                await QueryAsync(client);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                break;
            }
            Assert.True(since.Elapsed < TimeSpan.FromSeconds(60), "the node still accepts the disabled account's token after a minute");
            await Task.Delay(200);
        }
        Assert.Contains((await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest())).Events, e => e.Action == "DisableAccount" && e.ClientId == id);

        // Enabled again, it signs in again; the tokens from before stay refused.
        await Accounts(identity).EnableAccountAsync(new EnableAccountRequest { AccountId = id });
        await QueryAsync(panama.ObservationsWith(await browser.AccessTokenAsync("juan.pan", NewPassword)));
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () => await QueryAsync(client))).StatusCode);
    }

    [Fact]
    public async Task Account_RPCs_are_refused_without_the_admin_scope_and_an_admin_accounts_token_is_accepted()
    {
        await using var identity = await TestIdentity.StartAsync();
        var state = await identity.IssueAsync(Role.State, "PAN");
        var (status, body) = await identity.RequestTokenAsync(state, MirpsAuth.ReadScope);
        Assert.Equal(200, status);
        var stateToken = body.GetProperty("access_token").GetString()!;
        var request = new CreateAccountRequest { UserName = "intruder", Kind = AccountKind.Admin };

        var anonymous = await Assert.ThrowsAsync<RpcException>(async () => await new AccountService.AccountServiceClient(identity.ChannelWith(null)).CreateAccountAsync(request));
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        // A State's token is for Panama's node, not the identity server's admin API.
        var wrongAudience = await Assert.ThrowsAsync<RpcException>(async () => await new AccountService.AccountServiceClient(identity.ChannelWith(stateToken)).CreateAccountAsync(request));
        Assert.Equal(StatusCode.Unauthenticated, wrongAudience.StatusCode);

        // An admin account (two-factor always) administers accounts with its own token.
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var browser = new PersonSignIn(identity, clientId);
        var (adminId, temporary) = await PersonSignIn.CreateAccountAsync(identity, "admin.person", AccountKind.Admin);
        var (first, key) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "admin.person", temporary, NewPassword);
        Assert.NotEmpty(PersonSignIn.CodeOf(first));
        Assert.NotNull(key);
        var adminToken = await browser.AccessTokenAsync("admin.person", NewPassword, totpKey: key);
        Assert.Equal([MirpsAuth.IdentityAudience], new JsonWebToken(adminToken).Audiences);
        var asAdmin = new AccountService.AccountServiceClient(identity.ChannelWith(adminToken));
        var created = await asAdmin.CreateAccountAsync(new CreateAccountRequest { UserName = "made.by.a.person", Kind = AccountKind.Analyst, Country = "HND" });
        Assert.Contains((await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest())).Events,
            e => e.Action == "CreateAccount" && e.Actor == adminId && e.ClientId == created.Account.AccountId);

        // A State analyst's token never administers, whatever it asks for.
        await ReadyAccountAsync(identity, browser, "ana.hnd", AccountKind.Analyst, "HND");
        var analystToken = await browser.AccessTokenAsync("ana.hnd", NewPassword, scope: MirpsAuth.AdminScope);
        var analyst = await Assert.ThrowsAsync<RpcException>(async () =>
            await new AccountService.AccountServiceClient(identity.ChannelWith(analystToken)).ListAccountsAsync(new ListAccountsRequest()));
        Assert.Equal(StatusCode.Unauthenticated, analyst.StatusCode);

        // Disabled, the admin account's token is refused at once by the admin API.
        await Accounts(identity).DisableAccountAsync(new DisableAccountRequest { AccountId = adminId });
        var disabled = await Assert.ThrowsAsync<RpcException>(async () => await asAdmin.ListAccountsAsync(new ListAccountsRequest()));
        Assert.Equal(StatusCode.Unauthenticated, disabled.StatusCode);
    }
}
