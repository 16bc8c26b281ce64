using Mirps.Observation.V1;

namespace MirpsExchange.Node.Store;

/// <summary>
/// One revision of one observation key: the store is a temporal table. The current value of a key is
/// its row with no <see cref="SupersededTime"/>; the value as of time T is the row recorded at or
/// before T and not superseded by T. Every row is also an entry of its origin's change log,
/// identified by (<see cref="Origin"/>, <see cref="OriginSequence"/>).
/// </summary>
public sealed class ObservationRow
{
    public required string Origin { get; set; }
    public long OriginSequence { get; set; }

    public required string IndicatorCode { get; set; }
    public required string Country { get; set; }
    public required string Period { get; set; }
    /// <summary>Empty when the indicator does not declare the dimension (a unique key treats NULLs as distinct).</summary>
    public required string Sex { get; set; }
    public required string Age { get; set; }
    public required string CountryOfOrigin { get; set; }

    /// <summary>First and last day of <see cref="Period"/>, for range queries across granularities.</summary>
    public DateOnly PeriodStart { get; set; }
    public DateOnly PeriodEnd { get; set; }

    public long Revision { get; set; }
    /// <summary>Null on a deletion.</summary>
    public double? Value { get; set; }
    public ObservationStatus Status { get; set; }
    public required string Note { get; set; }
    public bool Deleted { get; set; }

    /// <summary>When the origin committed this revision, in microseconds since the Unix epoch (portable and ordered on every provider).</summary>
    public long RecordedTime { get; set; }
    /// <summary>When the next revision of the key replaced this one; null while it is current.</summary>
    public long? SupersededTime { get; set; }

    /// <summary>The sharing policy the origin wrote this change under (see <see cref="Sharing.RowPolicy"/>): who reads beyond the Secretariat.</summary>
    public string Readers { get; set; } = "";
    /// <summary>Embargo: until this time (microseconds since the Unix epoch) only the owner receives the change.</summary>
    public long? ReleaseTime { get; set; }
    public int SmallCountThreshold { get; set; }
    /// <summary>
    /// This node received the change with its value withheld (a small count it may not read): the
    /// value is null and the status CONFIDENTIAL, and it never serves more than that.
    /// </summary>
    public bool ValueWithheld { get; set; }
}

/// <summary>
/// A change of another origin's log that this node received only as a placeholder (not shared with it,
/// embargoed, or not held by the relay it came from), so its copy of the log has no gap. Embargoed and
/// not-held placeholders are asked for again; the complete change then replaces the placeholder.
/// </summary>
public sealed class WithheldChange
{
    public required string Origin { get; set; }
    public long OriginSequence { get; set; }
    public Withholding Reason { get; set; }
    public long RecordedTime { get; set; }
    public string Readers { get; set; } = "";
    public long? ReleaseTime { get; set; }
    public int SmallCountThreshold { get; set; }
}
