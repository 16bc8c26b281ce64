using System.Net.Http.Json;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mirps.Auth;

namespace MirpsExchange.Web.SignIn;

/// <summary>
/// People sign in to the web app with the authorization code flow and PKCE (S256) against the federation's
/// identity server, as a public client: /signin sends the browser to the authorization endpoint with a
/// fresh state and code challenge (kept in a short-lived, data-protected cookie), /signin-callback checks
/// the state, redeems the code with the verifier (over TLS presenting the process's client certificate,
/// to which the token is then bound) and validates the access token exactly as the process's services
/// do. The session is a cookie holding that token: the pages read data by calling this process's
/// services with it, so every sharing rule applies to the person as to a system. No refresh token: when
/// the token expires, the session ends and the person signs in again.
/// </summary>
public static partial class WebSignIn
{
    /// <summary>The cookie scheme of a person's session in the web app (never accepted by a gRPC or JSON route).</summary>
    public const string Scheme = "MirpsWeb";

    public const string SignInPath = "/signin";
    public const string CallbackPath = "/signin-callback";
    public const string SignOutPath = "/signout";
    public const string AccessTokenName = "access_token";

    private const string SessionCookie = "mirps-web";
    private const string FlowCookie = "mirps-web-signin";
    private const string FlowPurpose = "MirpsExchange.Web.SignIn.v1";
    private static readonly TimeSpan FlowLifetime = TimeSpan.FromMinutes(10);

    public static IServiceCollection AddWebSignIn(this IServiceCollection services)
    {
        services.AddAuthentication().AddCookie(Scheme, cookie =>
        {
            cookie.Cookie.Name = SessionCookie;
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            // Secure unless the web app is reached in clear on loopback (tests, devnet): see SecureCookies.
            cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            cookie.Events.OnSigningIn = context =>
            {
                context.CookieOptions.Secure |= SecureCookies(context.HttpContext);
                return Task.CompletedTask;
            };
            cookie.Events.OnSigningOut = context =>
            {
                context.CookieOptions.Secure |= SecureCookies(context.HttpContext);
                return Task.CompletedTask;
            };
            cookie.LoginPath = SignInPath;
            cookie.AccessDeniedPath = "/denied";
            cookie.ReturnUrlParameter = "returnUrl";
            // The session lasts as long as the token it holds (set at sign-in), never longer.
            cookie.SlidingExpiration = false;
        });
        services.AddHttpClient(nameof(WebSignIn)).ConfigurePrimaryHttpMessageHandler(provider =>
        {
            var host = provider.GetRequiredService<WebHost>();
            var handler = Mirps.Tls.FederationTrust.CreateHandler(host.CaFile, host.ClientCertificate);
            handler.AllowAutoRedirect = false;
            return handler;
        });
        return services;
    }

    public static IEndpointRouteBuilder MapWebSignIn(this IEndpointRouteBuilder app)
    {
        app.MapGet(SignInPath, SignInAsync).AllowAnonymous();
        app.MapGet(CallbackPath, CallbackAsync).AllowAnonymous();
        // A form post with the anti-forgery token (Blazor's AntiforgeryToken in the layout): no cross-site sign-out.
        app.MapPost(SignOutPath, async (HttpContext http, [Microsoft.AspNetCore.Mvc.FromForm] string? returnUrl) =>
        {
            await http.SignOutAsync(Scheme);
            return Results.Redirect("/");
        }).RequireAuthorization(WebPolicies.SignedIn);
        return app;
    }

    /// <summary>
    /// Whether the web app's cookies are Secure: always, unless people reach it in clear on loopback (tests, a
    /// devnet). The address people reach it at is Web:PublicAddress when set (behind a TLS-terminating proxy the
    /// request itself arrives in clear, yet the browser is on https), else the request's own.
    /// </summary>
    internal static bool SecureCookies(HttpContext http)
    {
        if (http.Request.IsHttps)
        {
            return true;
        }
        var configured = http.RequestServices.GetRequiredService<IOptions<WebOptions>>().Value.PublicAddress;
        var address = configured.Length > 0 && Uri.TryCreate(configured, UriKind.Absolute, out var parsed) ? parsed
            : Uri.TryCreate($"{http.Request.Scheme}://{http.Request.Host}", UriKind.Absolute, out var own) ? own : null;
        return address is null || address.Scheme != Uri.UriSchemeHttp || !address.IsLoopback;
    }

    /// <summary>
    /// Every answer to a signed-in person (pages, downloads, redirects) carries Cache-Control: no-store, so no
    /// browser or proxy cache keeps what only that person may read. Call after UseAuthorization (which reads the
    /// person from the web app's cookie for the web app's endpoints).
    /// </summary>
    public static WebApplication UseNoStoreWhenSignedIn(this WebApplication app)
    {
        app.Use((http, next) =>
        {
            http.Response.OnStarting(() =>
            {
                if (http.Request.Cookies.ContainsKey(SessionCookie) || http.User.Identities.Any(i => i.IsAuthenticated && i.AuthenticationType == Scheme))
                {
                    http.Response.Headers.CacheControl = "no-store";
                    http.Response.Headers.Pragma = "no-cache";
                }
                return Task.CompletedTask;
            });
            return next(http);
        });
        return app;
    }

