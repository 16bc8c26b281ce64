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
    /// <summary>Catalogue 2.0's dimensions (Mirps.Log.AddedDimensions): empty when undeclared, the code (its default when sent empty) when declared.</summary>
    public string ApplicationType { get; set; } = "";
    public string DecisionLevel { get; set; } = "";
    public string ProcedureType { get; set; } = "";
    public string CountBasis { get; set; } = "";
    public string CountryOfDestination { get; set; } = "";

    /// <summary>First and last day of <see cref="Period"/>, for range queries across granularities.</summary>
    public DateOnly PeriodStart { get; set; }
    public DateOnly PeriodEnd { get; set; }

    public long Revision { get; set; }
    /// <summary>Null on a deletion.</summary>
    public double? Value { get; set; }
    public ObservationStatus Status { get; set; }
    public required string Note { get; set; }
    /// <summary>Catalogue 2.0's attributes of the value (Mirps.Log.ValueAttributes).</summary>
    public bool LowerBound { get; set; }
    public ConfidentialityStatus Confidentiality { get; set; }
    public bool Synthetic { get; set; }
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
    /// <summary>The policy's signed draft hold (SharingPolicy.draft_sharing): who receives the change before the origin approves it.</summary>
    public DraftSharing DraftSharing { get; set; }
    /// <summary>
    /// This node received the change with its value withheld (a small count it may not read): the
    /// value is null and the status CONFIDENTIAL, and it never serves more than that. A value withheld from it as
    /// complementary (Sharing/ComplementarySuppression) is held alike with the status UNSPECIFIED instead: the status keeps
    /// why, so this node relays the same pattern and checks the next complements against the rule.
    /// </summary>
    public bool ValueWithheld { get; set; }

    /// <summary>The 16 random bytes the origin drew for this change, covered by its hash (null when the value was withheld from this node).</summary>
    public byte[]? Salt { get; set; }
    /// <summary>With <see cref="ValueWithheld"/>: the digest of the withheld value part, as received.</summary>
    public byte[]? ValueDigest { get; set; }
    /// <summary>The change's link in its origin's hash chain (see Mirps.Log.ChangeHash); null only for history not yet attested at an upgrade.</summary>
    public byte[]? ChangeHash { get; set; }
    /// <summary>
    /// When this node received the change (microseconds since the Unix epoch): at the origin its commit time,
    /// at a replica the time it applied it. "As of" answers what this node had received by then.
    /// </summary>
    public long ReceivedTime { get; set; }

    public Mirps.Log.AddedDimensions Added() => new(ApplicationType, DecisionLevel, ProcedureType, CountBasis, CountryOfDestination);

    public Mirps.Log.ValueAttributes Attributes() => new(LowerBound, Confidentiality, Synthetic);

    /// <summary>The sharing policy the origin signed this change under.</summary>
    public Sharing.RowPolicy Policy() => new(Readers, ReleaseTime, SmallCountThreshold, DraftSharing);
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
    public DraftSharing DraftSharing { get; set; }
    /// <summary>The digest of the withheld content, as received, so the chain verifies and this node can relay the placeholder.</summary>
    public byte[]? ContentDigest { get; set; }
    /// <summary>The change's link in its origin's hash chain.</summary>
    public byte[]? ChangeHash { get; set; }
    /// <summary>When this node received the placeholder.</summary>
    public long ReceivedTime { get; set; }

    public Sharing.RowPolicy Policy() => new(Readers, ReleaseTime, SmallCountThreshold, DraftSharing);
}

/// <summary>
/// An origin's signed head (mirps.observation.v1.LogHead) as held here: the origin's own at each commit, a
/// replica's as received with the changes it covers, so it can relay them and name them as provenance.
/// </summary>
public sealed class LogHeadRow
{
    public required string Origin { get; set; }
    public long Sequence { get; set; }
    public Mirps.Observation.V1.LogHeadKind Kind { get; set; }
    public required byte[] Hash { get; set; }
    public required string KeyId { get; set; }
    public required byte[] Signature { get; set; }
    /// <summary>When the origin signed it (microseconds since the Unix epoch).</summary>
    public long SignedTime { get; set; }
    /// <summary>A key rotation's new key (SubjectPublicKeyInfo DER).</summary>
    public byte[]? NextPublicKey { get; set; }
    /// <summary>The complementary-suppression method the head declares (its wire 0 stored as 3: Mirps.Log.SuppressionMethod).</summary>
    public int SuppressionMethod { get; set; } = (int)Mirps.Log.SuppressionMethod.Default;
    /// <summary>When this node received (or, at the origin, signed) it.</summary>
    public long ReceivedTime { get; set; }
}
