using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
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
        if (!request.IsClientCredentialsGrantType())
        {
            return Forbid(Errors.UnsupportedGrantType, "Only the client_credentials and authorization_code grants are supported.");
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
        var clock = http.RequestServices.GetRequiredService<TimeProvider>();
        var now = clock.GetUtcNow();
        var codeHash = "code:" + Base64UrlEncoder.Encode(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(request.Code ?? "")));
        var keepUntil = ((code.GetExpirationDate() ?? now) + TokenValidationParameters.DefaultClockSkew).UtcTicks;
        var clientId = request.ClientId ?? "";
        await db.ClientAssertions.Where(a => a.ExpireTime < now.UtcTicks).ExecuteDeleteAsync(http.RequestAborted);
        if (await db.Database.ExecuteSqlAsync(
            $"INSERT INTO client_assertions (ClientId, TokenId, ExpireTime) VALUES ({clientId}, {codeHash}, {keepUntil}) ON CONFLICT DO NOTHING", http.RequestAborted) == 0)
        {
            return Forbid(Errors.InvalidGrant, "The authorization code was already used.");
        }
        var account = await db.Users.AsNoTracking().FirstOrDefaultAsync(a => a.Id == accountId, http.RequestAborted);
        var issued = code.GetCreationDate() ?? DateTimeOffset.MinValue;
        if (account is null || account.DisableTime is not null || (account.TokenCutoffTime is { } cutoff && issued < cutoff))
        {
            return Forbid(Errors.InvalidGrant, "The account behind the authorization code is disabled or was reset since.");
        }
        var scopes = code.GetScopes().Intersect(account.Scopes);
        var audience = code.GetResources().FirstOrDefault() ?? MirpsAuth.NodeAudience(account.Country);
        return Results.SignIn(Accounts.SignInEndpoints.TokenPrincipal(account, scopes, audience), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

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