    private sealed record Flow(string State, string Verifier, string ReturnUrl, long Expires);

    private static IResult SignInAsync(HttpContext http, WebHost host, IOptions<WebOptions> options, IDataProtectionProvider protection, string? returnUrl)
    {
        var texts = Texts.Of(http);
        if (options.Value.ClientId.Length == 0)
        {
            return Message(texts, texts["signin.unconfigured"], StatusCodes.Status503ServiceUnavailable);
        }
        var state = Base64Url(RandomNumberGenerator.GetBytes(32));
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var flow = new Flow(state, verifier, LocalUrl(returnUrl), DateTimeOffset.UtcNow.Add(FlowLifetime).ToUnixTimeSeconds());
        http.Response.Cookies.Append(FlowCookie, protection.CreateProtector(FlowPurpose).Protect(JsonSerializer.Serialize(flow)), new CookieOptions
        {
            HttpOnly = true,
            Secure = SecureCookies(http),
            // Lax: the identity server's redirect back is a top-level GET navigation, which carries it.
            SameSite = SameSiteMode.Lax,
            MaxAge = FlowLifetime,
            Path = CallbackPath,
        });
        var parameters = new List<KeyValuePair<string, string?>>
        {
            new("response_type", "code"),
            new("client_id", options.Value.ClientId),
            new("redirect_uri", RedirectUri(http, options.Value)),
            new("code_challenge", challenge),
            new("code_challenge_method", "S256"),
            new("state", state),
            new("ui_locales", texts.Language),
        };
        // A node's web app asks for its node's audience; the identity server's (admin pages) asks for the admin API,
        // whose tokens name no resource and carry only the admin scope.
        if (host.IdentityServer)
        {
            parameters.Add(new("scope", MirpsAuth.AdminScope));
        }
        else
        {
            parameters.Add(new("resource", host.Audience));
            parameters.Add(new("scope", $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}"));
        }
        var query = QueryString.Create(parameters);
        return Results.Redirect(new Uri(host.Issuer, "connect/authorize").ToString() + query);
    }

    private static async Task<IResult> CallbackAsync(HttpContext http, WebHost host, IOptions<WebOptions> options, IDataProtectionProvider protection,
        IHttpClientFactory clients, ILoggerFactory loggers, string? code, string? state, string? error, string? error_description)
    {
        var texts = Texts.Of(http);
        var logger = loggers.CreateLogger(typeof(WebSignIn));
        Flow? flow = null;
        if (http.Request.Cookies[FlowCookie] is { } protectedFlow)
        {
            try
            {
                flow = JsonSerializer.Deserialize<Flow>(protection.CreateProtector(FlowPurpose).Unprotect(protectedFlow));
            }
            catch (CryptographicException)
            {
                flow = null;
            }
        }
        http.Response.Cookies.Delete(FlowCookie, new CookieOptions { Path = CallbackPath, Secure = SecureCookies(http) });
        if (flow is null || flow.Expires < DateTimeOffset.UtcNow.ToUnixTimeSeconds() || state is null
            || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(state), Encoding.UTF8.GetBytes(flow.State)))
        {
            LogRefused(logger, "the state does not match the sign-in this browser started");
            return Message(texts, texts.Format("signin.failed", "state"), StatusCodes.Status400BadRequest);
        }
        if (error is not null || string.IsNullOrEmpty(code))
        {
            LogRefused(logger, $"the identity server answered {error}: {error_description}");
            return Message(texts, texts.Format("signin.failed", error_description ?? error ?? "no code"), StatusCodes.Status403Forbidden);
        }
        using var response = await clients.CreateClient(nameof(WebSignIn)).PostAsync(new Uri(host.Issuer, MirpsAuth.TokenEndpointPath), new FormUrlEncodedContent(
            new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code",
                ["client_id"] = options.Value.ClientId,
                ["code"] = code,
                ["redirect_uri"] = RedirectUri(http, options.Value),
                ["code_verifier"] = flow.Verifier,
            }), http.RequestAborted);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(http.RequestAborted);
        if (!response.IsSuccessStatusCode || !body.TryGetProperty("access_token", out var tokenElement) || tokenElement.GetString() is not { Length: > 0 } token)
        {
            var reason = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error_description", out var d) ? d.GetString() : ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            LogRefused(logger, $"the token request failed: {reason}");
            return Message(texts, texts.Format("signin.failed", reason), StatusCodes.Status403Forbidden);
        }
        // The token is checked by this process's own services, exactly as every page's calls will be (signature, issuer,
        // audience, lifetime, revocation, and over TLS its binding to the certificate the code was redeemed with).
        if (host.ValidateToken is { } validate)
        {
            if (await validate(http.RequestServices, token, http.RequestAborted) is null)
            {
                LogRefused(logger, "this process refused the access token");
                return Message(texts, texts.Format("signin.failed", "invalid token"), StatusCodes.Status403Forbidden);
            }
        }
        else
        {
            try
            {
                var check = new Mirps.Catalog.V1.CatalogService.CatalogServiceClient(http.RequestServices.GetRequiredService<NodeChannel>().Channel);
                await check.GetCatalogAsync(new Mirps.Catalog.V1.GetCatalogRequest(), new Grpc.Core.Metadata { { "Authorization", $"Bearer {token}" } },
                    cancellationToken: http.RequestAborted);
            }
            catch (Grpc.Core.RpcException e)
            {
                LogRefused(logger, $"this process refused the access token ({e.StatusCode}: {e.Status.Detail})");
                return Message(texts, texts.Format("signin.failed", e.Status.Detail), StatusCodes.Status403Forbidden);
            }
        }
        var principal = TokenClaims(token);
        var expires = principal.FindFirst("exp")?.Value is { } exp && long.TryParse(exp, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : DateTimeOffset.UtcNow.AddMinutes(5);
        var identity = new ClaimsIdentity(Scheme, "name", MirpsAuth.RoleClaim);
        identity.AddClaim(new Claim("sub", principal.FindFirst("sub")?.Value ?? ""));
        identity.AddClaim(new Claim("name", principal.FindFirst("preferred_username")?.Value ?? principal.FindFirst("sub")?.Value ?? ""));
        identity.AddClaim(new Claim(MirpsAuth.RoleClaim, principal.FindFirst(MirpsAuth.RoleClaim)?.Value ?? ""));
        if (principal.FindFirst(MirpsAuth.CountryClaim)?.Value is { Length: > 0 } country)
        {
            identity.AddClaim(new Claim(MirpsAuth.CountryClaim, country));
        }
        foreach (var scope in principal.FindAll("scope").SelectMany(s => s.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Distinct())
        {
            identity.AddClaim(new Claim("scope", scope));
        }
        var properties = new AuthenticationProperties { ExpiresUtc = expires, IsPersistent = false, AllowRefresh = false };
        properties.StoreTokens([new AuthenticationToken { Name = AccessTokenName, Value = token }]);
        await http.SignInAsync(Scheme, new ClaimsPrincipal(identity), properties);
        LogSignedIn(logger, identity.Name ?? "", identity.FindFirst(MirpsAuth.RoleClaim)?.Value ?? "", identity.FindFirst(MirpsAuth.CountryClaim)?.Value ?? "");
        return Results.Redirect(flow.ReturnUrl);
    }

    /// <summary>The claims of a JWT access token this process's services just accepted (its payload, read as it is).</summary>
    private static ClaimsPrincipal TokenClaims(string token)
    {
        var payload = token.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
        using var json = JsonDocument.Parse(Convert.FromBase64String(payload));
        var identity = new ClaimsIdentity("token");
        foreach (var property in json.RootElement.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Array)
            {
                identity.AddClaims(property.Value.EnumerateArray().Select(v => new Claim(property.Name, v.ToString())));
            }
            else if (property.Value.ValueKind != JsonValueKind.Object)
            {
                identity.AddClaim(new Claim(property.Name, property.Value.ToString()));
            }
        }
        return new ClaimsPrincipal(identity);
    }

