using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace MirpsExchange.Node.Store;

/// <summary>
/// The node's store. On PostgreSQL the context is <see cref="PostgresNodeDbContext"/>, the same model with a migrations
/// history of its own (Store/PostgresMigrations); SQLite's is Store/Migrations.
/// </summary>
public class NodeDbContext : DbContext
{
    public NodeDbContext(DbContextOptions<NodeDbContext> options) : base(options)
    {
    }

    /// <summary>For <see cref="PostgresNodeDbContext"/>, whose options (and so migrations) are its own.</summary>
    protected NodeDbContext(DbContextOptions options) : base(options)
    {
    }

    /// <summary>The service key of the context <see cref="SubmitWriter"/> and <see cref="Sync.ReplicaWriter"/> write with (its own connection pool).</summary>
    public const string Writer = "writer";

    public DbSet<ObservationRow> Observations => Set<ObservationRow>();
    public DbSet<RequestRecord> Requests => Set<RequestRecord>();
    public DbSet<WithheldChange> WithheldChanges => Set<WithheldChange>();
    public DbSet<LogHeadRow> LogHeads => Set<LogHeadRow>();
    public DbSet<CatalogueVersionRow> CatalogueVersions => Set<CatalogueVersionRow>();
    public DbSet<LifecycleEntryRow> LifecycleEntries => Set<LifecycleEntryRow>();
    public DbSet<AcceptanceRow> Acceptances => Set<AcceptanceRow>();
    public DbSet<WebhookSubscriptionRow> WebhookSubscriptions => Set<WebhookSubscriptionRow>();
    public DbSet<WebhookEventRow> WebhookEvents => Set<WebhookEventRow>();
    public DbSet<WebhookDeliveryRow> WebhookDeliveries => Set<WebhookDeliveryRow>();
    public DbSet<WebhookAttemptRow> WebhookAttempts => Set<WebhookAttemptRow>();
    public DbSet<WebhookCursorRow> WebhookCursors => Set<WebhookCursorRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfiguration(new ObservationRowConfiguration());
        modelBuilder.ApplyConfiguration(new RequestRecordConfiguration());
        modelBuilder.ApplyConfiguration(new WithheldChangeConfiguration());
        modelBuilder.ApplyConfiguration(new LogHeadConfiguration());
        modelBuilder.ApplyConfiguration(new CatalogueVersionConfiguration());
        modelBuilder.ApplyConfiguration(new LifecycleEntryConfiguration());
        modelBuilder.ApplyConfiguration(new AcceptanceConfiguration());
        var webhooks = new WebhookConfiguration();
        modelBuilder.ApplyConfiguration<WebhookSubscriptionRow>(webhooks);
        modelBuilder.ApplyConfiguration<WebhookEventRow>(webhooks);
        modelBuilder.ApplyConfiguration<WebhookDeliveryRow>(webhooks);
        modelBuilder.ApplyConfiguration<WebhookAttemptRow>(webhooks);
        modelBuilder.ApplyConfiguration<WebhookCursorRow>(webhooks);
        // snake_case names, the same on SQLite and PostgreSQL, so the raw SQL of the write path is portable.
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(SnakeCase(property.Name));
            }
        }
    }

    private static string SnakeCase(string name)
    {
        var text = new StringBuilder();
        foreach (var c in name)
        {
            if (char.IsUpper(c) && text.Length > 0)
            {
                text.Append('_');
            }
            text.Append(char.ToLowerInvariant(c));
        }
        return text.ToString();
    }
}

internal sealed class ObservationRowConfiguration : IEntityTypeConfiguration<ObservationRow>
{
    public const string Table = "observations";
    public const string KeyIndex = "ux_observations_key_revision";

