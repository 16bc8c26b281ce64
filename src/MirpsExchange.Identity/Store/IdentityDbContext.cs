using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace MirpsExchange.Identity.Store;

/// <summary>
/// OpenIddict's tables (applications, scopes, authorizations, tokens) plus the credential register, the
/// States' log-signing keys and the audit log; and people's accounts (ASP.NET Core Identity's user tables,
/// renamed accounts, account_claims, account_logins, account_tokens).
/// </summary>
public sealed class IdentityDbContext(DbContextOptions<IdentityDbContext> options)
    : Microsoft.AspNetCore.Identity.EntityFrameworkCore.IdentityUserContext<Accounts.AccountUser>(options)
{
    public DbSet<CredentialRecord> Credentials => Set<CredentialRecord>();
    public DbSet<AuditRecord> AuditEvents => Set<AuditRecord>();
    public DbSet<ClientAssertionRecord> ClientAssertions => Set<ClientAssertionRecord>();
    public DbSet<LogKeyRecord> LogKeys => Set<LogKeyRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.ApplyConfiguration(new CredentialRecordConfiguration());
        Accounts.AccountUser.Configure(modelBuilder);
        modelBuilder.Entity<AuditRecord>(audit =>
        {
            audit.ToTable("audit_events");
            audit.HasKey(a => a.Id);
            audit.Property(a => a.Actor).HasMaxLength(100);
            audit.Property(a => a.Action).HasMaxLength(50);
            audit.Property(a => a.ClientId).HasMaxLength(100);
            audit.Property(a => a.Detail).HasMaxLength(2000);
        });
        modelBuilder.Entity<ClientAssertionRecord>(assertion =>
        {
            assertion.ToTable("client_assertions");
            assertion.HasKey(a => new { a.ClientId, a.TokenId });
            assertion.Property(a => a.ClientId).HasMaxLength(100);
            assertion.Property(a => a.TokenId).HasMaxLength(200);
            assertion.HasIndex(a => a.ExpireTime);
        });
        modelBuilder.Entity<LogKeyRecord>(key =>
        {
            key.ToTable("log_keys");
            // The key id is a hash of the key: one key, one row, whichever State registered it first.
            key.HasKey(k => k.KeyId);
            key.Property(k => k.KeyId).HasMaxLength(Mirps.Auth.LogKeys.KeyIdLength);
            key.Property(k => k.Country).HasMaxLength(3);
            key.Property(k => k.PublicKey).HasMaxLength(200);
            key.Property(k => k.RegisterTime).HasConversion(v => v.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
            key.Property(k => k.RetireTime).HasConversion(v => v!.Value.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
        });
    }
}

/// <summary>One issued credential: who it belongs to and its life, beside OpenIddict's application entry.</summary>
public sealed class CredentialRecord
{
    public required string ClientId { get; set; }
    /// <summary>ISO3 of the State; empty for the Secretariat and admins.</summary>
    public required string Country { get; set; }
    /// <summary>"state", "secretariat" or "admin".</summary>
    public required string Role { get; set; }
    /// <summary>"client_secret" or "private_key_jwt".</summary>
    public required string Method { get; set; }
    public required string Description { get; set; }
    public DateTimeOffset CreateTime { get; set; }
    public DateTimeOffset? RevokeTime { get; set; }
    public DateTimeOffset? SecretRotateTime { get; set; }
    public string? PublicKeyId { get; set; }
    /// <summary>The hash of the previous secret while its grace period lasts.</summary>
    public string? PreviousSecretHash { get; set; }
    public DateTimeOffset? PreviousSecretExpireTime { get; set; }
    /// <summary>
    /// Set when the credential is revoked or its secret rotated at once: its tokens issued (iat) before
    /// this whole second are refused at every node (the revocation list carries it).
    /// </summary>
    public DateTimeOffset? TokenCutoffTime { get; set; }
    /// <summary>Its tokens may carry the approve scope: a State's approver, or the Secretariat's acceptor (the reporting cycle).</summary>
    public bool Approve { get; set; }
}

internal sealed class CredentialRecordConfiguration : IEntityTypeConfiguration<CredentialRecord>
{
    public void Configure(EntityTypeBuilder<CredentialRecord> builder)
    {
        builder.ToTable("credentials");
        builder.HasKey(c => c.ClientId);
        builder.Property(c => c.ClientId).HasMaxLength(100);
        builder.Property(c => c.Country).HasMaxLength(3);
        builder.Property(c => c.Role).HasMaxLength(20);
        builder.Property(c => c.Method).HasMaxLength(20);
        builder.Property(c => c.Description).HasMaxLength(500);
        builder.Property(c => c.PublicKeyId).HasMaxLength(200);
        // SQLite cannot order DateTimeOffset; store UTC ticks so time comparisons run in SQL.
        builder.Property(c => c.CreateTime).HasConversion(v => v.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
        builder.Property(c => c.RevokeTime).HasConversion(v => v!.Value.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
        builder.Property(c => c.SecretRotateTime).HasConversion(v => v!.Value.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
        builder.Property(c => c.PreviousSecretExpireTime).HasConversion(v => v!.Value.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
        builder.Property(c => c.TokenCutoffTime).HasConversion(v => v!.Value.UtcTicks, v => new DateTimeOffset(v, TimeSpan.Zero));
        builder.HasIndex(c => c.TokenCutoffTime);
    }
}

/// <summary>One administrative action: who did what to which credential, when.</summary>
public sealed class AuditRecord
{
    public long Id { get; set; }
    public long Time { get; set; }
    public required string Actor { get; set; }
    public required string Action { get; set; }
    public required string ClientId { get; set; }
    public required string Detail { get; set; }
}

/// <summary>A State's log-signing public key (ECDSA P-256), published in the revocation list.</summary>
public sealed class LogKeyRecord
{
    /// <summary>base64url of SHA-256 over <see cref="PublicKey"/> (Mirps.Auth.LogKeys.KeyId).</summary>
    public required string KeyId { get; set; }
    /// <summary>ISO3 of the State whose change log it signs.</summary>
    public required string Country { get; set; }
    /// <summary>SubjectPublicKeyInfo DER bytes.</summary>
    public required byte[] PublicKey { get; set; }
    /// <summary>Whole seconds, as published.</summary>
    public DateTimeOffset RegisterTime { get; set; }
    /// <summary>Whole seconds, as published; null while it signs.</summary>
    public DateTimeOffset? RetireTime { get; set; }
}

/// <summary>A private_key_jwt assertion already used (client id, jti), kept while it could still be accepted: replays are refused.</summary>
public sealed class ClientAssertionRecord
{
    public required string ClientId { get; set; }
    public required string TokenId { get; set; }
    /// <summary>UTC ticks after which the record may go: the assertion's exp plus the clock skew the server allows.</summary>
    public long ExpireTime { get; set; }
}

internal sealed class DesignTimeFactory : Microsoft.EntityFrameworkCore.Design.IDesignTimeDbContextFactory<IdentityDbContext>
{
    public IdentityDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<IdentityDbContext>().UseSqlite("Data Source=design-time.db").UseOpenIddict().Options);
}
