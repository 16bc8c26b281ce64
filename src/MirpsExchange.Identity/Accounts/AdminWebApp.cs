using System.Security.Claims;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using MirpsExchange.Identity.Extensions;
using MirpsExchange.Identity.Tokens;
using MirpsExchange.ServiceDefaults;
using MirpsExchange.Web;
using OpenIddict.Server;
using OpenIddict.Validation;

namespace MirpsExchange.Identity.Accounts;

/// <summary>
/// The admin pages of the web app (src/MirpsExchange.Web, Components/Pages/Admin), served by the identity server on
/// its OAuth2 address (/admin). They live here because the admin API takes only tokens for the identity server's own
/// audience, and an admin's token names no node: an admin signs in to this process's web app (the code flow with PKCE,
/// as every web app, through the public client <see cref="ClientId"/> this server registers for its own address at
/// start) and the pages call this server's CredentialService and AccountService with that token, so the API's checks
/// and its audit apply to people exactly as to the CLI.
/// </summary>
public static partial class AdminWebApp
{
    /// <summary>The public client of this server's own web app (admin scope only, redirect URI: this server's address).</summary>
    public const string ClientId = "mirps-admin-web";

    /// <remarks>
    /// Over TLS every token is bound to the client certificate that redeemed it (RFC 8705), so the pages present one of
    /// their own, Identity:AdminWebCertificateFile (the admin party's client certificate), both to the token endpoint and
    /// to the admin API.
    /// </remarks>
    public static WebApplicationBuilder AddAdminWebApp(this WebApplicationBuilder builder, IdentityOptions identity, TlsOptions tls)
    {
        if (identity.AdminWebCertificateFile.Length > 0 != identity.AdminWebKeyFile.Length > 0)
        {
            throw new InvalidOperationException("Configuration keys Identity:AdminWebCertificateFile and Identity:AdminWebKeyFile must be set together.");
        }
        if (identity.AdminWebKeyFile.Length > 0)
        {
            OwnerOnlyFile.Require(identity.AdminWebKeyFile, "Identity:AdminWebKeyFile");
        }
        var certificate = tls.Enabled && identity.AdminWebCertificateFile.Length > 0
            ? Mirps.Tls.FederationTrust.LoadClientCertificate(identity.AdminWebCertificateFile, identity.AdminWebKeyFile)
            : null;
        builder.AddWebApp(services => new WebHost
        {
            Secretariat = false,
            IdentityServer = true,
            Country = "",
            // Known once the server listens when Identity:Issuer is not configured; the host is made at the first request.
            Issuer = services.GetRequiredService<IOptionsMonitor<OpenIddictServerOptions>>().CurrentValue.Issuer
                ?? throw new InvalidOperationException("The issuer is set when the server starts."),
            Audience = MirpsAuth.IdentityAudience,
            GrpcAddress = services => IdentityExtensions.ListeningAddresses(services)[1],
            CaFile = tls.Enabled && tls.CaFile.Length > 0 ? tls.CaFile : null,
            ClientCertificate = certificate,
            ValidateToken = certificate is null ? ValidateAsync
                : (services, token, cancellationToken) => ValidateOverTlsAsync(services, token, tls.CaFile, certificate, cancellationToken),
        });
        builder.Services.PostConfigure<WebOptions>(options =>
        {
            if (options.ClientId.Length == 0)
            {
                options.ClientId = ClientId;
            }
        });
        return builder;
    }

