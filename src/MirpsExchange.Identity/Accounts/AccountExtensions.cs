using Microsoft.AspNetCore.Identity;
using MirpsExchange.Identity.Store;

namespace MirpsExchange.Identity.Accounts;

public static class AccountExtensions
{
    /// <summary>
    /// People's accounts: ASP.NET Core Identity's user manager on the identity store (password hashing,
    /// lockout, authenticator keys), the sign-in cookie of a sign-in in progress, anti-forgery for its forms,
    /// and their administration.
    /// </summary>
    public static WebApplicationBuilder AddAccounts(this WebApplicationBuilder builder, IdentityOptions identity)
    {
        builder.Services.AddIdentityCore<AccountUser>(options =>
        {
            // Length over composition rules (NIST SP 800-63B).
            options.Password.RequiredLength = 12;
            options.Password.RequireDigit = false;
            options.Password.RequireLowercase = false;
            options.Password.RequireUppercase = false;
            options.Password.RequireNonAlphanumeric = false;
            options.Lockout.AllowedForNewUsers = true;
            options.Lockout.MaxFailedAccessAttempts = identity.SignInFailuresBeforeLockout;
            options.Lockout.DefaultLockoutTimeSpan = identity.SignInLockout;
            options.User.AllowedUserNameCharacters = AccountAdministration.UserNameCharacters;
            options.User.RequireUniqueEmail = false;
        })
            .AddEntityFrameworkStores<IdentityDbContext>()
            .AddDefaultTokenProviders();
        builder.Services.AddAuthentication().AddCookie(SignInEndpoints.Scheme, options =>
        {
            options.Cookie.Name = "mirps.signin";
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Lax;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.ExpireTimeSpan = SignInEndpoints.SignInLifetime;
            options.SlidingExpiration = false;
        });
        builder.Services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "mirps.antiforgery";
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        builder.Services.AddScoped<AccountAdministration>();
        builder.Services.AddSingleton<SignInThrottle>();
        return builder;
    }
}
