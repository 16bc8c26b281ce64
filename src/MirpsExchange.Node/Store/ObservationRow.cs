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
}
