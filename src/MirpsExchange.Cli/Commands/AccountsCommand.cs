using System.CommandLine;
using Grpc.Net.Client;
using Mirps.Identity.V1;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps accounts create | list | disable | enable | reset-password | reset-2fa | register-client</c>: people's accounts
/// at the identity server (its AccountService), with an admin credential's token, as <c>mirps credentials</c>.
/// </summary>
public static class AccountsCommand
{
    public const string Description =
        "Administer people's accounts at the identity server and the public clients they sign in through (needs an admin credential). "
        + "Exit codes: 0 done. 1 request refused (invalid). 2 no admin token, server unreachable, or any other server error.";

    public static Command Create()
    {
        var (connection, options) = CredentialsCommand.AdminConnection();
        var command = new Command("accounts", Description)
        {
            CreateAccount(connection), List(connection),
            Change(connection, "disable", "Disable an account: no new sign-in, and its tokens are refused at every node within a minute",
                async (client, id, reason, ct) => (await client.DisableAccountAsync(new DisableAccountRequest { AccountId = id, Reason = reason }, deadline: CredentialsCommand.Deadline(), cancellationToken: ct)).Account),
            Change(connection, "enable", "Enable a disabled account again (its earlier tokens stay refused)",
                async (client, id, reason, ct) => (await client.EnableAccountAsync(new EnableAccountRequest { AccountId = id, Reason = reason }, deadline: CredentialsCommand.Deadline(), cancellationToken: ct)).Account),
            ResetPassword(connection),
            Change(connection, "reset-2fa", "Remove an account's authenticator: the person enrols a new one at the next sign-in",
                async (client, id, reason, ct) => (await client.ResetTwoFactorAsync(new ResetTwoFactorRequest { AccountId = id, Reason = reason }, deadline: CredentialsCommand.Deadline(), cancellationToken: ct)).Account),
            RegisterClient(connection),
        };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
        return command;
    }

    private static AccountService.AccountServiceClient Client(GrpcChannel channel) => new(channel);

