using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Store;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// The token endpoint's last step, after OpenIddict has authenticated the client (secret,
/// private_key_jwt or tls_client_auth) and checked it may use the grant, the requested scopes and the
/// client certificate presented: build the access token (over TLS bound to that certificate).
/// </summary>
public static class TokenEndpoint
{
    public static IEndpointRouteBuilder MapTokenEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapPost(MirpsAuth.TokenEndpointPath, IssueAsync).DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> IssueAsync(HttpContext http, IdentityDbContext db, MirpsExchange.Catalogue.StandardCatalogue catalogue)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenIddict token request.");
        if (http.Request.IsHttps && await http.Connection.GetClientCertificateAsync(http.RequestAborted) is null)
        {
            // Over TLS every token is bound to the client's certificate (a person's too, redeemed by its
            // public client): a client without one gets none, as nodes over TLS refuse unbound tokens.
            return Forbid(Errors.InvalidClient, "Over TLS a client certificate of the federation CA is required: tokens are bound to it (RFC 8705).");
        }
        if (request.IsAuthorizationCodeGrantType())
        {
            return await RedeemCodeAsync(http, request, db);
        }
        if (request.IsRefreshTokenGrantType())
        {
            return await RefreshAsync(http, request, db);
        }
        if (!request.IsClientCredentialsGrantType())
        {
            return Forbid(Errors.UnsupportedGrantType, "Only the client_credentials, authorization_code and refresh_token grants are supported.");
        }
        var credential = await db.Credentials.AsNoTracking().FirstOrDefaultAsync(c => c.ClientId == request.ClientId && c.RevokeTime == null, http.RequestAborted);
        if (credential is null)
        {
            // The application exists (OpenIddict authenticated it) but is revoked: answer as for any bad client.
            return Forbid(Errors.InvalidClient, "The client credentials are invalid.");
        }

