using System.Security.Cryptography;
using Google.Rpc;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using MirpsExchange.Catalogue;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Store;
using MirpsExchange.Identity.Tokens;
using MirpsExchange.ServiceDefaults;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace MirpsExchange.Identity.Accounts;

/// <summary>
/// Creating, disabling, enabling and resetting people's accounts, and registering the public clients they
/// sign in through. ASP.NET Core Identity's user manager does the passwords, lockout and authenticator keys;
/// each change commits in one transaction with its audit record, as credential changes do.
/// </summary>
public sealed class AccountAdministration(
    IdentityDbContext db, UserManager<AccountUser> users, MirpsApplicationManager applications, StandardCatalogue catalogue, TimeProvider clock)
{
    public const int MinUserNameLength = 3;
    public const int MaxUserNameLength = 64;

    /// <summary>Characters of a user name (lower case: user names are compared as typed, after lower-casing).</summary>
    public const string UserNameCharacters = "abcdefghijklmnopqrstuvwxyz0123456789._-@";

    /// <summary>Whether <paramref name="userName"/> (trimmed and lower-cased) is one an account can have.</summary>
    public static bool IsWellFormedUserName(string userName) =>
        userName.Length is >= MinUserNameLength and <= MaxUserNameLength && !userName.AsSpan().ContainsAnyExcept(UserNameCharacters);

    public async Task<(AccountUser Account, string TemporaryPassword)> CreateAsync(
        string actor, string userName, string kind, string country, bool secretariat, string displayName, bool requireTwoFactor, CancellationToken cancellationToken)
    {
        userName = userName.Trim().ToLowerInvariant();
        var violations = new List<(string, string)>();
        if (!IsWellFormedUserName(userName))
        {
            violations.Add(("user_name", $"a user name has {MinUserNameLength} to {MaxUserNameLength} characters of a-z, 0-9, '.', '_', '-' and '@'"));
        }
        if (kind is not (AccountUser.AnalystKind or AccountUser.SubmitterKind or AccountUser.ApproverKind or AccountUser.AdminKind))
        {
            violations.Add(("kind", "the kind is required: ANALYST, SUBMITTER, APPROVER or ADMIN"));
        }
        else if (country.Length > 0 && (kind == AccountUser.AdminKind || !catalogue.ReportingCountries.Contains(country)))
        {
            violations.Add(("country", kind == AccountUser.AdminKind
                ? "an admin account belongs to no State; leave the country empty"
                : $"the country must be the ISO3 code of a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order())}); got '{country}'"));
        }
        else if (kind == AccountUser.SubmitterKind && country.Length == 0)
        {
            violations.Add(("country", "a submitter submits a State's data: the country is required"));
        }
        else if (secretariat && (kind is not (AccountUser.AnalystKind or AccountUser.ApproverKind) || country.Length > 0))
        {
            violations.Add(("secretariat", kind is not (AccountUser.AnalystKind or AccountUser.ApproverKind)
                ? "only an analyst or an approver (the acceptor) belongs to the Secretariat"
                : "an account belongs to a State (country) or to the Secretariat (secretariat), not both"));
        }
        else if (kind is AccountUser.AnalystKind or AccountUser.ApproverKind && country.Length == 0 && !secretariat)
        {
            // An empty country would make a Secretariat reader (or acceptor): the Secretariat is chosen, never a default.
            violations.Add(("country", $"an {kind} belongs to a State (the country) or to the Secretariat (secretariat = true): choose one"));
        }
        if (displayName.Length > 200)
        {
            violations.Add(("display_name", "the display name holds at most 200 characters"));
        }
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid account request: {violations[0].Item2}", violations);
        }
        if (await users.FindByNameAsync(userName) is not null)
        {
            throw RpcErrors.WithReason(Code.AlreadyExists, "ACCOUNT_EXISTS", $"an account named '{userName}' already exists");
        }
        var account = new AccountUser
        {
            UserName = userName,
            Kind = kind,
            Country = country,
            DisplayName = displayName,
            CreateTime = clock.GetUtcNow(),
            MustChangePassword = true,
            // An admin account administers every credential: always a second factor.
            TwoFactorRequired = requireTwoFactor || kind == AccountUser.AdminKind,
            LockoutEnabled = true,
        };
        var password = TemporaryPassword();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        Check(await users.CreateAsync(account, password));
        Audit(actor, "CreateAccount", account, $"user {userName}, {kind}{(country.Length > 0 ? ", country " + country : "")}{(account.TwoFactorRequired ? ", two-factor required" : "")}");
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (account, password);
    }

    public async Task<AccountUser> DisableAsync(string actor, string accountId, string reason, CancellationToken cancellationToken)
    {
        var account = await FindAsync(accountId);
        if (account.DisableTime is not null)
        {
            return account;
        }
        return await ChangeAsync(actor, "DisableAccount", account, Reason(reason), cutOff: true, cancellationToken, () =>
        {
            account.DisableTime = clock.GetUtcNow();
            return Task.CompletedTask;
        });
    }

    public async Task<AccountUser> EnableAsync(string actor, string accountId, string reason, CancellationToken cancellationToken)
    {
        var account = await FindAsync(accountId);
        if (account.DisableTime is null)
        {
            return account;
        }
        return await ChangeAsync(actor, "EnableAccount", account, Reason(reason), cutOff: false, cancellationToken, () =>
        {
            account.DisableTime = null;
            return Task.CompletedTask;
        });
    }

    public async Task<(AccountUser Account, string TemporaryPassword)> ResetPasswordAsync(string actor, string accountId, string reason, CancellationToken cancellationToken)
    {
        var account = await FindAsync(accountId);
        var password = TemporaryPassword();
        await ChangeAsync(actor, "ResetPassword", account, Reason(reason), cutOff: true, cancellationToken, async () =>
        {
            Check(await users.RemovePasswordAsync(account));
            Check(await users.AddPasswordAsync(account, password));
            account.MustChangePassword = true;
            account.LockoutEnd = null;
            account.AccessFailedCount = 0;
        });
        return (account, password);
    }

    public async Task<AccountUser> ResetTwoFactorAsync(string actor, string accountId, string reason, CancellationToken cancellationToken)
    {
        var account = await FindAsync(accountId);
        return await ChangeAsync(actor, "ResetTwoFactor", account, Reason(reason), cutOff: false, cancellationToken, async () =>
        {
            // A new key nobody has seen: the person enrols it at the next sign-in.
            Check(await users.ResetAuthenticatorKeyAsync(account));
            account.TwoFactorEnabled = false;
            account.TwoFactorRequired = true;
        });
    }

    /// <summary>A public client (no secret): the authorization code flow with PKCE only, to exactly these redirect URIs (and the refresh of what it got).</summary>
    public async Task<(string ClientId, IReadOnlyList<string> RedirectUris)> RegisterPublicClientAsync(
        string actor, IReadOnlyList<string> redirectUris, string description, CancellationToken cancellationToken)
    {
        var uris = new List<Uri>();
        foreach (var value in redirectUris)
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Fragment.Length > 0
                || !(uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback)))
            {
                throw RpcErrors.InvalidArgument("redirect_uris", $"'{value}' is not an absolute https URI (or http on loopback) without a fragment");
            }
            uris.Add(uri);
        }
        if (uris.Count == 0)
        {
            throw RpcErrors.InvalidArgument("redirect_uris", "a public client needs at least one redirect URI");
        }
        if (description.Length > 500)
        {
            throw RpcErrors.InvalidArgument("description", "the description holds at most 500 characters");
        }
        var clientId = $"public-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))}";
        var descriptor = PublicClient(clientId, description.Length > 0 ? description : clientId, uris,
            [MirpsAuth.ReadScope, MirpsAuth.SubmitScope, MirpsAuth.ApproveScope, MirpsAuth.AdminScope]);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await applications.CreateAsync(descriptor, cancellationToken);
        CredentialAdministration.Audit(db, clock, actor, "RegisterPublicClient", clientId, $"redirect URIs {string.Join(", ", uris.Select(u => u.AbsoluteUri))}");
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (clientId, [.. uris.Select(u => u.AbsoluteUri)]);
    }

    /// <summary>A public client's registration: the code flow with PKCE only, to exactly <paramref name="redirectUris"/>, with <paramref name="scopes"/>.</summary>
    internal static OpenIddictApplicationDescriptor PublicClient(string clientId, string displayName, IEnumerable<Uri> redirectUris, IEnumerable<string> scopes)
    {
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Public,
            DisplayName = displayName,
            Permissions =
            {
                Permissions.Endpoints.Authorization, Permissions.Endpoints.Token,
                Permissions.GrantTypes.AuthorizationCode, Permissions.ResponseTypes.Code,
                // A refresh token only when the person's sign-in asks for offline_access (mirps login does).
                Permissions.GrantTypes.RefreshToken,
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        };
        foreach (var scope in scopes)
        {
            descriptor.Permissions.Add(Permissions.Prefixes.Scope + scope);
        }
        foreach (var uri in redirectUris)
        {
            descriptor.RedirectUris.Add(uri);
        }
        return descriptor;
    }

    /// <summary>
    /// Applies <paramref name="change"/> with its audit record in one transaction; with <paramref name="cutOff"/>,
    /// the account's earlier tokens are refused at every node from the whole second after the commit (the
    /// revocation list), and its sign-in in progress ends (a new security stamp). Returns once the cut-off has passed.
    /// </summary>
    private async Task<AccountUser> ChangeAsync(string actor, string action, AccountUser account, string detail, bool cutOff, CancellationToken cancellationToken, Func<Task> change)
    {
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await change();
            if (cutOff)
            {
                account.TokenCutoffTime = CutoffAfter(clock.GetUtcNow());
                Check(await users.UpdateSecurityStampAsync(account));
            }
            Audit(actor, action, account, detail);
            Check(await users.UpdateAsync(account));
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        if (cutOff && account.TokenCutoffTime < CutoffAfter(clock.GetUtcNow()))
        {
            // The commit ended in a later second: tokens issued until then are cut off too.
            account.TokenCutoffTime = CutoffAfter(clock.GetUtcNow());
            await db.SaveChangesAsync(CancellationToken.None);
        }
        // Returns once the cut-off has passed (at most about a second), as a secret rotated at once: a sign-in
        // after an enable or a reset gets a code and tokens dated at or after it, which it does not refuse.
        if (account.TokenCutoffTime is { } until && until - clock.GetUtcNow() is { Ticks: > 0 } wait)
        {
            await Task.Delay(wait, clock, cancellationToken);
        }
        return account;
    }

    private async Task<AccountUser> FindAsync(string accountId) =>
        (accountId.Length > 0 ? await users.FindByIdAsync(accountId) : null)
        ?? throw RpcErrors.WithReason(Code.NotFound, "ACCOUNT_NOT_FOUND", $"no account has the id '{accountId}'");

    private void Audit(string actor, string action, AccountUser account, string detail) =>
        CredentialAdministration.Audit(db, clock, actor, action, account.Id, $"account {account.UserName}: {detail}");

    private static string Reason(string reason) => reason.Length > 0 ? reason[..Math.Min(reason.Length, 500)] : "no reason given";

    private static DateTimeOffset CutoffAfter(DateTimeOffset time) => DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds() + 1);

    /// <summary>24 random characters (144 bits), shown once to the admin, changed at the next sign-in.</summary>
    private static string TemporaryPassword() => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(18));

    private static void Check(IdentityResult result)
    {
        if (result.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.ConcurrencyFailure)))
        {
            // Two admins changing one account at once: the later write fails on the concurrency stamp and rolls back.
            throw RpcErrors.WithReason(Code.Aborted, "CONCURRENT_CHANGE",
                "the account was changed by another request at the same time; this request changed nothing: read it again and retry");
        }
        if (!result.Succeeded)
        {
            throw RpcErrors.InvalidArgument($"the account change was refused: {string.Join("; ", result.Errors.Select(e => e.Description))}",
                [.. result.Errors.Select(e => ("account", e.Description))]);
        }
    }
}
