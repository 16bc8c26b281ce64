using Microsoft.Extensions.Options;
using Mirps.Auth;
using MirpsExchange.Identity.Keys;
using MirpsExchange.Identity.Revocation;
using MirpsExchange.Identity.Store;
using MirpsExchange.ServiceDefaults;
using OpenIddict.EntityFrameworkCore.Models;
using OpenIddict.Validation.AspNetCore;

namespace MirpsExchange.Identity.Tokens;

public static class TokenServerExtensions
{
    /// <summary>
    /// The OAuth2 server (OpenIddict): the client_credentials grant, one node's audience per token, signing
    /// keys from the data folder in a ring an admin can roll, the token endpoint's throttle and checks,
    /// mutual TLS with bound tokens when TLS is on, the revocation list; and the validation of the admin
    /// API's own tokens.
    /// </summary>
    public static WebApplicationBuilder AddTokenServer(this WebApplicationBuilder builder, IdentityOptions identity, TlsOptions tls, string dataDirectory, MirpsExchange.Catalogue.StandardCatalogue catalogue)
    {
        builder.Services.AddSingleton<TokenEndpointThrottle>();
        var keys = new SigningKeyStore(Path.Combine(dataDirectory, "keys"), TimeProvider.System);
        var signingKeys = keys.LoadSigningKeys(identity.SigningKeyRollover, identity.AccessTokenLifetime);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(new SigningKeyRing(signingKeys, keys.LoadCompromised()));
        builder.Services.AddSingleton<RevocationList>();
        builder.Services.AddOpenIddict()
            .AddCore(core => core.UseEntityFrameworkCore().UseDbContext<IdentityDbContext>()
                .Services.AddScoped<MirpsApplicationManager>())
            .AddServer(server =>
            {
                server.SetTokenEndpointUris(MirpsAuth.TokenEndpointPath);
                server.AllowClientCredentialsFlow();
                // People: the authorization code flow through public clients an admin registers, PKCE required
                // with S256 only (plain would hand the verifier to whoever sees the authorization request).
                server.SetAuthorizationEndpointUris(Accounts.SignInEndpoints.AuthorizeEndpointPath);
                server.AllowAuthorizationCodeFlow();
                server.RequireProofKeyForCodeExchange();
                server.Configure(options => options.CodeChallengeMethods.Remove(OpenIddict.Abstractions.OpenIddictConstants.CodeChallengeMethods.Plain));
                server.SetAuthorizationCodeLifetime(TimeSpan.FromMinutes(2));
                // A person's public client may refresh what it got (offline_access): each refresh token is used once and
                // the sign-in's refresh tokens end RefreshTokenLifetime after it (TokenEndpoint.RefreshAsync).
                server.AllowRefreshTokenFlow();
                server.SetRefreshTokenLifetime(identity.RefreshTokenLifetime);
                server.DisableSlidingRefreshTokenExpiration();
                server.RegisterScopes(MirpsAuth.ReadScope, MirpsAuth.SubmitScope, MirpsAuth.ApproveScope, MirpsAuth.AdminScope,
                    OpenIddict.Abstractions.OpenIddictConstants.Scopes.OfflineAccess);
                // RFC 8707 resource indicators: a token is for one node, named by its audience. Every
                // credential may ask for any node's (what a node then serves it is that node's sharing
                // policy), so there are no per-client resource permissions; TokenEndpoint picks the audience.
                server.RegisterResources([.. TokenEndpoint.NodeAudiences(catalogue)]);
                server.IgnoreResourcePermissions();
                if (identity.Issuer.Length > 0)
                {
                    server.SetIssuer(new Uri(identity.Issuer));
                }
                server.SetAccessTokenLifetime(identity.AccessTokenLifetime);
                // Nodes validate access tokens themselves from the published keys: signed JWTs, not encrypted.
                server.DisableAccessTokenEncryption();
                server.AddSigningKeys(signingKeys);
                // The keys in use come from the SigningKeyRing, which an admin can roll while the server runs.
                foreach (var handler in SigningKeyRingHandlers.Server)
                {
                    server.AddEventHandler(handler);
                }
                server.AddEncryptionKey(keys.LoadEncryptionKey());
                // Client-credentials tokens are short-lived and never revoked one by one: nothing to store per token.
                // Authorization codes and refresh tokens are made single-use by the token endpoint itself (TokenEndpoint).
                server.DisableTokenStorage();
                server.DisableAuthorizationStorage();
                server.AddEventHandler(TokenEndpointThrottle.LimitBody.Descriptor);
                server.AddEventHandler(TokenEndpointThrottle.Check.Descriptor);
                server.AddEventHandler(TokenEndpointThrottle.CountAuthenticated.Descriptor);
                server.AddEventHandler(ClientAuthenticationFailures.Descriptor);
                server.AddEventHandler(CredentialProof.Descriptor);
                server.AddEventHandler(ClientAssertionReplay.Descriptor);
                if (tls.Enabled)
                {
                    // Mutual TLS (RFC 8705): client certificates of the federation CA alone authenticate
                    // tls_client_auth credentials, and every token is bound to the certificate presented
                    // (cnf x5t#S256); MirpsApplicationManager decides which certificates a credential may use.
                    server.EnablePublicKeyInfrastructureTlsClientAuthentication(
                        [Mirps.Tls.FederationTrust.LoadCa(tls.CaFile)],
                        policy => policy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck);
                    server.UseClientCertificateBoundAccessTokens();
                }
                var aspNetCore = server.UseAspNetCore().EnableTokenEndpointPassthrough().EnableAuthorizationEndpointPassthrough();
                if (!tls.Enabled)
                {
                    aspNetCore.DisableTransportSecurityRequirement(); // cleartext on loopback only
                }
            })
            .AddValidation(validation =>
            {
                validation.UseLocalServer();
                validation.AddEventHandler(SigningKeyRingHandlers.Validation);
                validation.AddAudiences(MirpsAuth.IdentityAudience);
                validation.UseAspNetCore();
            });
        builder.Services.AddScoped<OpenIddict.Abstractions.IOpenIddictApplicationManager>(sp => sp.GetRequiredService<MirpsApplicationManager>());
        builder.Services.AddScoped(sp => (OpenIddict.Core.OpenIddictApplicationManager<OpenIddictEntityFrameworkCoreApplication>)sp.GetRequiredService<MirpsApplicationManager>());
        builder.Services.AddAuthentication(OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme);
        builder.Services.AddAuthorization();

        return builder;
    }
}
