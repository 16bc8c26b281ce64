using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace MirpsExchange.Node.Store;

/// <summary>A receiver subscribed to event types at this node (Notifications/, protos/README.md "Webhooks").</summary>
public sealed class WebhookSubscriptionRow
{
    public required string Id { get; set; }
    /// <summary>The State (ISO3) whose node this is, or empty: the Secretariat's.</summary>
    public required string Owner { get; set; }
    public required string Url { get; set; }
    /// <summary>The subscribed Mirps.Notification.V1.EventType values, comma-separated numbers.</summary>
    public required string EventTypes { get; set; }
    public required string Description { get; set; }
    public required string CreatedBy { get; set; }
    public long CreatedTime { get; set; }
    public int ConsecutiveFailures { get; set; }
    public long? LastSuccessTime { get; set; }
    public long? LastFailureTime { get; set; }
    public string LastError { get; set; } = "";
}

/// <summary>An event derived from the store (Notifications/WebhookEvents): its body is what every delivery of it sends.</summary>
public sealed class WebhookEventRow
{
    public long Id { get; set; }
    /// <summary>The event's id: derived from what caused it, so deriving it again finds it (unique).</summary>
    public required string EventKey { get; set; }
    public int Type { get; set; }
    public required string Country { get; set; }
    /// <summary>The exact JSON body sent (a WebhookEvent in protobuf JSON).</summary>
    public required string Body { get; set; }
    public long OccurTime { get; set; }
}

/// <summary>The outbox: one event for one subscription, delivered in Id order per subscription.</summary>
public sealed class WebhookDeliveryRow
{
    public long Id { get; set; }
    public required string SubscriptionId { get; set; }
    public long EventId { get; set; }
    public bool Delivered { get; set; }
    public int Attempts { get; set; }
    public long NextAttemptTime { get; set; }
    public long? DeliveredTime { get; set; }
}

/// <summary>The delivery log: one attempt to deliver an outbox row.</summary>
public sealed class WebhookAttemptRow
{
    public long Id { get; set; }
    public long DeliveryId { get; set; }
    public long AttemptTime { get; set; }
    public int StatusCode { get; set; }
    public required string Error { get; set; }
    public int DurationMs { get; set; }
}

/// <summary>How far an event source has read the store (a lifecycle log's entry sequence, an origin's change sequence, a time).</summary>
public sealed class WebhookCursorRow
{
    public required string Source { get; set; }
    public long Position { get; set; }
}

internal sealed class WebhookConfiguration :
    IEntityTypeConfiguration<WebhookSubscriptionRow>, IEntityTypeConfiguration<WebhookEventRow>, IEntityTypeConfiguration<WebhookDeliveryRow>,
    IEntityTypeConfiguration<WebhookAttemptRow>, IEntityTypeConfiguration<WebhookCursorRow>
{
    public void Configure(EntityTypeBuilder<WebhookSubscriptionRow> builder)
    {
        builder.ToTable("webhook_subscriptions");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Id).HasMaxLength(40);
        builder.Property(s => s.Owner).HasMaxLength(3);
        builder.Property(s => s.Url).HasMaxLength(2000);
        builder.Property(s => s.EventTypes).HasMaxLength(100);
        builder.Property(s => s.Description).HasMaxLength(200);
        builder.Property(s => s.CreatedBy).HasMaxLength(200);
        builder.Property(s => s.LastError).HasMaxLength(500);
    }

    public void Configure(EntityTypeBuilder<WebhookEventRow> builder)
    {
        builder.ToTable("webhook_events");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.EventKey).HasMaxLength(200);
        builder.HasIndex(e => e.EventKey).IsUnique();
        builder.Property(e => e.Country).HasMaxLength(3);
    }

    public void Configure(EntityTypeBuilder<WebhookDeliveryRow> builder)
    {
        builder.ToTable("webhook_deliveries");
        builder.HasKey(d => d.Id);
        builder.Property(d => d.SubscriptionId).HasMaxLength(40);
        builder.HasIndex(d => new { d.SubscriptionId, d.EventId }).IsUnique();
        builder.HasIndex(d => new { d.SubscriptionId, d.Delivered, d.Id });
    }

    public void Configure(EntityTypeBuilder<WebhookAttemptRow> builder)
    {
        builder.ToTable("webhook_attempts");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Error).HasMaxLength(500);
        builder.HasIndex(a => new { a.DeliveryId, a.Id });
    }

    public void Configure(EntityTypeBuilder<WebhookCursorRow> builder)
    {
        builder.ToTable("webhook_cursors");
        builder.HasKey(c => c.Source);
        builder.Property(c => c.Source).HasMaxLength(64);
    }
}
