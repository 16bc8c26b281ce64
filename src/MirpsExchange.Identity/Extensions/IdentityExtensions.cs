using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MirpsExchange.Catalogue;
using MirpsExchange.Identity.Accounts;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Grpc;
using MirpsExchange.Identity.Revocation;
using MirpsExchange.Identity.Store;
using MirpsExchange.Identity.Tokens;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Identity.Extensions;

public static class IdentityExtensions
{
    public const string MeterName = "MirpsExchange.Identity";

    /// <summary>The central identity server: each step is registered next to the folder it sets up.</summary>
    public static WebApplicationBuilder AddIdentityServer(this WebApplicationBuilder builder)
    {
        builder.AddServiceDefaults(MeterName);
        builder.Services.AddSingleton(TimeProvider.System);
        var identity = builder.AddIdentityOptions();
        var tls = builder.AddTls();
        var dataDirectory = Path.GetFullPath(identity.DataDirectory, builder.Environment.ContentRootPath);
        OwnerOnlyFile.CreateDirectory(dataDirectory);
        var catalogue = StandardCatalogue.LoadStandard(); // names the States: node audiences, credential countries
        builder.AddIdentityStore(dataDirectory);
        builder.AddTokenServer(identity, tls, dataDirectory, catalogue);
        builder.AddCredentialAdministration(catalogue);
        builder.AddAccounts(identity);
        builder.AddAdminWebApp(identity, tls);
        builder.ListenForOAuthAndGrpc(identity, tls);
        return builder;
    }

    /// <summary>The Identity section, validated by <see cref="IdentityOptionsValidation"/> now (before anything is opened with it) and again at start.</summary>
    public static IdentityOptions AddIdentityOptions(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(IdentityOptions.Section);
        var identity = section.Get<IdentityOptions>() ?? new IdentityOptions();
        var validation = new IdentityOptionsValidation();
        if (validation.Validate(Options.DefaultName, identity) is { Failed: true } result)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(IdentityOptions), result.Failures);
        }
        builder.Services.AddOptions<IdentityOptions>().Bind(section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<IdentityOptions>>(validation);
        return identity;
    }

    /// <summary>
    /// Listens on loopback unless Identity:ListenAddress says otherwise (with TLS only). With TLS one port
    /// serves both: ALPN gives gRPC clients HTTP/2 and OAuth2 clients HTTP/1.1; without it, HTTP/2 (gRPC) and
    /// HTTP/1.1 cannot share a cleartext port, so the admin API has Identity:GrpcPort.
    /// </summary>
    public static WebApplicationBuilder ListenForOAuthAndGrpc(this WebApplicationBuilder builder, IdentityOptions identity, TlsOptions tls)
    {
        var listenAddress = TlsExtensions.ListenAddress(identity.ListenAddress, "Identity:ListenAddress", tls);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (tls.Enabled)
            {
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
        app.MapGrpcService<AccountGrpcService>().RequireAuthorization();
        app.MapSignIn();
        app.MapAdminWebApp();
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
    public static IReadOnlyList<string> ListeningAddresses(this WebApplication app) => ListeningAddresses(app.Services);

    /// <inheritdoc cref="ListeningAddresses(WebApplication)"/>
    public static IReadOnlyList<string> ListeningAddresses(IServiceProvider services)
    {
        var addresses = ServerAddresses.Of(services);
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
            var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
            await db.Database.MigrateAsync();
            await StoreExtensions.UseWriteAheadLogAsync(db);
        }
        var options = app.Services.GetRequiredService<IOptions<IdentityOptions>>().Value;
        await AdminBootstrap.EnsureAdminAsync(app.Services, Path.GetFullPath(options.DataDirectory, app.Environment.ContentRootPath));
        return app;
    }
}
