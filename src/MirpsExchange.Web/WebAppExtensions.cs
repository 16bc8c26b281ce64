using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Mirps.Auth;
using MirpsExchange.Web.Components;
using MirpsExchange.Web.SignIn;
using MirpsExchange.Web.Secretariat;
using MirpsExchange.Web.Uploads;

namespace MirpsExchange.Web;

/// <summary>
/// The web app on a node's or the Secretariat's existing HTTP endpoints: Blazor components rendered on the
/// server (static SSR: no websocket circuit, plain links and forms), a cookie session from the identity
/// server's code flow, anti-forgery on forms, and its embedded files.
/// </summary>
public static class WebAppExtensions
{
    public static IHostApplicationBuilder AddWebApp(this IHostApplicationBuilder builder, WebHost host) => builder.AddWebApp(_ => host);

    /// <summary>The web app with a host made on first use (when it needs what is known only once the process listens, such as its own address).</summary>
    public static IHostApplicationBuilder AddWebApp(this IHostApplicationBuilder builder, Func<IServiceProvider, WebHost> host)
    {
        builder.Services.AddSingleton(host);
        builder.Services.AddOptions<WebOptions>().Bind(builder.Configuration.GetSection(WebOptions.Section));
        builder.Services.AddRazorComponents();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddWebSignIn();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(WebPolicies.Anyone, policy => policy.AddAuthenticationSchemes(WebSignIn.Scheme).RequireAssertion(_ => true))
            .AddPolicy(WebPolicies.SignedIn, policy => policy.AddAuthenticationSchemes(WebSignIn.Scheme).RequireAuthenticatedUser())
            .AddPolicy(WebPolicies.Secretariat, policy => policy.AddAuthenticationSchemes(WebSignIn.Scheme).RequireAuthenticatedUser()
                .RequireClaim(MirpsAuth.RoleClaim, MirpsAuth.SecretariatRole)
                .AddRequirements(new WebPolicies.ProcessRequirement(secretariat: true)))
            .AddPolicy(WebPolicies.State, policy => policy.AddAuthenticationSchemes(WebSignIn.Scheme).RequireAuthenticatedUser()
                .RequireClaim(MirpsAuth.RoleClaim, MirpsAuth.StateRole)
                .AddRequirements(new WebPolicies.ProcessRequirement(secretariat: false)))
            .AddPolicy(WebPolicies.StateSubmitter, policy => policy.AddAuthenticationSchemes(WebSignIn.Scheme).RequireAuthenticatedUser()
                .RequireClaim(MirpsAuth.RoleClaim, MirpsAuth.StateRole)
                .RequireClaim("scope", MirpsAuth.SubmitScope)
                .AddRequirements(new WebPolicies.ProcessRequirement(secretariat: false)))
            .AddPolicy(WebPolicies.Admin, policy => policy.AddAuthenticationSchemes(WebSignIn.Scheme).RequireAuthenticatedUser()
                .RequireClaim(MirpsAuth.RoleClaim, MirpsAuth.AdminRole)
                .RequireClaim("scope", MirpsAuth.AdminScope)
                .AddRequirements(new WebPolicies.IdentityServerRequirement()));
        builder.Services.AddSingleton<IAuthorizationHandler, WebPolicies.ProcessHandler>();
        builder.Services.AddSingleton<IAuthorizationHandler, WebPolicies.IdentityServerHandler>();
        builder.Services.AddSingleton<NodeChannel>();
        builder.Services.AddScoped<NodeCalls>();
        builder.Services.AddScoped<Secretariat.RegionalView>();
        builder.Services.AddSingleton<CatalogueLabels>();
        builder.Services.AddSingleton<Uploads.PendingUploads>();
        return builder;
    }

    /// <summary>Maps the pages, sign-in, language switch and files; call after UseAuthentication/UseAuthorization.</summary>
    public static WebApplication MapWebApp(this WebApplication app)
    {
        app.UseNoStoreWhenSignedIn();
        app.UseAntiforgery();
        app.MapWebAssets();
        app.MapWebSignIn();
        app.MapRegionalDownloads();
        app.MapPageDownloads();
        app.MapUploads();
        app.MapGet("/language", (HttpContext http, string? to, string? returnUrl) =>
        {
            http.Response.Cookies.Append(Texts.CookieName, to == Texts.English ? Texts.English : Texts.Spanish, new CookieOptions
            {
                MaxAge = TimeSpan.FromDays(365),
                HttpOnly = true,
                Secure = WebSignIn.SecureCookies(http),
                SameSite = SameSiteMode.Lax,
            });
            return Results.Redirect(WebSignIn.LocalUrl(returnUrl));
        }).RequireAuthorization(WebPolicies.Anyone);
        // Every page reads the person from the web app's cookie (the process's default scheme is the bearer token of
        // its services, which a browser never sends); pages that need more say so with [Authorize(Policy = ...)].
        app.MapRazorComponents<App>().RequireAuthorization(WebPolicies.Anyone);
        return app;
    }
}

/// <summary>The web app's authorization policies (the cookie session's claims, copied from the validated token).</summary>
public static class WebPolicies
{
    /// <summary>Anyone, signed in or not: the person (if any) is read from the web app's cookie.</summary>
    public const string Anyone = "web-anyone";
    public const string SignedIn = "web-signed-in";
    /// <summary>A Secretariat account, in the Secretariat's process.</summary>
    public const string Secretariat = "web-secretariat";
    /// <summary>A State account, in a State's node.</summary>
    public const string State = "web-state";
    /// <summary>A State account that may submit (the mirps.submit scope: a submitter), in a State's node: the upload.</summary>
    public const string StateSubmitter = "web-state-submitter";
    /// <summary>An admin account with the admin scope, in the identity server's process (the only one whose services administer).</summary>
    public const string Admin = "web-admin";

    public sealed class ProcessRequirement(bool secretariat) : IAuthorizationRequirement
    {
        public bool Secretariat { get; } = secretariat;
    }

    /// <summary>Pages of the Secretariat only in its process, and a State's pages only at a State's node.</summary>
    public sealed class ProcessHandler(WebHost host) : AuthorizationHandler<ProcessRequirement>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ProcessRequirement requirement)
        {
            if (requirement.Secretariat == host.Secretariat && !host.IdentityServer)
            {
                context.Succeed(requirement);
            }
            return Task.CompletedTask;
        }
    }

    public sealed class IdentityServerRequirement : IAuthorizationRequirement;

    /// <summary>The admin pages only in the identity server's process: a node's services do not administer, and a node's session is not an admin's.</summary>
    public sealed class IdentityServerHandler(WebHost host) : AuthorizationHandler<IdentityServerRequirement>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, IdentityServerRequirement requirement)
        {
            if (host.IdentityServer)
            {
                context.Succeed(requirement);
            }
            return Task.CompletedTask;
        }
    }
}