    /// <summary>The redirect URI registered for this web app: its public address (or the request's) and the callback path.</summary>
    private static string RedirectUri(HttpContext http, WebOptions options) =>
        (options.PublicAddress.Length > 0 ? options.PublicAddress.TrimEnd('/') : $"{http.Request.Scheme}://{http.Request.Host}") + CallbackPath;

    /// <summary>
    /// The one check of every return URL in the web app (sign-in, language switch): a path on this site, or "/".
    /// ASP.NET Core's local-URL test refuses "//host", "/\\host" and any control character (browsers strip tabs
    /// and newlines, so "/\t/host" would land on //host); "~/" paths are refused too, being no plain path.
    /// </summary>
    internal static string LocalUrl(string? url) =>
        url is { Length: > 0 } && url[0] == '/' && Microsoft.AspNetCore.Http.HttpResults.RedirectHttpResult.IsLocalUrl(url) ? url : "/";

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>A small page of its own (the sign-in and upload endpoints answer before any component renders), with a link onwards (by default, to sign in again).</summary>
    internal static IResult Message(Texts texts, string message, int status, string link = SignInPath, string linkKey = "signin.again")
    {
        var html = $"""
            <!DOCTYPE html>
            <html lang="{texts.Language}"><head><meta charset="utf-8"><title>{Encode(texts["app.name"])}</title>
            <meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="{WebAssets.Path("app.css")}"></head>
            <body><main id="main"><h1>{Encode(texts["app.name"])}</h1><p role="alert">{Encode(message)}</p>
            <p><a href="{link}">{Encode(texts[linkKey])}</a></p></main></body></html>
            """;
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    private static string Encode(string text) => System.Net.WebUtility.HtmlEncode(text);

    [LoggerMessage(EventName = "WebSignInRefused", Level = LogLevel.Warning, Message = "A web sign-in was refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(EventName = "WebSignedIn", Level = LogLevel.Information, Message = "{UserName} signed in to the web app (role {Role}, country {Country})")]
    private static partial void LogSignedIn(ILogger logger, string userName, string role, string country);
}