    public void Configure(EntityTypeBuilder<ObservationRow> builder)
    {
        builder.ToTable(Table);
        builder.HasKey(o => new { o.Origin, o.OriginSequence });
        builder.Property(o => o.OriginSequence).ValueGeneratedNever();
        // Catalogue 2.0's dimensions are part of the key: cells that differ only in one are different cells.
        builder.HasIndex(o => new
            {
                o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin,
                o.ApplicationType, o.DecisionLevel, o.ProcedureType, o.CountBasis, o.CountryOfDestination, o.Revision,
            })
            .IsUnique()
            .HasDatabaseName(KeyIndex);
        // The latest received time, read at every start (ReceiveStamps): a seek at the index's end, not a scan of the log.
        builder.HasIndex(o => o.ReceivedTime);
        builder.Property(o => o.Origin).HasMaxLength(3);
        builder.Property(o => o.IndicatorCode).HasMaxLength(64);
        builder.Property(o => o.Country).HasMaxLength(3);
        builder.Property(o => o.Period).HasMaxLength(7);
        builder.Property(o => o.Sex).HasMaxLength(8);
        builder.Property(o => o.Age).HasMaxLength(8);
        builder.Property(o => o.CountryOfOrigin).HasMaxLength(8);
        builder.Property(o => o.ApplicationType).HasMaxLength(16);
        builder.Property(o => o.DecisionLevel).HasMaxLength(16);
        builder.Property(o => o.ProcedureType).HasMaxLength(16);
        builder.Property(o => o.CountBasis).HasMaxLength(16);
        builder.Property(o => o.CountryOfDestination).HasMaxLength(8);
        builder.Property(o => o.Confidentiality).HasConversion<int>();
        builder.Property(o => o.Note).HasMaxLength(1000);
        builder.Property(o => o.Status).HasConversion<int>();
        builder.Property(o => o.Readers).HasMaxLength(64);
        builder.Property(o => o.DraftSharing).HasConversion<int>();
    }
}

internal sealed class WithheldChangeConfiguration : IEntityTypeConfiguration<WithheldChange>
{
    public const string Table = "withheld_changes";

    public void Configure(EntityTypeBuilder<WithheldChange> builder)
    {
        builder.ToTable(Table);
        builder.HasKey(w => new { w.Origin, w.OriginSequence });
        builder.Property(w => w.OriginSequence).ValueGeneratedNever();
        builder.HasIndex(w => w.ReceivedTime); // as the observations' (ReceiveStamps at start)
        builder.Property(w => w.Origin).HasMaxLength(3);
        builder.Property(w => w.Readers).HasMaxLength(64);
        builder.Property(w => w.Reason).HasConversion<int>();
        builder.Property(w => w.DraftSharing).HasConversion<int>();
    }
}

internal sealed class LogHeadConfiguration : IEntityTypeConfiguration<LogHeadRow>
{
    public const string Table = "log_heads";

    public void Configure(EntityTypeBuilder<LogHeadRow> builder)
    {
        builder.ToTable(Table);
        // A key rotation is signed at the sequence of the commit head before it: two heads, two kinds.
        builder.HasKey(h => new { h.Origin, h.Sequence, h.Kind });
        builder.Property(h => h.Origin).HasMaxLength(3);
        builder.Property(h => h.Kind).HasConversion<int>();
        builder.Property(h => h.KeyId).HasMaxLength(64);
        builder.HasIndex(h => new { h.Origin, h.ReceivedTime }); // the heads a figure "as of" a time was computed from
    }
}

internal sealed class CatalogueVersionConfiguration : IEntityTypeConfiguration<CatalogueVersionRow>
{
    public void Configure(EntityTypeBuilder<CatalogueVersionRow> builder)
    {
        builder.ToTable("catalogue_versions");
        builder.HasKey(v => new { v.Holder, v.SeenTime });
        builder.Property(v => v.Holder).HasMaxLength(3);
        builder.Property(v => v.Version).HasMaxLength(32);
    }
}

internal sealed class RequestRecordConfiguration : IEntityTypeConfiguration<RequestRecord>
{
    public void Configure(EntityTypeBuilder<RequestRecord> builder)
    {
        builder.ToTable("requests");
        builder.HasKey(r => r.RequestId);
        builder.Property(r => r.RequestId).HasMaxLength(128);
        builder.Property(r => r.Operation).HasMaxLength(64);
        builder.HasIndex(r => r.RecordedTime); // expired request ids are deleted by time
    }
}
