using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using MirpsExchange.Catalogue;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Grpc;
using MirpsExchange.Identity.Keys;
using MirpsExchange.Identity.Revocation;
using MirpsExchange.Identity.Store;
using MirpsExchange.Identity.Tokens;
using MirpsExchange.ServiceDefaults;
using OpenIddict.EntityFrameworkCore.Models;
using OpenIddict.Validation.AspNetCore;

namespace MirpsExchange.Identity.Extensions;

public static class IdentityExtensions
{
    public const string MeterName = "MirpsExchange.Identity";

    public static WebApplicationBuilder AddIdentityServer(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults(MeterName);
        var section = builder.Configuration.GetSection(IdentityOptions.Section);
        builder.Services.AddOptions<IdentityOptions>().Bind(section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<IdentityOptions>, IdentityOptionsValidation>();
        var identity = section.Get<IdentityOptions>() ?? new IdentityOptions();
        var dataDirectory = Path.GetFullPath(identity.DataDirectory, builder.Environment.ContentRootPath);
        OwnerOnlyFile.CreateDirectory(dataDirectory);
        var tls = builder.AddTls();

        var catalogue = StandardCatalogue.LoadStandard();
        builder.Services.AddSingleton(catalogue);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddScoped<CredentialAdministration>();
        builder.Services.AddSingleton<TokenEndpointThrottle>();
        var connectionString = builder.Configuration.GetConnectionString("Identity");
        if (string.IsNullOrEmpty(connectionString))
        {
            var database = Path.Combine(dataDirectory, "identity.db");
            OwnerOnlyFile.Ensure(database);
            connectionString = $"Data Source={database}";
        }
        builder.Services.AddDbContext<IdentityDbContext>(options =>
        {
            options.UseSqlite(connectionString);
            options.UseOpenIddict();
        });

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
                server.RegisterScopes(MirpsAuth.ReadScope, MirpsAuth.SubmitScope, MirpsAuth.AdminScope);
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
                server.DisableTokenStorage();
                server.DisableAuthorizationStorage();
                server.AddEventHandler(TokenEndpointThrottle.LimitBody.Descriptor);
                server.AddEventHandler(TokenEndpointThrottle.Check.Descriptor);
                server.AddEventHandler(TokenEndpointThrottle.CountAuthenticated.Descriptor);
                server.AddEventHandler(ClientAuthenticationFailures.Descriptor);
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
                var aspNetCore = server.UseAspNetCore().EnableTokenEndpointPassthrough();
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

        builder.Services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(dataDirectory, "data-protection")));
        var listenAddress = TlsExtensions.ListenAddress(identity.ListenAddress, "Identity:ListenAddress", tls);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (tls.Enabled)
            {
                // With TLS one port serves both: ALPN gives gRPC clients HTTP/2 and OAuth2 clients HTTP/1.1.
                kestrel.Listen(listenAddress, identity.Port, listen =>
                {
                    listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1AndHttp2;
                    listen.UseTls(tls);
                });
                return;
            }
            kestrel.Listen(listenAddress, identity.Port, listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1);
            kestrel.Listen(listenAddress, identity.GrpcPort, listen => listen.UseHttp2());
        });
        return builder;
    }

    public static WebApplication MapIdentityServer(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapServiceDefaults();
        app.MapTokenEndpoint();
        RevocationList.MapRevocationList(app);
        app.MapGrpcService<CredentialGrpcService>().RequireAuthorization();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var options = app.Services.GetRequiredService<IOptions<IdentityOptions>>().Value;
            if (options.Issuer.Length == 0)
            {
                // No configured issuer (local use on ephemeral ports): the OAuth2 address, the same for
                // requests on either port, set before anyone can know the address to call.
                var issuer = new Uri(app.ListeningAddresses()[0].TrimEnd('/') + "/");
                app.Services.GetRequiredService<IOptionsMonitor<OpenIddict.Server.OpenIddictServerOptions>>().CurrentValue.Issuer = issuer;
                app.Services.GetRequiredService<IOptionsMonitor<OpenIddict.Validation.OpenIddictValidationOptions>>().CurrentValue.Issuer = issuer;
            }
            var file = options.AddressFile;
            if (!string.IsNullOrEmpty(file))
            {
                File.WriteAllLines(file + ".tmp", app.ListeningAddresses());
                File.Move(file + ".tmp", file, overwrite: true);
            }
        });
        return app;
    }

    /// <summary>
    /// The OAuth2 address, then the gRPC address, for example http://127.0.0.1:5000 and http://127.0.0.1:5001
    /// (after start); with TLS both are the one https address, so callers need not know which mode runs.
    /// </summary>
    public static IReadOnlyList<string> ListeningAddresses(this WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        return addresses.Count == 1 ? [addresses[0], addresses[0]] : addresses;
    }
}

/// <summary>Builds the identity server the way Program.cs runs it, so tests start exactly the same thing.</summary>
public static class IdentityApplication
{
    /// <param name="configure">Runs after the server's own registrations (tests add a log capture here).</param>
    public static async Task<WebApplication> BuildAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
        builder.AddIdentityServer();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapIdentityServer();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IdentityDbContext>().Database.MigrateAsync();
        }
        var options = app.Services.GetRequiredService<IOptions<IdentityOptions>>().Value;
        await AdminBootstrap.EnsureAdminAsync(app.Services, Path.GetFullPath(options.DataDirectory, app.Environment.ContentRootPath));
        return app;
    }
}
