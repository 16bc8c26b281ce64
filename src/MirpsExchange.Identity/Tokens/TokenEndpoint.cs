using System.Security.Claims;
using Microsoft.AspNetCore;
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
        if (!request.IsClientCredentialsGrantType())
        {
            return Forbid(Errors.UnsupportedGrantType, "Only the client_credentials grant is supported.");
        }
        if (http.Request.IsHttps && await http.Connection.GetClientCertificateAsync(http.RequestAborted) is null)
        {
            // Over TLS every token is bound to the client's certificate: a client without one gets none.
            return Forbid(Errors.InvalidClient, "Over TLS a client certificate of the federation CA is required: tokens are bound to it (RFC 8705).");
        }
        var credential = await db.Credentials.AsNoTracking().FirstOrDefaultAsync(c => c.ClientId == request.ClientId && c.RevokeTime == null, http.RequestAborted);
        if (credential is null)
        {
            // The application exists (OpenIddict authenticated it) but is revoked: answer as for any bad client.
            return Forbid(Errors.InvalidClient, "The client credentials are invalid.");
        }

        var allowed = Scopes(credential.Role);
        var requested = request.GetScopes();
        var granted = requested.IsDefaultOrEmpty ? allowed : [.. requested.Intersect(allowed)];
        var resources = request.GetResources();
        string audience;
        if (credential.Role == MirpsAuth.AdminRole)
        {
            if (!resources.IsDefaultOrEmpty)
            {
                return Forbid(Errors.InvalidTarget, "Admin tokens are for the identity server's admin API only; ask without a resource.");
            }
            audience = MirpsAuth.IdentityAudience;
        }
        else if (resources.Length > 1)
        {
            return Forbid(Errors.InvalidTarget, "A token is for one node: ask for one resource (mirps-node:<ISO3> or mirps-node:secretariat).");
        }
        else
        {
            // OpenIddict has already refused a resource that is not a registered node audience. Without one, the
            // credential's own node: its State's, or the Secretariat's.
            audience = resources.IsDefaultOrEmpty ? MirpsAuth.NodeAudience(credential.Country) : resources[0];
        }
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, credential.ClientId);
        identity.SetClaim(MirpsAuth.RoleClaim, credential.Role);
        if (credential.Country.Length > 0)
        {
            identity.SetClaim(MirpsAuth.CountryClaim, credential.Country);
        }
        identity.SetScopes(granted);
        identity.SetResources(audience);
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>The scopes a role's tokens may carry.</summary>
    public static string[] Scopes(string role) => role switch
    {
        MirpsAuth.StateRole => [MirpsAuth.ReadScope, MirpsAuth.SubmitScope],
        MirpsAuth.SecretariatRole => [MirpsAuth.ReadScope],
        MirpsAuth.AdminRole => [MirpsAuth.AdminScope],
        _ => [],
    };

    /// <summary>The audiences of every node: each MIRPS State's and the Secretariat's.</summary>
    public static IEnumerable<string> NodeAudiences(MirpsExchange.Catalogue.StandardCatalogue catalogue) =>
        catalogue.ReportingCountries.Order().Select(MirpsAuth.NodeAudience).Append(MirpsAuth.NodeAudience(MirpsAuth.Secretariat));

    private static IResult Forbid(string error, string description) => Results.Forbid(
        new Microsoft.AspNetCore.Authentication.AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}
