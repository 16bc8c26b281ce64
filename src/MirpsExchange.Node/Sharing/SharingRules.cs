using Mirps.Observation.V1;

namespace MirpsExchange.Node.Sharing;

/// <summary>What a reader may receive of one change under the policy the change carries.</summary>
public enum Access
{
    Full,
    SmallCount,
    NotShared,
    Embargoed,
}

/// <summary>What a node holds of one change: the whole change, the change with its value withheld, or only a placeholder.</summary>
public enum Held
{
    Complete,
    ValueWithheld,
    Placeholder,
}

/// <summary>
/// The sharing rules, in one place for every node that serves data (the origin and every relay), for
/// queries, and for a replica checking what it receives.
/// </summary>
public static class SharingRules
{
    /// <summary>
    /// The owner receives everything; a State the policy does not name, nothing; during an embargo no
    /// one but the owner receives anything; the Secretariat receives every value; other States receive
    /// small counts withheld.
    /// </summary>
    public static Access AccessOf(Reader reader, string origin, RowPolicy policy, bool small, long nowMicros)
    {
        if (reader.Owns(origin))
        {
            return Access.Full;
        }
        if (!reader.IsSecretariat && !policy.SharesWith(reader.Country))
        {
            return Access.NotShared;
        }
        if (policy.EmbargoedAt(nowMicros))
        {
            return Access.Embargoed;
        }
        return reader.IsSecretariat || !small ? Access.Full : Access.SmallCount;
    }

    /// <summary>
    /// What a node that holds <paramref name="held"/> of a change serves to <paramref name="reader"/>:
    /// never more than the policy allows, and never more than it holds (a relay does not widen). A
    /// reader that may receive more than the node holds gets a NOT_HELD placeholder and asks again elsewhere.
    /// </summary>
    public static Withholding Serve(Reader reader, string origin, RowPolicy policy, Held held, bool small, long nowMicros) =>
        AccessOf(reader, origin, policy, small || held == Held.ValueWithheld, nowMicros) switch
        {
            Access.NotShared => Withholding.NotShared,
            Access.Embargoed => Withholding.Embargoed,
            Access.SmallCount => held == Held.Placeholder ? Withholding.NotHeld : Withholding.SmallCount,
            _ => held == Held.Complete ? Withholding.Unspecified : Withholding.NotHeld,
        };

    /// <summary>
    /// Whether <paramref name="reader"/> may hold what a change carries: a complete change, or one with
    /// its value withheld (a small count, or a complementary withholding: less than the value, never more). Placeholders carry nothing and are always allowed.
    /// </summary>
    public static bool MayHold(Reader reader, StoredObservation change, long nowMicros)
    {
        if (change.Withholding != Withholding.Unspecified && !change.Withholding.IsValueWithheld())
        {
            return true;
        }
        var policy = RowPolicy.FromMessage(change.Policy);
        var small = !change.Deleted && policy.IsSmall(change.Observation?.Value);
        return AccessOf(reader, change.Origin, policy, small, nowMicros) switch
        {
            Access.Full => true,
            Access.SmallCount => change.Withholding.IsValueWithheld(),
            _ => false,
        };
    }
}
