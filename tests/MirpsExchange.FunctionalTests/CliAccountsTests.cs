using System.Net;
using System.Text.RegularExpressions;
using Mirps.Identity.V1;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary><c>mirps accounts</c> against a real identity server, with its bootstrap admin credential.</summary>
public class CliAccountsTests
{
    private static Task<(int Code, string Output, string Error)> AccountsAsync(TestIdentity identity, params string[] args) =>
        CliRunner.RunAsync(["accounts", .. args, "--identity", identity.Issuer, "--admin-api", identity.GrpcAddress,
            "--credential", Path.Combine(identity.DataDirectory, "admin-credential.json")]);

    private static string Printed(string name, string output) => Regex.Match(output, $@"^{name}:\s+(\S+)\s*$", RegexOptions.Multiline) is { Success: true } m
        ? m.Groups[1].Value
        : throw new Xunit.Sdk.XunitException($"no {name} line in: {output}");

    [Fact]
    public async Task An_admin_creates_lists_disables_enables_and_resets_accounts_from_the_CLI_and_each_action_is_audited()
    {
        await using var identity = await TestIdentity.StartAsync();
        var client = await AccountsAsync(identity, "register-client", "--redirect-uri", PersonSignIn.RedirectUri, "--description", "web app");
        Assert.True(client.Code == CliApp.Ok, client.Error + client.Output);
        using var browser = new PersonSignIn(identity, Printed("client_id", client.Output));

        var created = await AccountsAsync(identity, "create", "maria.slv", "--kind", "submitter", "--country", "slv", "--display-name", "María");
        Assert.True(created.Code == CliApp.Ok, created.Error + created.Output);
        var (first, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "maria.slv", Printed("temporary_password", created.Output), "a long new passphrase");
        Assert.NotEmpty(PersonSignIn.CodeOf(first));

        var listed = await AccountsAsync(identity, "list");
        Assert.True(listed.Code == CliApp.Ok, listed.Error);
        var row = Assert.Single(listed.Output.Split('\n'), l => l.Contains("maria.slv", StringComparison.Ordinal));
        Assert.Contains("submitter", row, StringComparison.Ordinal);
        Assert.Contains("SLV", row, StringComparison.Ordinal);
        Assert.Contains("active", row, StringComparison.Ordinal);
        var id = row.Trim().Split(' ')[0];

        Assert.Equal(CliApp.Ok, (await AccountsAsync(identity, "disable", id, "--reason", "left")).Code);
        var (disabled, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "maria.slv", "a long new passphrase");
        Assert.Equal(HttpStatusCode.Unauthorized, disabled.StatusCode); // as a wrong password: nothing confirmed
        Assert.Equal(CliApp.Ok, (await AccountsAsync(identity, "enable", id)).Code);
        var reset = await AccountsAsync(identity, "reset-password", id, "--reason", "forgot it");
        Assert.Equal(CliApp.Ok, reset.Code);
        var (again, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "maria.slv", Printed("temporary_password", reset.Output), "another long passphrase");
        Assert.NotEmpty(PersonSignIn.CodeOf(again));
        Assert.Equal(CliApp.Ok, (await AccountsAsync(identity, "reset-2fa", id)).Code);

        // Refused before anything is created: a submitter needs a State.
        var refused = await AccountsAsync(identity, "create", "nobody", "--kind", "submitter");
        Assert.Equal(CliApp.Refused, refused.Code);
        Assert.Contains("country", refused.Error, StringComparison.Ordinal);

        var actions = (await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest())).Events.Where(e => e.ClientId == id).Select(e => e.Action).ToHashSet();
        Assert.Superset(new HashSet<string> { "CreateAccount", "DisableAccount", "EnableAccount", "ResetPassword", "ResetTwoFactor" }, actions);
    }

    [Fact]
    public async Task An_analyst_without_a_country_is_refused_unless_the_Secretariat_is_chosen_and_only_then_reads_as_the_Secretariat()
    {
        await using var identity = await TestIdentity.StartAsync();
        var accounts = new AccountService.AccountServiceClient(identity.AdminChannel);

        // An admin forgets --country for a State's analyst: no Secretariat reader is made by omission.
        var violation = await RpcAssert.InvalidArgumentAsync(() => accounts.CreateAccountAsync(new CreateAccountRequest { UserName = "ana.pan", Kind = AccountKind.Analyst }).ResponseAsync, "country");
        Assert.Contains("Secretariat", violation.Description, StringComparison.Ordinal);
        // Nor a Secretariat acceptor: an approver without a country is refused alike.
        await RpcAssert.InvalidArgumentAsync(() => accounts.CreateAccountAsync(new CreateAccountRequest { UserName = "ana.pan", Kind = AccountKind.Approver }).ResponseAsync, "country");
        var cli = await AccountsAsync(identity, "create", "ana.pan", "--kind", "analyst");
        Assert.Equal(CliApp.Refused, cli.Code);
        Assert.Contains("country", cli.Error, StringComparison.Ordinal);
        // The flag with a country, or on another kind, is refused too.
        await RpcAssert.InvalidArgumentAsync(() => accounts.CreateAccountAsync(new CreateAccountRequest
        {
            UserName = "ana.pan", Kind = AccountKind.Analyst, Country = "PAN", Secretariat = true,
        }).ResponseAsync, "secretariat");
        await RpcAssert.InvalidArgumentAsync(() => accounts.CreateAccountAsync(new CreateAccountRequest
        {
            UserName = "ana.pan", Kind = AccountKind.Submitter, Secretariat = true,
        }).ResponseAsync, "country");
        await RpcAssert.InvalidArgumentAsync(() => accounts.CreateAccountAsync(new CreateAccountRequest
        {
            UserName = "ana.pan", Kind = AccountKind.Admin, Secretariat = true,
        }).ResponseAsync, "secretariat");
        Assert.Empty((await accounts.ListAccountsAsync(new ListAccountsRequest())).Accounts);

        // Chosen explicitly, it is the Secretariat's analyst; with a country, that State's.
        var client = await AccountsAsync(identity, "register-client", "--redirect-uri", PersonSignIn.RedirectUri, "--description", "web app");
        using var browser = new PersonSignIn(identity, Printed("client_id", client.Output));
        foreach (var (name, args, role) in new[]
        {
            ("luis.sec", new[] { "--secretariat" }, Mirps.Auth.MirpsAuth.SecretariatRole),
            ("ana.pan", new[] { "--country", "PAN" }, Mirps.Auth.MirpsAuth.StateRole),
        })
        {
            var created = await AccountsAsync(identity, ["create", name, "--kind", "analyst", .. args]);
            Assert.True(created.Code == CliApp.Ok, created.Error + created.Output);
            var (first, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), name, Printed("temporary_password", created.Output), "a long new passphrase");
            Assert.NotEmpty(PersonSignIn.CodeOf(first));
            var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(await browser.AccessTokenAsync(name, "a long new passphrase"));
            Assert.Equal(role, token.GetClaim(Mirps.Auth.MirpsAuth.RoleClaim).Value);
        }
    }
}
