using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Store;
using MirpsExchange.Identity.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace MirpsExchange.Identity.Accounts;

/// <summary>
/// People sign in: OpenIddict's authorization endpoint (passthrough) sends a person without a finished
/// sign-in to the login page; the password, then the TOTP code (or enrolling an authenticator, or changing
/// a temporary password) are checked by ASP.NET Core Identity's user manager. Wrong passwords are throttled
/// per (user name, address), per address and, sparing addresses the owner used before, per account (<see cref="SignInThrottle"/>); Identity's
/// lockout counts only wrong codes. A short-lived cookie carries the sign-in from step to step. A finished sign-in
/// yields one authorization code (the cookie is then removed: no single sign-on session), whose access
/// token carries the account's role, country, scopes and one node's audience, as a credential's.
/// </summary>
public static partial class SignInEndpoints
{
    public const string AuthorizeEndpointPath = "connect/authorize";

    /// <summary>The cookie scheme of a sign-in in progress (never a bearer of anything at a node).</summary>
    public const string Scheme = "MirpsSignIn";

    /// <summary>How long a sign-in in progress lasts, from the password to the authorization code.</summary>
    public static readonly TimeSpan SignInLifetime = TimeSpan.FromMinutes(10);

    private const string StampClaim = "mirps_stamp";

    private static readonly AccountUser NoAccount = new();
    private static readonly Lazy<string> NoAccountHash = new(() => new PasswordHasher<AccountUser>().HashPassword(NoAccount, Guid.NewGuid().ToString()));
    private const string SecondFactorClaim = "mirps_2fa";

