namespace MirpsExchange.Node.Sharing;

/// <summary>
/// Configuration section "Node:Sharing": the origin's sharing policy. A rule per indicator
/// (Node:Sharing:Indicators:REFUGEES:Readers = all), each field falling back to Node:Sharing:Default,
/// which falls back to sharing nothing beyond the Secretariat. A policy applies to the changes written
/// after it is configured: each change carries the policy it was written under.
/// </summary>
public sealed class SharingOptions
{
    public SharingRule Default { get; set; } = new();

    /// <summary>Rules by indicator code; fields left out come from <see cref="Default"/>.</summary>
    public Dictionary<string, SharingRule> Indicators { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The complementary-suppression method this State declares for its figures, signed in each commit's head (protos/README.md,
    /// "Disclosure control", "Method versions"); by default method 3. Raise it only once every node that replicates this State
    /// implements the new method: a node that does not stops pulling this State with FAILED_PRECONDITION naming it. Once a head
    /// names a method, later heads never name a lower one (a lower setting is ignored).
    /// </summary>
    public int? SuppressionMethod { get; set; }

    /// <summary>
    /// The methods this node implements, a subset of those its software implements (all of them by default): for a node that
    /// must not take on a method yet, and for tests of a federation on mixed software versions.
    /// </summary>
    public List<int>? SuppressionMethods { get; set; }
}

public sealed class SharingRule
{
    /// <summary>
    /// Who reads beyond the owner and the Secretariat: "secretariat" (nobody else; the default), "all"
    /// (every MIRPS State) or a comma-separated list of ISO3 codes ("CRI,PAN").
    /// </summary>
    public string? Readers { get; set; }

    /// <summary>Embargo: until this time (ISO 8601 with offset) only the owner receives the values.</summary>
    public DateTimeOffset? ReleaseTime { get; set; }

    /// <summary>Values 1..threshold-1 are withheld from readers other than the owner and the Secretariat; 0 turns it off.</summary>
    public int? SmallCountThreshold { get; set; }

    /// <summary>
    /// Hold drafts back until approval: a change of the indicator is served to nobody but the owner (other States and the
    /// Secretariat alike) until the State approves its group and period as of that change (ApprovalService). The hold is signed
    /// with each change (SharingPolicy.draft_sharing), so every node that serves the change applies it; a held draft is served
    /// as a NOT_HELD placeholder, asked for again.
    /// </summary>
    public bool? HoldDrafts { get; set; }

    /// <summary>
    /// With <see cref="HoldDrafts"/>: the Secretariat receives the drafts, at this node (StreamObservations, GetObservationHistory,
    /// GetApprovalStatus) and in the change feed, so its node holds them as drafts, while other States still receive nothing of
    /// them, from this node or from any relay: the hold is signed (DRAFT_SHARING_SECRETARIAT), and the Secretariat's node serves
    /// a held draft to States as NOT_HELD until it holds the approval.
    /// </summary>
    public bool? ShowDraftsToSecretariat { get; set; }
}