    /// <summary>Maps the web app and, once the server listens, registers (or re-points) its public client at this server's address.</summary>
    public static WebApplication MapAdminWebApp(this WebApplication app)
    {
        app.MapWebApp();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var identity = app.Services.GetRequiredService<IOptions<IdentityOptions>>().Value;
            var web = app.Services.GetRequiredService<IOptions<WebOptions>>().Value;
            if (web.ClientId != ClientId)
            {
                return; // another client configured by hand (Web:ClientId): its registration is the admin's
            }
            var address = web.PublicAddress.Length > 0 ? web.PublicAddress
                : identity.Issuer.Length > 0 ? new Uri(identity.Issuer).GetLeftPart(UriPartial.Authority)
                : app.ListeningAddresses()[0];
            // Before the first request can arrive with it (the callback runs inside StartAsync).
            EnsureClientAsync(app.Services, new Uri(address.TrimEnd('/') + MirpsExchange.Web.SignIn.WebSignIn.CallbackPath)).GetAwaiter().GetResult();
        });
        return app;
    }

    /// <summary>Creates the public client, or points it at <paramref name="redirectUri"/> when the address changed (ports picked at start).</summary>
    public static async Task EnsureClientAsync(IServiceProvider services, Uri redirectUri, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<MirpsApplicationManager>();
        var descriptor = AccountAdministration.PublicClient(ClientId, "the identity server's admin pages", [redirectUri], [MirpsAuth.AdminScope]);
        var existing = await applications.FindByClientIdAsync(ClientId, cancellationToken);
        if (existing is not null && (await applications.GetRedirectUrisAsync(existing, cancellationToken)).SequenceEqual([redirectUri.AbsoluteUri]))
        {
            return;
        }
        if (existing is null)
        {
            await applications.CreateAsync(descriptor, cancellationToken);
        }
        else
        {
            await applications.UpdateAsync(existing, descriptor, cancellationToken);
        }
        // The server's own configuration, not an admin's action: logged, not audited (the audit log lists what admins did).
        LogClientPointed(scope.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AdminWebApp)), ClientId, redirectUri.AbsoluteUri);
    }

    [LoggerMessage(EventName = "AdminWebClientPointed", Level = LogLevel.Information, Message = "The admin pages' public client {ClientId} now redirects to {RedirectUri}")]
    private static partial void LogClientPointed(ILogger logger, string clientId, string redirectUri);

    /// <summary>
    /// Over TLS, a person's token as the admin API takes it from these pages: one call (the first page of one account) over
    /// mutual TLS presenting the pages' certificate, which checks everything the pages' calls will meet (signature, issuer,
    /// lifetime, audience, revocation, the binding to that certificate, the admin role). OpenIddict's local validation cannot
    /// do it here: outside a request it has no client certificate to prove the token's binding against.
    /// </summary>
    private static async Task<ClaimsPrincipal?> ValidateOverTlsAsync(IServiceProvider services, string token, string caFile,
        System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        using var channel = global::Grpc.Net.Client.GrpcChannel.ForAddress(IdentityExtensions.ListeningAddresses(services)[1], new global::Grpc.Net.Client.GrpcChannelOptions
        {
            HttpHandler = Mirps.Tls.FederationTrust.CreateHandler(caFile, certificate),
            DisposeHttpClient = true,
        });
        try
        {
            await new Mirps.Identity.V1.AccountService.AccountServiceClient(channel).ListAccountsAsync(new Mirps.Identity.V1.ListAccountsRequest { PageSize = 1 },
                new global::Grpc.Core.Metadata { { "Authorization", $"Bearer {token}" } }, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cancellationToken);
            return new ClaimsPrincipal(new ClaimsIdentity(OpenIddict.Validation.AspNetCore.OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme));
        }
        catch (global::Grpc.Core.RpcException e) when (e.StatusCode is global::Grpc.Core.StatusCode.Unauthenticated or global::Grpc.Core.StatusCode.PermissionDenied)
        {
            return null;
        }
    }

    /// <summary>A person's token as the admin API validates it: this server's signature, issuer and lifetime, and its own audience.</summary>
    private static async Task<ClaimsPrincipal?> ValidateAsync(IServiceProvider services, string token, CancellationToken cancellationToken)
    {
        try
        {
            return await services.GetRequiredService<OpenIddictValidationService>().ValidateAccessTokenAsync(token, cancellationToken);
        }
        catch (Exception e) when (e is OpenIddict.Abstractions.OpenIddictExceptions.ValidationException or OpenIddict.Abstractions.OpenIddictExceptions.ProtocolException)
        {
            // A token for another audience (a State person's, for their node) is a protocol error here, not a crash.
            return null;
        }
    }
}
