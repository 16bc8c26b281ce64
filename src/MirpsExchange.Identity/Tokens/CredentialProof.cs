using Microsoft.EntityFrameworkCore;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Store;
using OpenIddict.Server;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// A credential authenticates with the proof it was issued with, and that one only. Over mutual TLS,
/// OpenIddict 7.8 takes a confidential client that sends neither secret nor assertion as authenticated
/// by its certificate (PKI client authentication); without this check anyone holding a certificate that
/// names PAN (a node's own, a national system's) could get tokens for every PAN credential with its client
/// id alone, past a secret rotated after a leak or a replaced key. Runs right after OpenIddict has
/// checked the client's type (an assertion's signature is verified earlier, the secret and the
/// certificate later), and before the token is counted against the client's allowance. A client id
/// with no credential in the register is refused too (every application is created with its record).
/// </summary>
public sealed class CredentialProof(IdentityDbContext db) : IOpenIddictServerHandler<ProcessAuthenticationContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
            .UseScopedHandler<CredentialProof>()
            .SetOrder(OpenIddictServerHandlers.ValidateClientType.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ProcessAuthenticationContext context)
    {
        if (context.EndpointType != OpenIddictServerEndpointType.Token || string.IsNullOrEmpty(context.ClientId))
        {
            return;
        }
        var method = await db.Credentials.AsNoTracking()
            .Where(c => c.ClientId == context.ClientId)
            .Select(c => c.Method)
            .FirstOrDefaultAsync(context.CancellationToken);
        var presented = !string.IsNullOrEmpty(context.Request.ClientAssertion) ? CredentialAdministration.PrivateKeyJwtMethod
            : !string.IsNullOrEmpty(context.Request.ClientSecret) ? CredentialAdministration.ClientSecretMethod
            : CredentialAdministration.TlsClientAuthMethod;
        if (method is null && presented == CredentialAdministration.TlsClientAuthMethod
            && (context.Request.IsAuthorizationCodeGrantType() || context.Request.IsRefreshTokenGrantType())
            && await db.Set<OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication>().AsNoTracking()
                .AnyAsync(a => a.ClientId == context.ClientId && a.ClientType == ClientTypes.Public, context.CancellationToken))
        {
            // A public client an admin registered for people (AccountService.RegisterPublicClient): no proof but
            // the code and its PKCE verifier, or the refresh token issued to it, which OpenIddict checks (and
            // TokenEndpoint makes single-use); it can use no other grant.
            return;
        }
        if (method is null || method != presented)
        {
            context.Reject(Errors.InvalidClient, method is null
                ? "This client id has no credential in the register."
                : $"This credential authenticates with {method}, not {presented}.");
        }
    }
}
