using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace MirpsExchange.Node.Store;

/// <summary>
/// One entry of an origin's lifecycle log (Mirps.Observation.V1.LifecycleEntry): written by the origin's node when
/// its State approves or unapproves, and by replicas once they verified it (Approval/LifecycleLog). The Secretariat's
/// decisions are the entries of origin "secretariat" (<see cref="Mirps.Auth.MirpsAuth.Secretariat"/>), each naming the
/// State decided in <see cref="Country"/>.
/// </summary>
public sealed class LifecycleEntryRow
{
    public required string Origin { get; set; }
    public long EntrySequence { get; set; }
    public byte[]? PreviousHash { get; set; }
    /// <summary>The State an entry of the Secretariat's decision log decides on; empty in a State's own lifecycle log.</summary>
    public string Country { get; set; } = "";
    public required string GroupId { get; set; }
    public required string Period { get; set; }
    public Mirps.Observation.V1.LifecycleAction Action { get; set; }
    public long LogSequence { get; set; }
    public byte[]? LogHash { get; set; }
    /// <summary>The reason's text, when this node may hold it (the State concerned, the Secretariat); empty otherwise.</summary>
    public required string Reason { get; set; }
    /// <summary>The salted hash of the reason the entry is signed over (null: signed before reasons were committed, or no reason).</summary>
    public byte[]? ReasonHash { get; set; }
    /// <summary>The reason's salt, held with its text only.</summary>
    public byte[]? ReasonSalt { get; set; }
    public required string Actor { get; set; }
    /// <summary>When the origin recorded it (microseconds since the Unix epoch).</summary>
    public long RecordedTime { get; set; }
    public required string KeyId { get; set; }
    public required byte[] Signature { get; set; }
    /// <summary>SHA-256 over the entry's canonical encoding: the next entry's previous hash.</summary>
    public required byte[] EntryHash { get; set; }
    /// <summary>When this node recorded (the origin) or received (a replica) it.</summary>
    public long ReceivedTime { get; set; }
}

/// <summary>
/// A decision the Secretariat recorded before its decisions were a signed log (unsigned, in its own store): signed into
/// its decision log, in the order recorded, once it holds that log as the federation does (<see cref="Approval.LifecycleLog.SignEarlierDecisionsAsync"/>),
/// then removed. Nothing writes here any more.
/// </summary>
public sealed class AcceptanceRow
{
    public long Id { get; set; }
    public required string Country { get; set; }
    public required string GroupId { get; set; }
    public required string Period { get; set; }
    /// <summary>The State's approval entry decided on; a later entry of the cell supersedes the decision.</summary>
    public long EntrySequence { get; set; }
    public bool Accepted { get; set; }
    public required string Reason { get; set; }
    public required string Actor { get; set; }
    public long RecordedTime { get; set; }
}

internal sealed class LifecycleEntryConfiguration : IEntityTypeConfiguration<LifecycleEntryRow>
{
    public const string Table = "lifecycle_entries";

    public void Configure(EntityTypeBuilder<LifecycleEntryRow> builder)
    {
        builder.ToTable(Table);
        builder.HasKey(e => new { e.Origin, e.EntrySequence });
        builder.Property(e => e.EntrySequence).ValueGeneratedNever();
        builder.Property(e => e.Origin).HasMaxLength(16); // a State's ISO3, or "secretariat"
        builder.Property(e => e.Country).HasMaxLength(3);
        builder.Property(e => e.GroupId).HasMaxLength(64);
        builder.Property(e => e.Period).HasMaxLength(7);
        builder.Property(e => e.Action).HasConversion<int>();
        builder.Property(e => e.Reason).HasMaxLength(1000);
        builder.Property(e => e.Actor).HasMaxLength(200);
        builder.Property(e => e.KeyId).HasMaxLength(64);
        builder.HasIndex(e => new { e.Origin, e.GroupId, e.Period, e.EntrySequence });
    }
}

internal sealed class AcceptanceConfiguration : IEntityTypeConfiguration<AcceptanceRow>
{
    public void Configure(EntityTypeBuilder<AcceptanceRow> builder)
    {
        builder.ToTable("acceptances");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Country).HasMaxLength(3);
        builder.Property(a => a.GroupId).HasMaxLength(64);
        builder.Property(a => a.Period).HasMaxLength(7);
        builder.Property(a => a.Reason).HasMaxLength(1000);
        builder.Property(a => a.Actor).HasMaxLength(200);
        builder.HasIndex(a => new { a.Country, a.GroupId, a.Period, a.Id });
    }
}