        // The approve scope only when asked for (OpenIddict has checked the credential's permission): a request naming no
        // scope gets the role's usual ones, so a system's everyday token never carries the power to approve.
        var granted = request.GetScopes().IsDefaultOrEmpty ? Scopes(credential.Role) : TokenGrant.Scopes(request, Scopes(credential.Role, credential.Approve));
        var (audience, refusal) = TokenGrant.Audience(credential.Role == MirpsAuth.AdminRole, credential.Country, request.GetResources());
        if (refusal is not null)
        {
            return Forbid(Errors.InvalidTarget, refusal);
        }
        return Results.SignIn(TokenGrant.Principal(credential.ClientId, credential.Role, credential.Country, granted, audience),
            properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>
    /// A person's authorization code, after OpenIddict has checked it (its client, redirect URI, lifetime and the
    /// PKCE code_verifier against its S256 challenge): used once (OpenIddict keeps no token store here, so the
    /// code's hash is recorded with an insert that fails on a second use, as client assertions' jti are), and
    /// only while its account is still enabled and was not cut off since. The access token is built again
    /// from the account as it stands now.
    /// </summary>
    private static async Task<IResult> RedeemCodeAsync(HttpContext http, OpenIddictRequest request, IdentityDbContext db)
    {
        var result = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        if (result.Principal is not { } code || code.GetClaim(Claims.Subject) is not { } accountId)
        {
            return Forbid(Errors.InvalidGrant, "The authorization code is invalid.");
        }
        var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        var keepUntil = (code.GetExpirationDate() ?? now) + TokenValidationParameters.DefaultClockSkew;
        if (!await UseOnceAsync(db, request.ClientId ?? "", "code:" + Hash(request.Code), keepUntil, now, http.RequestAborted))
        {
            return Forbid(Errors.InvalidGrant, "The authorization code was already used.");
        }
        var account = await db.Users.AsNoTracking().FirstOrDefaultAsync(a => a.Id == accountId, http.RequestAborted);
        var issued = code.GetCreationDate() ?? DateTimeOffset.MinValue;
        if (!Usable(account, issued))
        {
            return Forbid(Errors.InvalidGrant, "The account behind the authorization code is disabled or was reset since.");
        }
        var audience = code.GetResources().FirstOrDefault() ?? MirpsAuth.NodeAudience(account!.Country);
        var principal = PersonPrincipal(account!, code.GetScopes(), audience);
        if (principal.HasScope(OpenIddictConstants.Scopes.OfflineAccess))
        {
            // The sign-in's refresh tokens form one family: its id and the sign-in time travel in every refresh token
            // (never in an access token: the claims have no destination).
            var identity = (ClaimsIdentity)principal.Identity!;
            identity.AddClaim(new Claim(FamilyClaim, Base64UrlEncoder.Encode(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16))));
            identity.AddClaim(new Claim(SignInTimeClaim, issued.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        return Results.SignIn(principal, properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>The refresh token family a person's sign-in starts (a claim refresh tokens carry, access tokens never).</summary>
    public const string FamilyClaim = "mirps_family";

    /// <summary>When the person signed in (Unix seconds): the family ends <see cref="IdentityOptions.RefreshTokenLifetime"/> after it.</summary>
    public const string SignInTimeClaim = "mirps_signin";

    /// <summary>
    /// A person's refresh token, after OpenIddict has checked it (signature, expiry, the public client it was issued to). Used
    /// once: its hash is recorded as a code's is, and a second use (a stolen copy, or the real client after the thief) revokes
    /// the whole family, so neither the thief nor the person can refresh again without signing in (OAuth 2.0 Security BCP,
    /// refresh token rotation). Refused too once the family's lifetime from the sign-in has passed, or when the account has
    /// been disabled or its password reset since the sign-in. The access token is built again from the account as it stands,
    /// for the node the request names (resource) or else the one of the sign-in; a new refresh token of the family comes with it.
    /// </summary>
    private static async Task<IResult> RefreshAsync(HttpContext http, OpenIddictRequest request, IdentityDbContext db)
    {
        var result = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        if (result.Principal is not { } refresh || refresh.GetClaim(Claims.Subject) is not { } accountId
            || refresh.GetClaim(FamilyClaim) is not { Length: > 0 } family
            || !long.TryParse(refresh.GetClaim(SignInTimeClaim), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var signInSeconds))
        {
            return Forbid(Errors.InvalidGrant, "The refresh token is invalid.");
        }
        var lifetime = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<IdentityOptions>>().Value.RefreshTokenLifetime;
        var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        var signedIn = DateTimeOffset.FromUnixTimeSeconds(signInSeconds);
        var familyEnd = signedIn + lifetime;
        if (now >= familyEnd)
        {
            return Forbid(Errors.InvalidGrant, $"The sign-in of {signedIn:u} can no longer be refreshed (after {lifetime}): sign in again.");
        }
        var clientId = request.ClientId ?? "";
        var familyKey = "family:" + family;
        var keepUntil = familyEnd + TokenValidationParameters.DefaultClockSkew;
        if (await db.ClientAssertions.AsNoTracking().AnyAsync(a => a.ClientId == clientId && a.TokenId == familyKey, http.RequestAborted))
        {
            return Forbid(Errors.InvalidGrant, "The refresh tokens of this sign-in were revoked (one was used twice): sign in again.");
        }
        if (!await UseOnceAsync(db, clientId, "refresh:" + Hash(request.RefreshToken), keepUntil, now, http.RequestAborted))
        {
            // A replay: one of the two holders is not the person. Revoke the family; both must sign in again.
            await UseOnceAsync(db, clientId, familyKey, keepUntil, now, http.RequestAborted);
            CredentialAdministration.Audit(db, http.RequestServices.GetRequiredService<TimeProvider>(), clientId, "RefreshTokenReplayed", accountId,
                $"a refresh token of the sign-in of {signedIn:u} through {clientId} was used twice: every refresh token of that sign-in is revoked");
            await db.SaveChangesAsync(http.RequestAborted);
            return Forbid(Errors.InvalidGrant, "The refresh token was already used: every refresh token of this sign-in is revoked; sign in again.");
        }
        var account = await db.Users.AsNoTracking().FirstOrDefaultAsync(a => a.Id == accountId, http.RequestAborted);
        if (!Usable(account, signedIn))
        {
            return Forbid(Errors.InvalidGrant, "The account is disabled or its password was reset since the sign-in: sign in again.");
        }
        var resources = request.GetResources();
        var (audience, refusal) = resources.IsDefaultOrEmpty
            ? (refresh.GetResources().FirstOrDefault() ?? MirpsAuth.NodeAudience(account!.Country), null)
            : TokenGrant.Audience(account!.Kind == Accounts.AccountUser.AdminKind, account.Country, resources);
        if (refusal is not null)
        {
            return Forbid(Errors.InvalidTarget, refusal);
        }
        var principal = PersonPrincipal(account!, refresh.GetScopes(), audience);
        var identity = (ClaimsIdentity)principal.Identity!;
        identity.AddClaim(new Claim(FamilyClaim, family));
        identity.AddClaim(new Claim(SignInTimeClaim, signInSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return Results.SignIn(principal, properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>A person's token principal: the scopes among the account's (as it stands now), offline_access kept when granted.</summary>
    private static ClaimsPrincipal PersonPrincipal(Accounts.AccountUser account, IEnumerable<string> granted, string audience)
    {
        var scopes = granted.Where(s => account.Scopes.Contains(s) || s == OpenIddictConstants.Scopes.OfflineAccess);
        return Accounts.SignInEndpoints.TokenPrincipal(account, scopes, audience);
    }

    /// <summary>Whether an account may still get tokens from a sign-in (or code) of <paramref name="since"/>: it exists, is enabled and was not cut off since.</summary>
    private static bool Usable(Accounts.AccountUser? account, DateTimeOffset since) =>
        account is not null && account.DisableTime is null && !(account.TokenCutoffTime is { } cutoff && since < cutoff);

    /// <summary>
    /// Records (<paramref name="clientId"/>, <paramref name="key"/>) until <paramref name="keepUntil"/> with an insert that fails on a
    /// second use: true the first time only, however many requests race (expired records are cleared first).
    /// </summary>
    private static async Task<bool> UseOnceAsync(IdentityDbContext db, string clientId, string key, DateTimeOffset keepUntil, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await db.ClientAssertions.Where(a => a.ExpireTime < now.UtcTicks).ExecuteDeleteAsync(cancellationToken);
        var until = keepUntil.UtcTicks;
        return await db.Database.ExecuteSqlAsync(
            $"INSERT INTO client_assertions (ClientId, TokenId, ExpireTime) VALUES ({clientId}, {key}, {until}) ON CONFLICT DO NOTHING", cancellationToken) > 0;
    }

    private static string Hash(string? token) => Base64UrlEncoder.Encode(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token ?? "")));

    /// <summary>The scopes a role's tokens may carry; <paramref name="approve"/>: also the approve scope (a State's or the Secretariat's approver).</summary>
    public static string[] Scopes(string role, bool approve = false) => role switch
    {
        MirpsAuth.StateRole => approve ? [MirpsAuth.ReadScope, MirpsAuth.SubmitScope, MirpsAuth.ApproveScope] : [MirpsAuth.ReadScope, MirpsAuth.SubmitScope],
        MirpsAuth.SecretariatRole => approve ? [MirpsAuth.ReadScope, MirpsAuth.ApproveScope] : [MirpsAuth.ReadScope],
        MirpsAuth.AdminRole => [MirpsAuth.AdminScope],
        _ => [],
    };

    /// <summary>The audiences of every node: each MIRPS State's and the Secretariat's.</summary>
    public static IEnumerable<string> NodeAudiences(MirpsExchange.Catalogue.StandardCatalogue catalogue) =>
        catalogue.ReportingCountries.Order().Select(MirpsAuth.NodeAudience).Append(MirpsAuth.NodeAudience(MirpsAuth.Secretariat));

    private static IResult Forbid(string error, string description) => TokenGrant.Forbid(error, description);
}