    public static IEndpointRouteBuilder MapSignIn(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/" + AuthorizeEndpointPath, [HttpMethods.Get, HttpMethods.Post], AuthorizeAsync).DisableAntiforgery();
        app.MapGet("/account/login", (HttpContext http, IAntiforgery antiforgery) => LoginForm(http, antiforgery, ReturnUrl(http), null));
        app.MapPost("/account/login", LoginAsync).DisableAntiforgery();
        app.MapGet("/account/two-factor", (HttpContext http, IAntiforgery antiforgery) => CodeForm(http, antiforgery, "two-factor", null));
        app.MapPost("/account/two-factor", TwoFactorAsync).DisableAntiforgery();
        app.MapGet("/account/enrol", EnrolFormAsync);
        app.MapPost("/account/enrol", EnrolAsync).DisableAntiforgery();
        app.MapGet("/account/change-password", (HttpContext http, IAntiforgery antiforgery) => ChangePasswordForm(http, antiforgery, null));
        app.MapPost("/account/change-password", ChangePasswordAsync).DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> AuthorizeAsync(HttpContext http, UserManager<AccountUser> users, IdentityDbContext db, TimeProvider clock)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenIddict authorization request.");
        var returnUrl = "/" + AuthorizeEndpointPath + QueryString.Create(request.GetParameters()
            .Select(p => new KeyValuePair<string, string?>(p.Key, (string?)p.Value)));
        var language = string.Equals((string?)request["ui_locales"], SignInPage.English, StringComparison.OrdinalIgnoreCase) ? SignInPage.English : SignInPage.Spanish;
        var (account, signIn) = await CurrentAsync(http, users);
        if (account is null || signIn is null)
        {
            return Results.Redirect("/account/login" + SignInPage.Query(returnUrl, language));
        }
        if (Pending(account, signIn) is { } step)
        {
            return Results.Redirect($"/account/{step}" + SignInPage.Query(returnUrl, language));
        }
        var (audience, refusal) = TokenGrant.Audience(account.Kind == AccountUser.AdminKind, account.Country, request.GetResources());
        if (refusal is not null)
        {
            return Forbid(Errors.InvalidTarget, refusal);
        }
        var scopes = TokenGrant.PersonScopes(request, account.Scopes);
        // One sign-in, one code: the cookie goes, so the next authorization asks for the password again.
        await http.SignOutAsync(Scheme);
        CredentialAdministration.Audit(db, clock, account.UserName ?? "", "SignIn", account.Id,
            $"account {account.UserName} signed in through {request.ClientId} for {audience}, scopes {string.Join(" ", scopes)}");
        await db.SaveChangesAsync(http.RequestAborted);
        return Results.SignIn(TokenPrincipal(account, scopes, audience), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>
    /// What an account's tokens carry: its id as sub (the key of its revocation-list entry), the role and
    /// country claims of a credential of the same kind, the scopes granted and one audience.
    /// </summary>
    public static ClaimsPrincipal TokenPrincipal(AccountUser account, IEnumerable<string> scopes, string audience) =>
        TokenGrant.Principal(account.Id, account.Role, account.Country, scopes, audience, account.UserName);

    private static async Task<IResult> LoginAsync(HttpContext http, IAntiforgery antiforgery, UserManager<AccountUser> users, SignInThrottle throttle)
    {
        var address = TokenEndpointThrottle.Address(http);
        if (await PostRefusalAsync(http, antiforgery, throttle) is { } refusal)
        {
            return refusal;
        }
        var form = http.Request.Form;
        var returnUrl = ReturnUrl(http);
        var name = form["user_name"].ToString().Trim().ToLowerInvariant();
        var password = form["password"].ToString();
        // Counted per (user name, address), per address and per name (that budget spares addresses that signed in to it
        // before): no one can lock the owner out from elsewhere, and an unknown name is throttled and answered exactly as a wrong password.
        if (throttle.RefusalFor(name, address) is { } wait)
        {
            return Throttled(http, antiforgery, wait);
        }
        var account = AccountAdministration.IsWellFormedUserName(name) ? await users.FindByNameAsync(name) : null;
        if (account is null || account.DisableTime is not null)
        {
            // As long as for a wrong password: the answer's time does not tell which user names exist, and a
            // disabled account's password is not confirmed to anyone.
            users.PasswordHasher.VerifyHashedPassword(NoAccount, NoAccountHash.Value, password);
            throttle.RecordFailure(name, address);
            return LoginForm(http, antiforgery, returnUrl, "error.credentials", StatusCodes.Status401Unauthorized);
        }
        if (!await users.CheckPasswordAsync(account, password))
        {
            throttle.RecordFailure(name, address);
            return LoginForm(http, antiforgery, returnUrl, "error.credentials", StatusCodes.Status401Unauthorized);
        }
        throttle.RecordSuccess(name, address);
        // Locked by wrong TOTP codes, which only someone with the password can send; told only to them. The count of
        // wrong codes is not reset here (only by a right code): the password alone must not buy more guesses.
        if (await users.IsLockedOutAsync(account))
        {
            return LoginForm(http, antiforgery, returnUrl, "error.locked", StatusCodes.Status423Locked);
        }
        await SignInStepAsync(http, account, secondFactor: false);
        return Next(http, account, secondFactor: false, returnUrl);
    }

    /// <summary>429 with Retry-After, on the login page: too many forms or wrong passwords from this address.</summary>
    private static IResult Throttled(HttpContext http, IAntiforgery antiforgery, TimeSpan wait)
    {
        http.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, wait.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return LoginForm(http, antiforgery, ReturnUrl(http), "error.throttled", StatusCodes.Status429TooManyRequests);
    }

    private static async Task<IResult> TwoFactorAsync(HttpContext http, IAntiforgery antiforgery, UserManager<AccountUser> users, IdentityDbContext db, TimeProvider clock, SignInThrottle throttle)
    {
        if (await PostRefusalAsync(http, antiforgery, throttle) is { } refusal)
        {
            return refusal;
        }
        var (account, signIn) = await CurrentAsync(http, users);
        if (account is null || signIn is null)
        {
            return LoginForm(http, antiforgery, ReturnUrl(http), "error.expired", StatusCodes.Status401Unauthorized);
        }
        if (await users.IsLockedOutAsync(account))
        {
            return CodeForm(http, antiforgery, "two-factor", "error.locked", StatusCodes.Status423Locked);
        }
        var code = http.Request.Form["code"].ToString().Replace(" ", "", StringComparison.Ordinal);
        if (!account.TwoFactorEnabled || !await users.VerifyTwoFactorTokenAsync(account, TokenOptions.DefaultAuthenticatorProvider, code))
        {
            return await FailedAsync(http, users, db, clock, account, "two-factor code", () => CodeForm(http, antiforgery, "two-factor", "error.code", StatusCodes.Status401Unauthorized),
                () => CodeForm(http, antiforgery, "two-factor", "error.locked", StatusCodes.Status423Locked));
        }
        await users.ResetAccessFailedCountAsync(account);
        await SignInStepAsync(http, account, secondFactor: true);
        return Next(http, account, secondFactor: true, ReturnUrl(http));
    }

    private static async Task<IResult> EnrolFormAsync(HttpContext http, IAntiforgery antiforgery, UserManager<AccountUser> users)
    {
        var (account, signIn) = await CurrentAsync(http, users);
        if (account is null || signIn is null || Pending(account, signIn) != "enrol")
        {
            return LoginForm(http, antiforgery, ReturnUrl(http), "error.expired", StatusCodes.Status401Unauthorized);
        }
        if (await users.GetAuthenticatorKeyAsync(account) is null)
        {
            await users.ResetAuthenticatorKeyAsync(account);
            // A new key changes the security stamp: the sign-in in progress follows it.
            await SignInStepAsync(http, account, SecondFactor(signIn));
        }
        return CodeForm(http, antiforgery, "enrol", null, preface: await EnrolPrefaceAsync(users, account, SignInPage.Language(http.Request)));
    }

    private static async Task<IResult> EnrolAsync(HttpContext http, IAntiforgery antiforgery, UserManager<AccountUser> users, IdentityDbContext db, TimeProvider clock, SignInThrottle throttle)
    {
        if (await PostRefusalAsync(http, antiforgery, throttle) is { } refusal)
        {
            return refusal;
        }
        var (account, signIn) = await CurrentAsync(http, users);
        if (account is null || signIn is null || Pending(account, signIn) != "enrol" || await users.GetAuthenticatorKeyAsync(account) is null)
        {
            return LoginForm(http, antiforgery, ReturnUrl(http), "error.expired", StatusCodes.Status401Unauthorized);
        }
        var code = http.Request.Form["code"].ToString().Replace(" ", "", StringComparison.Ordinal);
        if (!await users.VerifyTwoFactorTokenAsync(account, TokenOptions.DefaultAuthenticatorProvider, code))
        {
            var preface = await EnrolPrefaceAsync(users, account, SignInPage.Language(http.Request));
            return await FailedAsync(http, users, db, clock, account, "two-factor enrolment code",
                () => CodeForm(http, antiforgery, "enrol", "error.code", StatusCodes.Status401Unauthorized, preface),
                () => LoginForm(http, antiforgery, ReturnUrl(http), "error.locked", StatusCodes.Status423Locked));
        }
        await users.SetTwoFactorEnabledAsync(account, true);
        CredentialAdministration.Audit(db, clock, account.UserName ?? "", "EnrolTwoFactor", account.Id, $"account {account.UserName} enrolled a TOTP authenticator");
        await db.SaveChangesAsync(http.RequestAborted);
        await SignInStepAsync(http, account, secondFactor: true);
        return Next(http, account, secondFactor: true, ReturnUrl(http));
    }

    private static async Task<IResult> ChangePasswordAsync(HttpContext http, IAntiforgery antiforgery, UserManager<AccountUser> users, IdentityDbContext db, TimeProvider clock, SignInThrottle throttle)
    {
        if (await PostRefusalAsync(http, antiforgery, throttle) is { } refusal)
        {
            return refusal;
        }
        var (account, signIn) = await CurrentAsync(http, users);
        if (account is null || signIn is null || Pending(account, signIn) != "change-password")
        {
            return LoginForm(http, antiforgery, ReturnUrl(http), "error.expired", StatusCodes.Status401Unauthorized);
        }
        var form = http.Request.Form;
        var password = form["new_password"].ToString();
        if (password != form["confirm_password"].ToString())
        {
            return ChangePasswordForm(http, antiforgery, "error.mismatch", StatusCodes.Status400BadRequest);
        }
        if (account.PasswordHash is { } hash && users.PasswordHasher.VerifyHashedPassword(account, hash, password) != PasswordVerificationResult.Failed)
        {
            return ChangePasswordForm(http, antiforgery, "error.same", StatusCodes.Status400BadRequest);
        }
        var reset = await users.ResetPasswordAsync(account, await users.GeneratePasswordResetTokenAsync(account), password);
        if (!reset.Succeeded)
        {
            return ChangePasswordForm(http, antiforgery, "error.weak", StatusCodes.Status400BadRequest);
        }
        account.MustChangePassword = false;
        await users.UpdateAsync(account);
        CredentialAdministration.Audit(db, clock, account.UserName ?? "", "ChangePassword", account.Id, $"account {account.UserName} replaced its temporary password");
        await db.SaveChangesAsync(http.RequestAborted);
        await SignInStepAsync(http, account, SecondFactor(signIn));
        return Next(http, account, SecondFactor(signIn), ReturnUrl(http));
    }

    /// <summary>A wrong TOTP code: counted by Identity's lockout (reached only with the password); the lockout it may start is audited.</summary>
    private static async Task<IResult> FailedAsync(HttpContext http, UserManager<AccountUser> users, IdentityDbContext db, TimeProvider clock, AccountUser account, string what,
        Func<IResult> wrong, Func<IResult> locked)
    {
        await users.AccessFailedAsync(account);
        if (!await users.IsLockedOutAsync(account))
        {
            return wrong();
        }
        CredentialAdministration.Audit(db, clock, "sign-in", "AccountLockedOut", account.Id,
            $"account {account.UserName} locked until {account.LockoutEnd:u} after repeated wrong {what}s (last from {http.Connection.RemoteIpAddress})");
        await db.SaveChangesAsync(http.RequestAborted);
        return locked();
    }

    /// <summary>The step the sign-in still needs, or null when it is finished: the TOTP code, a new password, an authenticator to enrol.</summary>
    private static string? Pending(AccountUser account, ClaimsPrincipal signIn) =>
        account.TwoFactorEnabled && !SecondFactor(signIn) ? "two-factor"
        : account.MustChangePassword ? "change-password"
        : account.TwoFactorRequired && !account.TwoFactorEnabled ? "enrol"
        : null;

    private static bool SecondFactor(ClaimsPrincipal signIn) => signIn.FindFirst(SecondFactorClaim) is not null;

    private static IResult Next(HttpContext http, AccountUser account, bool secondFactor, string returnUrl)
    {
        var signIn = new ClaimsPrincipal(new ClaimsIdentity(secondFactor ? [new Claim(SecondFactorClaim, "1")] : []));
        var language = SignInPage.Language(http.Request);
        return Pending(account, signIn) is { } step
            ? Results.Redirect($"/account/{step}" + SignInPage.Query(returnUrl, language))
            : Results.Redirect(returnUrl);
    }

    /// <summary>The account of the sign-in in progress, while it is enabled and its security stamp has not changed since (a reset or a disable ends it).</summary>
    private static async Task<(AccountUser?, ClaimsPrincipal?)> CurrentAsync(HttpContext http, UserManager<AccountUser> users)
    {
        var result = await http.AuthenticateAsync(Scheme);
        if (!result.Succeeded || result.Principal.FindFirst(Claims.Subject)?.Value is not { } id)
        {
            return (null, null);
        }
        var account = await users.FindByIdAsync(id);
        if (account is null || account.DisableTime is not null || account.SecurityStamp != result.Principal.FindFirst(StampClaim)?.Value)
        {
            await http.SignOutAsync(Scheme);
            return (null, null);
        }
        return (account, result.Principal);
    }

    private static Task SignInStepAsync(HttpContext http, AccountUser account, bool secondFactor)
    {
        var identity = new ClaimsIdentity(Scheme);
        identity.AddClaim(new Claim(Claims.Subject, account.Id));
        identity.AddClaim(new Claim(StampClaim, account.SecurityStamp ?? ""));
        if (secondFactor)
        {
            identity.AddClaim(new Claim(SecondFactorClaim, "1"));
        }
        return http.SignInAsync(Scheme, new ClaimsPrincipal(identity), new AuthenticationProperties { IsPersistent = false, AllowRefresh = false });
    }

    /// <summary>Only the authorization endpoint of this server: anything else would make the login page an open redirect.</summary>
    private static string ReturnUrl(HttpContext http)
    {
        var value = http.Request.HasFormContentType ? http.Request.Form["return_url"].ToString() : http.Request.Query["return_url"].ToString();
        return value.StartsWith("/" + AuthorizeEndpointPath + "?", StringComparison.Ordinal) && !value.Contains('\\', StringComparison.Ordinal) ? value : "/" + AuthorizeEndpointPath;
    }

    /// <summary>What every sign-in form posted goes through first: the per-address limit on forms posted, then the anti-forgery check.</summary>
    private static async Task<IResult?> PostRefusalAsync(HttpContext http, IAntiforgery antiforgery, SignInThrottle throttle) =>
        throttle.CountPost(TokenEndpointThrottle.Address(http)) is { } busy ? Throttled(http, antiforgery, busy) : await AntiforgeryRefusalAsync(http, antiforgery);

    private static async Task<IResult?> AntiforgeryRefusalAsync(HttpContext http, IAntiforgery antiforgery)
    {
        if (!http.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(http))
        {
            return Results.Text("The form's anti-forgery token is missing or invalid: reload the page and try again.", statusCode: StatusCodes.Status400BadRequest);
        }
        return null;
    }

    private static IResult LoginForm(HttpContext http, IAntiforgery antiforgery, string returnUrl, string? error, int status = 200) =>
        Form(http, antiforgery, "login", "/account/login", returnUrl,
            [("user_name", "user_name", "text", "username"), ("password", "password", "password", "current-password")], "submit.login", error, null, status);

    private static IResult CodeForm(HttpContext http, IAntiforgery antiforgery, string page, string? error, int status = 200, string? preface = null) =>
        Form(http, antiforgery, page, "/account/" + page, ReturnUrl(http), [("code", "code", "text", "one-time-code")], "submit.verify", error, preface, status);

    private static IResult ChangePasswordForm(HttpContext http, IAntiforgery antiforgery, string? error, int status = 200) =>
        Form(http, antiforgery, "change-password", "/account/change-password", ReturnUrl(http),
            [("new_password", "new_password", "password", "new-password"), ("confirm_password", "confirm_password", "password", "new-password")], "submit.change", error,
            $"<p>{SignInPage.Encode(SignInPage.Text(SignInPage.Language(http.Request), "change.why"))}</p>\n", status);

    private static IResult Form(HttpContext http, IAntiforgery antiforgery, string page, string action, string returnUrl,
        IEnumerable<(string, string, string, string)> fields, string submit, string? error, string? preface, int status)
    {
        var tokens = antiforgery.GetAndStoreTokens(http);
        return SignInPage.Render(http, SignInPage.Language(http.Request), page, action, tokens.FormFieldName, tokens.RequestToken ?? "", returnUrl, fields, submit, error, preface, status);
    }

    private static async Task<string> EnrolPrefaceAsync(UserManager<AccountUser> users, AccountUser account, string language)
    {
        var key = await users.GetAuthenticatorKeyAsync(account) ?? "";
        var uri = $"otpauth://totp/MIRPS:{Uri.EscapeDataString(account.UserName ?? "")}?secret={key}&issuer=MIRPS&digits=6&period=30";
        return $"<p>{SignInPage.Encode(SignInPage.Text(language, "enrol.key"))}</p>\n<p><code id=\"key\">{SignInPage.Encode(key)}</code></p>\n"
            + $"<p>{SignInPage.Encode(SignInPage.Text(language, "enrol.uri"))} <code>{SignInPage.Encode(uri)}</code></p>\n";
    }

    private static IResult Forbid(string error, string description) => TokenGrant.Forbid(error, description);
}
