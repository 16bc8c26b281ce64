using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Mirps.Auth;

namespace MirpsExchange.Identity.Accounts;

/// <summary>
/// A person's account (ASP.NET Core Identity's user: password hash, lockout, authenticator key), with who
/// it belongs to. Its tokens carry the same role and country claims as a credential's, so nodes apply the
/// same sharing rules to people as to systems; its id is their "sub".
/// </summary>
public sealed class AccountUser : IdentityUser
{
    public const string AnalystKind = "analyst";
    public const string SubmitterKind = "submitter";
    /// <summary>A State's head of unit (country): submits and approves its figures; at the Secretariat (no country): accepts them.</summary>
    public const string ApproverKind = "approver";
    public const string AdminKind = "admin";

    /// <summary>"analyst", "submitter" or "admin".</summary>
    public string Kind { get; set; } = "";

    /// <summary>ISO3 of the State; empty for the Secretariat's analysts and admins.</summary>
    public string Country { get; set; } = "";

    public string DisplayName { get; set; } = "";

    public DateTimeOffset CreateTime { get; set; }

    /// <summary>Set while disabled: no sign-in, no token.</summary>
    public DateTimeOffset? DisableTime { get; set; }

    /// <summary>
    /// Set when disabled or its password reset: its tokens issued (iat) before this whole second are refused at
    /// every node (the revocation list carries it, keyed by the account id, the tokens' sub).
    /// </summary>
    public DateTimeOffset? TokenCutoffTime { get; set; }

    /// <summary>The password is a temporary one (new account, or reset by an admin): changed before any code is issued.</summary>
    public bool MustChangePassword { get; set; }

    /// <summary>A TOTP authenticator must be enrolled at the next sign-in (before any code is issued).</summary>
    public bool TwoFactorRequired { get; set; }

    /// <summary>The "role" claim of its tokens, as a credential's: "admin", "secretariat" (no country) or "state".</summary>
    public string Role => Kind == AdminKind ? MirpsAuth.AdminRole : Country.Length == 0 ? MirpsAuth.SecretariatRole : MirpsAuth.StateRole;

    /// <summary>The scopes its tokens may carry: an analyst reads, a submitter also submits, an admin administers.</summary>
    public string[] Scopes => Kind switch
    {
        AdminKind => [MirpsAuth.AdminScope],
        SubmitterKind => [MirpsAuth.ReadScope, MirpsAuth.SubmitScope],
        ApproverKind => Country.Length > 0 ? [MirpsAuth.ReadScope, MirpsAuth.SubmitScope, MirpsAuth.ApproveScope] : [MirpsAuth.ReadScope, MirpsAuth.ApproveScope],
        AnalystKind => [MirpsAuth.ReadScope],
        _ => [],
    };

    internal static void Configure(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<AccountUser>(account =>
        {
            account.ToTable("accounts");
            account.Property(a => a.Kind).HasMaxLength(20);
            account.Property(a => a.Country).HasMaxLength(3);
            account.Property(a => a.DisplayName).HasMaxLength(200);
            // SQLite cannot order DateTimeOffset; UTC ticks, as the credential register.
            account.Property(a => a.CreateTime).HasConversion(v => v.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
            account.Property(a => a.DisableTime).HasConversion(v => v!.Value.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
            account.Property(a => a.TokenCutoffTime).HasConversion(v => v!.Value.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
            account.Property(a => a.LockoutEnd).HasConversion(v => v!.Value.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
            account.HasIndex(a => a.TokenCutoffTime);
        });
        modelBuilder.Entity<IdentityUserClaim<string>>().ToTable("account_claims");
        modelBuilder.Entity<IdentityUserLogin<string>>().ToTable("account_logins");
        modelBuilder.Entity<IdentityUserToken<string>>().ToTable("account_tokens");
    }
}