    private static Command CreateAccount(CredentialsCommand.Connection connection)
    {
        var userName = new Argument<string>("user-name") { Description = "What the person types to sign in (3 to 64 of a-z, 0-9, . _ - @)" };
        var kind = new Option<string>("--kind")
        {
            Description = "analyst (reads), submitter (reads and submits a State's data), approver (also approves a State's data; at the Secretariat, accepts it) or admin",
            Required = true,
        };
        kind.AcceptOnlyFromAmong("analyst", "submitter", "approver", "admin");
        var country = new Option<string>("--country") { Description = "ISO3 of the State (analyst, submitter or approver of a State); none for an admin", HelpName = "ISO3" };
        var secretariat = new Option<bool>("--secretariat") { Description = "An analyst or approver (acceptor) of the Secretariat (no --country): always stated, never implied by a missing country" };
        var displayName = new Option<string>("--display-name") { Description = "The person's name, for people" };
        var twoFactor = new Option<bool>("--require-2fa") { Description = "The person enrols a TOTP authenticator at the first sign-in (always for admins)" };
        var command = new Command("create", "Create an account; its temporary password is shown once and must be changed at the first sign-in")
        {
            userName, kind, country, secretariat, displayName, twoFactor,
        };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, Client, async (client, console) =>
        {
            var response = await client.CreateAccountAsync(new CreateAccountRequest
            {
                UserName = parse.GetRequiredValue(userName),
                Kind = parse.GetRequiredValue(kind) switch
                {
                    "analyst" => AccountKind.Analyst,
                    "submitter" => AccountKind.Submitter,
                    "approver" => AccountKind.Approver,
                    _ => AccountKind.Admin,
                },
                Country = (parse.GetValue(country) ?? "").Trim().ToUpperInvariant(),
                Secretariat = parse.GetValue(secretariat),
                DisplayName = parse.GetValue(displayName) ?? "",
                RequireTwoFactor = parse.GetValue(twoFactor),
            }, deadline: CredentialsCommand.Deadline(), cancellationToken: cancellationToken);
            await console.WriteLineAsync($"Created {Describe(response.Account)}.");
            await console.WriteLineAsync($"temporary_password: {response.TemporaryPassword}");
            await console.WriteLineAsync("Hand it to the person over a channel of its own; it works once, for a sign-in that sets a new password.");
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command List(CredentialsCommand.Connection connection)
    {
        var command = new Command("list", "List the accounts (never their passwords or keys)");
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, Client, async (client, console) =>
        {
            var rows = new List<string[]>();
            var request = new ListAccountsRequest { PageSize = 100 };
            do
            {
                var page = await client.ListAccountsAsync(request, deadline: CredentialsCommand.Deadline(), cancellationToken: cancellationToken);
                rows.AddRange(page.Accounts.Select(a => new[]
                {
                    a.AccountId, a.UserName, KindName(a.Kind), a.Country.Length > 0 ? a.Country : "-",
                    a.TwoFactorEnabled ? "on" : a.TwoFactorRequired ? "to enrol" : "off",
                    a.DisableTime is not null ? "disabled " + CredentialsCommand.Format(a.DisableTime)
                        : a.LockoutEndTime is not null ? "locked until " + CredentialsCommand.Format(a.LockoutEndTime)
                        : a.MustChangePassword ? "temporary password" : "active",
                }));
                request.PageToken = page.NextPageToken;
            }
            while (request.PageToken.Length > 0);
            await CredentialsCommand.WriteTable(console, ["ACCOUNT ID", "USER", "KIND", "COUNTRY", "2FA", "STATE"], rows);
            await console.WriteLineAsync($"{rows.Count} account{(rows.Count == 1 ? "" : "s")}");
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command Change(CredentialsCommand.Connection connection, string name, string description,
        Func<AccountService.AccountServiceClient, string, string, CancellationToken, Task<Account>> call)
    {
        var accountId = new Argument<string>("account-id") { Description = "The account (its id, from `mirps accounts list`)" };
        var reason = new Option<string>("--reason") { Description = "Why, for the audit log" };
        var command = new Command(name, description) { accountId, reason };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, Client, async (client, console) =>
        {
            var account = await call(client, parse.GetRequiredValue(accountId), parse.GetValue(reason) ?? "", cancellationToken);
            await console.WriteLineAsync($"Done: {Describe(account)}.");
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command ResetPassword(CredentialsCommand.Connection connection)
    {
        var accountId = new Argument<string>("account-id") { Description = "The account (its id, from `mirps accounts list`)" };
        var reason = new Option<string>("--reason") { Description = "Why, for the audit log" };
        var command = new Command("reset-password", "Give an account a one-time temporary password (shown once; changed at the next sign-in); ends a lockout; its tokens are refused")
        {
            accountId, reason,
        };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, Client, async (client, console) =>
        {
            var response = await client.ResetPasswordAsync(new ResetPasswordRequest { AccountId = parse.GetRequiredValue(accountId), Reason = parse.GetValue(reason) ?? "" },
                deadline: CredentialsCommand.Deadline(), cancellationToken: cancellationToken);
            await console.WriteLineAsync($"Reset {Describe(response.Account)}.");
            await console.WriteLineAsync($"temporary_password: {response.TemporaryPassword}");
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command RegisterClient(CredentialsCommand.Connection connection)
    {
        var redirectUris = new Option<string[]>("--redirect-uri") { Description = "A redirect URI, matched exactly (https, or http on loopback); repeat for more", Required = true, AllowMultipleArgumentsPerToken = false };
        var description = new Option<string>("--description") { Description = "Free text: which application" };
        var command = new Command("register-client", "Register a public client (a web app, a desktop tool) people sign in through: authorization code + PKCE (S256) only")
        {
            redirectUris, description,
        };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, Client, async (client, console) =>
        {
            var response = await client.RegisterPublicClientAsync(new RegisterPublicClientRequest
            {
                RedirectUris = { parse.GetRequiredValue(redirectUris) },
                Description = parse.GetValue(description) ?? "",
            }, deadline: CredentialsCommand.Deadline(), cancellationToken: cancellationToken);
            await console.WriteLineAsync($"client_id: {response.ClientId}");
            await console.WriteLineAsync($"redirect URIs: {string.Join(", ", response.RedirectUris)}");
            return null;
        }, cancellationToken));
        return command;
    }

    private static string KindName(AccountKind kind) => kind switch
    {
        AccountKind.Analyst => "analyst",
        AccountKind.Submitter => "submitter",
        AccountKind.Admin => "admin",
        _ => "?",
    };

    private static string Describe(Account a) =>
        $"{a.UserName} ({a.AccountId}), {KindName(a.Kind)}{(a.Country.Length > 0 ? " of " + a.Country : a.Kind == AccountKind.Admin ? "" : " at the Secretariat")}"
        + (a.DisableTime is not null ? ", disabled" : "");
}
