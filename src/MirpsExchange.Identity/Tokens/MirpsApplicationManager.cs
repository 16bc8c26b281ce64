using System.Security.Cryptography.X509Certificates;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using OpenIddict.EntityFrameworkCore.Models;
using Mirps.Tls;
using MirpsExchange.Identity.Store;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// OpenIddict's application manager, plus a rotated secret's grace period: while it lasts, the
/// previous secret (kept hashed in the credential register) is accepted beside the new one; and which
/// client certificates (mutual TLS) a credential may use.
/// </summary>
public sealed class MirpsApplicationManager(
    IOpenIddictApplicationCache<OpenIddictEntityFrameworkCoreApplication> cache,
    ILogger<OpenIddictApplicationManager<OpenIddictEntityFrameworkCoreApplication>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictApplicationStore<OpenIddictEntityFrameworkCoreApplication> store,
    IdentityDbContext db,
    TimeProvider clock)
    : OpenIddictApplicationManager<OpenIddictEntityFrameworkCoreApplication>(cache, logger, options, store)
{
    public override async ValueTask<bool> ValidateClientSecretAsync(OpenIddictEntityFrameworkCoreApplication application, string secret, CancellationToken cancellationToken = default)
    {
        if (await base.ValidateClientSecretAsync(application, secret, cancellationToken))
        {
            return true;
        }
        var now = clock.GetUtcNow();
        var previous = await db.Credentials.AsNoTracking()
            .Where(c => c.ClientId == application.ClientId && c.PreviousSecretHash != null)
            .Select(c => new { c.PreviousSecretHash, c.PreviousSecretExpireTime })
            .FirstOrDefaultAsync(cancellationToken);
        return previous is { PreviousSecretHash: { } hash, PreviousSecretExpireTime: { } expires } && expires > now
            && await ValidateClientSecretAsync(secret, hash, cancellationToken);
    }

    /// <summary>The stored (hashed) form of a secret, as OpenIddict would store it.</summary>
    public ValueTask<string> HashSecretAsync(string secret, CancellationToken cancellationToken) => ObfuscateClientSecretAsync(secret, cancellationToken);

    /// <summary>Application setting holding a tls_client_auth credential's registered certificate subject (RFC 8705 §2.1.2).</summary>
    public const string SubjectSetting = "mirps:tls_client_auth_subject";

    /// <summary>
    /// OpenIddict's checks, except that a confidential tls_client_auth application (a registered certificate
    /// subject, no secret and no key) is valid: its client certificate authenticates it (OpenIddict 7.8 knows
    /// only secrets and assertion keys here). Any other application is checked exactly as before.
    /// </summary>
    public override async IAsyncEnumerable<System.ComponentModel.DataAnnotations.ValidationResult> ValidateAsync(
        OpenIddictEntityFrameworkCoreApplication application, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var certificateOnly = string.IsNullOrEmpty(application.ClientSecret) && string.IsNullOrEmpty(application.JsonWebKeySet)
            && (await GetSettingsAsync(application, cancellationToken)).ContainsKey(SubjectSetting);
        await foreach (var result in base.ValidateAsync(application, cancellationToken))
        {
            if (certificateOnly && result.ErrorMessage is { } message && message == NoSecretOrKeyMessage)
            {
                continue;
            }
            yield return result;
        }
    }

    /// <summary>OpenIddict's message for a confidential application with neither a secret nor an assertion key (OpenIddictResources.ID2113).</summary>
    private static readonly string? NoSecretOrKeyMessage = new System.Resources.ResourceManager(
        "OpenIddict.Abstractions.OpenIddictResources", typeof(OpenIddictResources).Assembly).GetString(OpenIddictResources.ID2113);

    /// <summary>
    /// Whether <paramref name="certificate"/>, presented in the TLS handshake of a token request, may stand
    /// for this credential: it chains to the federation CA alone and allows client authentication
    /// (<paramref name="policy"/>, from EnablePublicKeyInfrastructureTlsClientAuthentication), it names
    /// the credential's own party (urn:mirps:PAN, secretariat, admin), and for a tls_client_auth
    /// credential it also has the registered subject DN or subject alternative name. OpenIddict then
    /// binds the token to it (cnf x5t#S256). OpenIddict's own check matches redirect URIs, which
    /// client-credentials clients do not have.
    /// </summary>
    public override async ValueTask<bool> ValidatePublicKeyInfrastructureTlsClientCertificateAsync(
        OpenIddictEntityFrameworkCoreApplication application, X509Certificate2 certificate, X509ChainPolicy policy, CancellationToken cancellationToken = default)
    {
        if (!FederationTrust.IssuedDirectlyByCa(certificate, policy))
        {
            return false;
        }
        if (application.ClientType == OpenIddictConstants.ClientTypes.Public)
        {
            // A public client people sign in through (no credential): any certificate of the federation CA, to
            // which the person's token is then bound. Nodes accept the token only with a certificate of the
            // account's own party (CertificateBinding), so the one that redeems the code must hold that one.
            return true;
        }
        var credential = await db.Credentials.AsNoTracking()
            .Where(c => c.ClientId == application.ClientId && c.RevokeTime == null)
            .Select(c => new { c.Role, c.Country })
            .FirstOrDefaultAsync(cancellationToken);
        if (credential is null || FederationIdentity.PartyOf(certificate) != FederationIdentity.PartyOf(credential.Role, credential.Country))
        {
            return false;
        }
        var settings = await GetSettingsAsync(application, cancellationToken);
        return !settings.TryGetValue(SubjectSetting, out var subject) || CertificateSubject.Matches(certificate, subject);
    }
}
