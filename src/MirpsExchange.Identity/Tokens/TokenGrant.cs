using System.Collections.Immutable;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// What an access token is for and carries, the same for a system's credential (client credentials) and a person's
/// account (the code flow): one audience, the scopes asked for among those allowed, and the sub, role and country claims
/// every node's sharing rules read.
/// </summary>
internal static class TokenGrant
{
    /// <summary>
    /// The one audience of a token: the identity server's admin API for an admin (who may not name a resource), else the one
    /// node named (OpenIddict has refused a resource that is not a registered node audience) or, without one, the party's own
    /// node (its State's, or the Secretariat's). A refusal instead when the request asks otherwise.
    /// </summary>
    public static (string Audience, string? Refusal) Audience(bool admin, string country, ImmutableArray<string> resources) =>
        admin
            ? resources.IsDefaultOrEmpty ? (MirpsAuth.IdentityAudience, null)
                : ("", "Admin tokens are for the identity server's admin API only; ask without a resource.")
            : resources.Length > 1 ? ("", "A token is for one node: ask for one resource (mirps-node:<ISO3> or mirps-node:secretariat).")
            : (resources.IsDefaultOrEmpty ? MirpsAuth.NodeAudience(country) : resources[0], null);

    /// <summary>The scopes the request asks for among <paramref name="allowed"/>; all of them when it asks for none.</summary>
    public static string[] Scopes(OpenIddictRequest request, string[] allowed)
    {
        var requested = request.GetScopes();
        return requested.IsDefaultOrEmpty ? allowed : [.. requested.Intersect(allowed)];
    }

    /// <summary>
    /// A person's scopes: those asked for among <paramref name="allowed"/> (all of them when none is asked for), plus
    /// offline_access when asked for: the person's public client then also gets a refresh token (TokenEndpoint.RefreshAsync).
    /// </summary>
    public static string[] PersonScopes(OpenIddictRequest request, string[] allowed)
    {
        var requested = request.GetScopes();
        var offline = !requested.IsDefaultOrEmpty && requested.Contains(OpenIddictConstants.Scopes.OfflineAccess);
        var asked = requested.IsDefaultOrEmpty ? [] : requested.Remove(OpenIddictConstants.Scopes.OfflineAccess);
        string[] granted = asked.IsEmpty ? allowed : [.. asked.Intersect(allowed)];
        return offline ? [.. granted, OpenIddictConstants.Scopes.OfflineAccess] : granted;
    }

    /// <summary>The access token's principal: sub, role, country (when the party has one), the user name of a person, scopes and audience.</summary>
    public static ClaimsPrincipal Principal(string subject, string role, string country, IEnumerable<string> scopes, string audience, string? userName = null)
    {
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, subject);
        identity.SetClaim(MirpsAuth.RoleClaim, role);
        if (country.Length > 0)
        {
            identity.SetClaim(MirpsAuth.CountryClaim, country);
        }
        if (userName is not null)
        {
            identity.SetClaim(Claims.PreferredUsername, userName);
        }
        identity.SetScopes(scopes);
        identity.SetResources(audience);
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return new ClaimsPrincipal(identity);
    }

    /// <summary>An OAuth2 error answer of the authorization or token endpoint.</summary>
    public static IResult Forbid(string error, string description) => Results.Forbid(
        new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}
