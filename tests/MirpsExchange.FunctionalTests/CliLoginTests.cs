using System.CommandLine;
using System.Net;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary><c>mirps login</c> against a real identity server: the code flow with PKCE through a loopback redirect, a browser driven as a person would.</summary>
public class CliLoginTests
{
    [Fact]
    public async Task A_person_signs_in_from_the_CLI_through_a_loopback_redirect_and_the_token_is_kept_owner_only()
    {
        await using var identity = await TestIdentity.StartAsync();
        using var setup = new PersonSignIn(identity, await PersonSignIn.RegisterClientAsync(identity));
        var (_, temporary) = await PersonSignIn.CreateAccountAsync(identity, "ana.pan", AccountKind.Submitter, "PAN");
        Assert.NotEmpty(PersonSignIn.CodeOf((await setup.SignInAsync(setup.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "ana.pan", temporary, "a long new passphrase")).Response));

        // The admin registers the command line's loopback redirect once.
        var port = FreePort();
        var cliClient = (await new AccountService.AccountServiceClient(identity.AdminChannel).RegisterPublicClientAsync(new RegisterPublicClientRequest
        {
            RedirectUris = { $"http://127.0.0.1:{port}/callback" }, Description = "mirps login",
        })).ClientId;
        var folder = Path.Combine(identity.Folder, "profile");
        var tokenFile = Path.Combine(folder, "mirps", "token.json");
        var printed = new StringWriter();
        var output = TextWriter.Synchronized(printed); // the command writes while the test reads
        string Printed()
        {
            lock (output)
            {
                return printed.ToString();
            }
        }
        var error = new StringWriter();
        var login = CliApp.BuildRootCommand()
            .Parse(["login", "--identity", identity.Issuer, "--client-id", cliClient, "--port", $"{port}", "--token-file", tokenFile, "--timeout", "00:01:00"])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });

        // The person opens the printed address in a browser and signs in; the browser follows the redirect to the loopback address.
        string? address = null;
        for (var i = 0; i < 200 && address is null && !login.IsCompleted; i++)
        {
            address = Printed().Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(identity.Issuer, StringComparison.Ordinal));
            await Task.Delay(50);
        }
        Assert.True(address is not null, Printed() + error);
        Assert.Contains("code_challenge_method=S256", address, StringComparison.Ordinal);
        using var browser = new PersonSignIn(identity, cliClient);
        var (page, _) = await browser.SignInAsync(address, "ana.pan", "a long new passphrase");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);

        Assert.True(await login == CliApp.Ok, Printed() + error);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        }
        var saved = JsonDocument.Parse(await File.ReadAllTextAsync(tokenFile)).RootElement;
        var token = new JsonWebToken(saved.GetProperty("access_token").GetString());
        Assert.Equal((MirpsAuth.StateRole, "PAN"), (token.GetClaim(MirpsAuth.RoleClaim).Value, token.GetClaim(MirpsAuth.CountryClaim).Value));
        Assert.Equal([MirpsAuth.NodeAudience("PAN")], token.Audiences);
    }

    /// <summary>
    /// An account signed in from the CLI as a person would: created by the admin, its temporary password changed once in a
    /// browser, then `mirps login` run with its own loopback client while a browser signs in at the printed address.
    /// Returns the account id and the public client the login used; the tokens are in <paramref name="tokenFile"/>.
    /// </summary>
    private static async Task<(string AccountId, string ClientId)> LoginAsync(TestIdentity identity, string userName, AccountKind kind, string country, string tokenFile)
    {
        using var setup = new PersonSignIn(identity, await PersonSignIn.RegisterClientAsync(identity));
        var (accountId, temporary) = await PersonSignIn.CreateAccountAsync(identity, userName, kind, country);
        const string password = "a long new passphrase";
        Assert.NotEmpty(PersonSignIn.CodeOf((await setup.SignInAsync(setup.AuthorizeUrl(PersonSignIn.Pkce().Challenge), userName, temporary, password)).Response));
        var port = FreePort();
        var cliClient = (await new AccountService.AccountServiceClient(identity.AdminChannel).RegisterPublicClientAsync(new RegisterPublicClientRequest
        {
            RedirectUris = { $"http://127.0.0.1:{port}/callback" }, Description = "mirps login",
        })).ClientId;
        var printed = new StringWriter();
        var output = TextWriter.Synchronized(printed);
        var error = new StringWriter();
        var login = CliApp.BuildRootCommand()
            .Parse(["login", "--identity", identity.Issuer, "--client-id", cliClient, "--port", $"{port}", "--token-file", tokenFile, "--timeout", "00:01:00"])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        string? address = null;
        for (var i = 0; i < 200 && address is null && !login.IsCompleted; i++)
        {
            lock (output)
            {
                address = printed.ToString().Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(identity.Issuer, StringComparison.Ordinal));
            }
            await Task.Delay(50);
        }
        Assert.True(address is not null, printed.ToString() + error);
        using var browser = new PersonSignIn(identity, cliClient);
        var (page, _) = await browser.SignInAsync(address, userName, password);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.True(await login == CliApp.Ok, printed.ToString() + error);
        return (accountId, cliClient);
    }

    private static Dictionary<string, string> Saved(string tokenFile) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(tokenFile))!;

    /// <summary>A raw refresh_token grant of the public client.</summary>
    private static Task<(int Status, JsonElement Body)> RefreshAsync(TestIdentity identity, string clientId, string refreshToken, string? resource = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["client_id"] = clientId, ["refresh_token"] = refreshToken };
        if (resource is not null)
        {
            form["resource"] = resource;
        }
        return identity.RequestTokenAsync(form);
    }

    [Fact]
    public async Task A_command_given_no_credential_runs_with_the_login_token_and_a_refresh_token_is_kept_beside_it()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var node = await TestNode.StartAsync("BLZ", identity);
        await node.Observations.SubmitObservationsAsync(Samples.Submit(Samples.Refugees(value: 240)));
        var tokenFile = Path.Combine(identity.Folder, "profile", "token.json");
        await LoginAsync(identity, "bea.blz", AccountKind.Analyst, "BLZ", tokenFile);
        var saved = Saved(tokenFile);
        Assert.True(saved.ContainsKey("refresh_token"), string.Join(", ", saved.Keys));
        // The refresh family's claims stay in the refresh token: the access token nodes see carries none of them.
        var access = new JsonWebToken(saved["access_token"]);
        Assert.DoesNotContain(access.Claims, c => c.Type.StartsWith("mirps_", StringComparison.Ordinal));

        var (code, output, error) = await CliRunner.RunAsync("query", "--node", node.Address, "--node-country", "BLZ", "--identity", identity.Issuer,
            "--token-file", tokenFile, "--indicator", "REFUGEES");
        Assert.True(code == CliApp.Ok, error + output);
        Assert.Contains("240", output, StringComparison.Ordinal);
        // Still valid: used as it is, nothing refreshed.
        Assert.Equal(saved["access_token"], Saved(tokenFile)["access_token"]);

        // A node the token is not for: the refresh token brings one for that node (the person may read the Secretariat's
        // node only as the Secretariat lets a State: the token is what changes here, not the rules).
        var (_, refreshed) = await RefreshAsync(identity, saved["client_id"], saved["refresh_token"], MirpsAuth.NodeAudience("PAN"));
        Assert.Equal([MirpsAuth.NodeAudience("PAN")], new JsonWebToken(refreshed.GetProperty("access_token").GetString()).Audiences);
        Assert.Equal((MirpsAuth.StateRole, "BLZ"), (new JsonWebToken(refreshed.GetProperty("access_token").GetString()).GetClaim(MirpsAuth.RoleClaim).Value,
            new JsonWebToken(refreshed.GetProperty("access_token").GetString()).GetClaim(MirpsAuth.CountryClaim).Value));
    }

    [Fact]
    public async Task An_expired_login_token_is_refreshed_silently_and_the_refresh_token_rotates()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:AccessTokenLifetime=00:00:02");
        await using var node = await TestNode.StartAsync("BLZ", identity);
        await node.Observations.SubmitObservationsAsync(Samples.Submit(Samples.Refugees(value: 240)));
        var tokenFile = Path.Combine(identity.Folder, "profile", "token.json");
        await LoginAsync(identity, "carl.blz", AccountKind.Analyst, "BLZ", tokenFile);
        var before = Saved(tokenFile);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.True(DateTimeOffset.UtcNow > new JsonWebToken(before["access_token"]).ValidTo);

        var (code, output, error) = await CliRunner.RunAsync("query", "--node", node.Address, "--node-country", "BLZ", "--identity", identity.Issuer,
            "--token-file", tokenFile, "--indicator", "REFUGEES");
        Assert.True(code == CliApp.Ok, error + output);
        Assert.Contains("240", output, StringComparison.Ordinal);
        var after = Saved(tokenFile);
        Assert.NotEqual(before["access_token"], after["access_token"]);
        Assert.NotEqual(before["refresh_token"], after["refresh_token"]);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        }
    }

    [Fact]
    public async Task Two_commands_refreshing_one_sign_in_at_once_both_run_and_the_sign_in_is_not_revoked()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:AccessTokenLifetime=00:00:02");
        await using var node = await TestNode.StartAsync("BLZ", identity);
        await node.Observations.SubmitObservationsAsync(Samples.Submit(Samples.Refugees(value: 240)));
        var tokenFile = Path.Combine(identity.Folder, "profile", "token.json");
        await LoginAsync(identity, "fay.blz", AccountKind.Analyst, "BLZ", tokenFile);
        string[] query = ["query", "--node", node.Address, "--node-country", "BLZ", "--identity", identity.Issuer, "--token-file", tokenFile, "--indicator", "REFUGEES"];
        await Task.Delay(TimeSpan.FromSeconds(3));

        // Both find the access token expired; the refresh token is good once, and a second use would revoke the sign-in.
        var together = await Task.WhenAll(CliRunner.RunAsync(query), CliRunner.RunAsync(query), CliRunner.RunAsync(query));
        Assert.All(together, run => Assert.True(run.Code == CliApp.Ok, run.Error + run.Output));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var (code, output, error) = await CliRunner.RunAsync(query);
        Assert.True(code == CliApp.Ok, error + output); // the sign-in still refreshes
    }

    [Fact]
    public async Task An_expired_login_token_without_a_refresh_token_says_so_and_calls_nothing()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:AccessTokenLifetime=00:00:02");
        var tokenFile = Path.Combine(identity.Folder, "profile", "token.json");
        var (_, clientId) = await LoginAsync(identity, "dan.blz", AccountKind.Analyst, "BLZ", tokenFile);
        var saved = Saved(tokenFile);
        MirpsExchange.Cli.Federation.LoginTokens.Save(tokenFile, new Uri(identity.Issuer), clientId, saved["access_token"], refreshToken: null);
        await Task.Delay(TimeSpan.FromSeconds(3));

        var (code, _, error) = await CliRunner.RunAsync("query", "--node", "http://127.0.0.1:9", "--node-country", "BLZ", "--identity", identity.Issuer,
            "--token-file", tokenFile, "--indicator", "REFUGEES");
        Assert.Equal(CliApp.Failed, code);
        Assert.Contains("expired at", error, StringComparison.Ordinal);
        Assert.Contains("mirps login", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_disabled_accounts_refresh_is_refused()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:AccessTokenLifetime=00:00:02");
        await using var node = await TestNode.StartAsync("BLZ", identity);
        var tokenFile = Path.Combine(identity.Folder, "profile", "token.json");
        var (accountId, clientId) = await LoginAsync(identity, "eva.blz", AccountKind.Submitter, "BLZ", tokenFile);
        var saved = Saved(tokenFile);
        await new AccountService.AccountServiceClient(identity.AdminChannel).DisableAccountAsync(new DisableAccountRequest { AccountId = accountId, Reason = "left the office" });
        await Task.Delay(TimeSpan.FromSeconds(3));

        var (code, output, error) = await CliRunner.RunAsync("query", "--node", node.Address, "--node-country", "BLZ", "--identity", identity.Issuer,
            "--token-file", tokenFile, "--indicator", "REFUGEES");
        Assert.True(code == CliApp.Failed, error + output);
        Assert.Contains("refresh was refused", error, StringComparison.Ordinal);
        Assert.Contains("disabled", error, StringComparison.Ordinal);
        var (status, body) = await RefreshAsync(identity, clientId, saved["refresh_token"]);
        Assert.Equal((400, "invalid_grant"), (status, body.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task A_password_reset_revokes_the_sign_ins_refresh_tokens()
    {
        await using var identity = await TestIdentity.StartAsync();
        var tokenFile = Path.Combine(identity.Folder, "profile", "token.json");
        var (accountId, clientId) = await LoginAsync(identity, "flor.blz", AccountKind.Analyst, "BLZ", tokenFile);
        await new AccountService.AccountServiceClient(identity.AdminChannel).ResetPasswordAsync(new ResetPasswordRequest { AccountId = accountId, Reason = "lost laptop" });

        var (status, body) = await RefreshAsync(identity, clientId, Saved(tokenFile)["refresh_token"]);
        Assert.Equal((400, "invalid_grant"), (status, body.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task A_refresh_token_is_single_use_and_a_replayed_one_revokes_every_refresh_token_of_the_sign_in()
    {
        await using var identity = await TestIdentity.StartAsync();
        var tokenFile = Path.Combine(identity.Folder, "profile", "token.json");
        var (_, clientId) = await LoginAsync(identity, "gil.blz", AccountKind.Analyst, "BLZ", tokenFile);
        var stolen = Saved(tokenFile)["refresh_token"];

        // The person refreshes: a new refresh token replaces the one used.
        var (status, body) = await RefreshAsync(identity, clientId, stolen);
        Assert.True(status == 200, body.ToString());
        var next = body.GetProperty("refresh_token").GetString()!;
        Assert.NotEqual(stolen, next);

        // A thief replays the old one: refused, and the whole sign-in's refresh tokens with it, the person's new one included.
        (status, body) = await RefreshAsync(identity, clientId, stolen);
        Assert.Equal((400, "invalid_grant"), (status, body.GetProperty("error").GetString()));
        (status, body) = await RefreshAsync(identity, clientId, next);
        Assert.Equal((400, "invalid_grant"), (status, body.GetProperty("error").GetString()));
        Assert.Contains("revoked", body.GetProperty("error_description").GetString(), StringComparison.Ordinal);

        // Concurrent copies of one refresh token: exactly one gets tokens.
        await LoginAsync(identity, "hana.blz", AccountKind.Analyst, "BLZ", tokenFile);
        var copy = Saved(tokenFile)["refresh_token"];
        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RefreshAsync(identity, Saved(tokenFile)["client_id"], copy)));
        Assert.Equal(1, answers.Count(a => a.Status == 200));
    }

    [Fact]
    public async Task A_refresh_token_is_good_only_for_the_public_client_it_was_issued_to()
    {
        await using var identity = await TestIdentity.StartAsync();
        var tokenFile = Path.Combine(identity.Folder, "profile", "token.json");
        await LoginAsync(identity, "ines.blz", AccountKind.Analyst, "BLZ", tokenFile);
        var other = await PersonSignIn.RegisterClientAsync(identity);
        var (status, body) = await RefreshAsync(identity, other, Saved(tokenFile)["refresh_token"]);
        Assert.Equal((400, "invalid_grant"), (status, body.GetProperty("error").GetString()));
    }

    private static int FreePort() => LoopbackPorts.Free();
}
